# Reference values for iopstats.stats.rmst (restricted mean survival time) and the robust
# (infinitesimal jackknife) variance of iopstats.kaplan_meier(cluster=, non-integer weights).
#
# Run from this folder (after make_inputs.py):  Rscript rmst_reference.R
# Produced with R 4.2, survival 3.5.3. survRM2 is not installed: rmst1() below is copied
# verbatim from survRM2 1.0-4 (R/rmst1.R) and the contrasts follow survRM2::rmst2 (R/rmst2.R):
#   difference se = sqrt(var1 + var0); log ratio se = sqrt(var1/rmst1^2 + var0/rmst0^2).
# Each RMST is also checked against survival's summary(survfit, rmean=tau)$table.
# Weighted / clustered RMST: the standard error is sqrt(sum_c (dRMST_c)^2) with
# dRMST_c = sum_k Delta_k * influence.surv[c, k] from survfit(..., influence=TRUE), the same
# infinitesimal jackknife survfit uses for std.err (print.survfit's se(rmean) ignores it).
suppressPackageStartupMessages(library(survival))
options(digits = 15)

rmst1 <- function(time, status, tau, alpha = 0.05) {
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk.time <- sort(c(ft$time[idx], tau))
  wk.surv <- ft$surv[idx]
  wk.n.risk <- ft$n.risk[idx]
  wk.n.event <- ft$n.event[idx]
  time.diff <- diff(c(0, wk.time))
  areas <- time.diff * c(1, wk.surv)
  rmst <- sum(areas)
  wk.var <- ifelse((wk.n.risk - wk.n.event) == 0, 0, wk.n.event / (wk.n.risk * (wk.n.risk - wk.n.event)))
  wk.var <- c(wk.var, 0)
  rmst.var <- sum(cumsum(rev(areas[-1]))^2 * rev(wk.var)[-1])
  list(rmst = rmst, var = rmst.var)
}

addicts <- read.csv("addicts_w.csv")
ctn <- read.csv("../survival/ctn0094_outcomes.csv")
tied <- read.csv("tied.csv")
adj <- read.csv("../adjust/adjust_data.csv")

sets <- list(
  addicts = list(d = addicts, t = "survt", e = "status", g = "clinic", taus = c(365, 730)),
  ctn = list(d = ctn, t = "ctn0094_dropout_time", e = "ctn0094_dropout_event", g = "arm", taus = c(12, 20)),
  tied = list(d = tied, t = "time", e = "event", g = "group", taus = c(30, 60))
)

z <- qnorm(0.975)
one <- list(); con <- list()
for (nm in names(sets)) {
  s <- sets[[nm]]; d <- s$d
  lev <- sort(unique(as.character(d[[s$g]])))
  for (tau in s$taus) {
    fit <- survfit(Surv(d[[s$t]], d[[s$e]]) ~ d[[s$g]])
    tab <- summary(fit, rmean = tau)$table
    r <- lapply(lev, function(l) { k <- d[[s$g]] == l; rmst1(d[[s$t]][k], d[[s$e]][k], tau) })
    names(r) <- lev
    for (i in seq_along(lev)) {
      stopifnot(isTRUE(all.equal(unname(tab[i, "rmean"]), r[[i]]$rmst, tolerance = 1e-12)))
      stopifnot(isTRUE(all.equal(unname(tab[i, "se(rmean)"]), sqrt(r[[i]]$var), tolerance = 1e-12)))
      one[[length(one) + 1]] <- data.frame(data = nm, tau = tau, group = lev[i], rmst = r[[i]]$rmst,
                                           se = sqrt(r[[i]]$var))
    }
    r0 <- r[[1]]
    for (l in lev[-1]) {
      r1 <- r[[l]]
      dif <- r1$rmst - r0$rmst; dse <- sqrt(r1$var + r0$var)
      lr <- log(r1$rmst) - log(r0$rmst); lse <- sqrt(r1$var / r1$rmst^2 + r0$var / r0$rmst^2)
      con[[length(con) + 1]] <- data.frame(
        data = nm, tau = tau, group = l, reference = lev[1], difference = dif, se = dse,
        ci_low = dif - z * dse, ci_high = dif + z * dse, p_value = 2 * pnorm(-abs(dif) / dse),
        ratio = exp(lr), ratio_ci_low = exp(lr - z * lse), ratio_ci_high = exp(lr + z * lse),
        ratio_p_value = 2 * pnorm(-abs(lr) / lse))
    }
  }
}
write.csv(do.call(rbind, one), "rmst_groups.csv", row.names = FALSE)
write.csv(do.call(rbind, con), "rmst_contrasts.csv", row.names = FALSE)

# ---- robust (infinitesimal jackknife) fits -------------------------------------------
robust <- list(
  addicts_w = list(d = addicts, t = "survt", e = "status", g = "clinic", w = "w", id = NULL, taus = c(365, 730)),
  addicts_cl = list(d = addicts, t = "survt", e = "status", g = "clinic", w = NULL, id = "cl", taus = c(365, 730)),
  addicts_w_cl = list(d = addicts, t = "survt", e = "status", g = "clinic", w = "w", id = "cl", taus = c(365)),
  tied_w = list(d = tied, t = "time", e = "event", g = "group", w = "w", id = NULL, taus = c(30, 60)),
  tied_cl = list(d = tied, t = "time", e = "event", g = "group", w = NULL, id = "client", taus = c(30, 60)),
  tied_w_cl = list(d = tied, t = "time", e = "event", g = "group", w = "w", id = "client", taus = c(30)),
  adjust_iptw = list(d = adj, t = "days", e = "left", g = "level_of_care", w = "iptw", id = NULL, taus = c(60, 120))
)
km <- list(); rm <- list(); rc <- list()
for (nm in names(robust)) {
  s <- robust[[nm]]; d <- s$d
  d$.t <- d[[s$t]]; d$.e <- d[[s$e]]; d$.g <- as.character(d[[s$g]])
  d$.w <- if (is.null(s$w)) 1 else d[[s$w]]
  d$.id <- if (is.null(s$id)) seq_len(nrow(d)) else d[[s$id]]
  fit <- survfit(Surv(.t, .e) ~ .g, data = d, weights = .w, id = .id, robust = TRUE, influence = TRUE)
  lev <- sub("^[^=]*=", "", names(fit$strata))
  st <- rep(lev, fit$strata)
  km[[nm]] <- data.frame(data = nm, group = st, time = fit$time, survival = fit$surv, std_err = fit$std.err,
                         ci_low = fit$lower, ci_high = fit$upper)
  for (tau in s$taus) {
    infl <- list()
    for (i in seq_along(lev)) {
      k <- st == lev[i]
      tt <- fit$time[k]; S <- fit$surv[k]
      keep <- tt <= tau
      delta <- diff(c(tt[keep], tau))
      rmst <- tt[keep][1] + sum(delta * S[keep])
      I <- fit$influence.surv[[i]][, keep, drop = FALSE] %*% delta
      infl[[lev[i]]] <- setNames(I[, 1], rownames(fit$influence.surv[[i]]))
      rm[[length(rm) + 1]] <- data.frame(data = nm, tau = tau, group = lev[i], rmst = rmst, se = sqrt(sum(I^2)))
    }
    for (l in lev[-1]) {
      ids <- union(names(infl[[l]]), names(infl[[lev[1]]]))
      a <- infl[[l]][ids]; b <- infl[[lev[1]]][ids]
      a[is.na(a)] <- 0; b[is.na(b)] <- 0
      r1 <- rm[[length(rm) - length(lev) + match(l, lev)]]$rmst
      r0 <- rm[[length(rm) - length(lev) + 1]]$rmst
      rc[[length(rc) + 1]] <- data.frame(data = nm, tau = tau, group = l, reference = lev[1],
                                         difference = r1 - r0, se = sqrt(sum((a - b)^2)),
                                         ratio = r1 / r0, log_ratio_se = sqrt(sum((a / r1 - b / r0)^2)))
    }
  }
}
write.csv(do.call(rbind, km), "km_robust.csv", row.names = FALSE)
write.csv(do.call(rbind, rm), "rmst_robust_groups.csv", row.names = FALSE)
write.csv(do.call(rbind, rc), "rmst_robust_contrasts.csv", row.names = FALSE)
