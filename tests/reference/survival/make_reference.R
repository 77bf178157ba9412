# Reference values for iopstats.stats.{kaplan_meier, logrank, cuminc}.
#
# Run from this folder:  Rscript make_reference.R
# Produced with R 4.x, survival 3.5.3, cmprsk 2.2.11. Inputs (copied here so tests
# need neither R nor ../shared):
#   addicts.csv            Caplehorn & Bell methadone clinics (survt, status, clinic, prison)
#   ctn0094_outcomes.csv   CTN-0094 CTNote endpoints (weeks) by arm / project
#   competing_risks.csv    synthetic, seeded (numpy default_rng(20240607)), whole days 1..60,
#                          cause 0 (censored) / 1 / 2 / 3, group a/b/c, stratum s1/s2
#   median_half.csv        hand-made curves that sit exactly at S = 0.5 over an interval
suppressPackageStartupMessages({library(survival); library(cmprsk)})
options(digits = 15)

addicts <- read.csv("addicts.csv")
ctn <- read.csv("ctn0094_outcomes.csv")
cr <- read.csv("competing_risks.csv")
half <- read.csv("median_half.csv")

fits <- list(
  addicts_clinic = function(ct) survfit(Surv(survt, status) ~ clinic, data = addicts, conf.type = ct),
  addicts_pooled = function(ct) survfit(Surv(survt, status) ~ 1, data = addicts, conf.type = ct),
  ctn_arm_dropout = function(ct) survfit(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm, data = ctn, conf.type = ct),
  ctn_project_dropout = function(ct) survfit(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ project, data = ctn, conf.type = ct),
  ctn_relapse_pooled = function(ct) survfit(Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ 1, data = ctn, conf.type = ct),
  median_half = function(ct) survfit(Surv(time, event) ~ case, data = half, conf.type = ct)
)

grp_of <- function(fit) {
  if (is.null(fit$strata)) return(rep("all", length(fit$time)))
  g <- rep(names(fit$strata), fit$strata)
  sub("^[^=]*=", "", g)
}

km_tab <- list(); km_sum <- list(); km_at <- list()
for (nm in names(fits)) {
  for (ct in c("log", "log-log", "plain")) {
    fit <- fits[[nm]](ct)
    s <- summary(fit, censored = TRUE)
    km_tab[[length(km_tab) + 1]] <- data.frame(
      name = nm, conf_type = ct, group = grp_of(fit), time = s$time,
      n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
      surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
    for (rm in c("common", "tau")) {
      tab <- if (rm == "common") summary(fit, rmean = "common")$table
             else summary(fit, rmean = 100)$table   # rmean=100 mirrors tau=100
      if (is.null(dim(tab))) tab <- t(as.matrix(tab))
      gr <- if (is.null(fit$strata)) "all" else sub("^[^=]*=", "", rownames(tab))
      km_sum[[length(km_sum) + 1]] <- data.frame(
        name = nm, conf_type = ct, rmean_type = rm, group = gr,
        n = tab[, "records"], events = tab[, "events"], rmean = tab[, "rmean"],
        rmean_se = tab[, "se(rmean)"], median = tab[, "median"],
        median_ci_low = tab[, grep("LCL", colnames(tab))],
        median_ci_high = tab[, grep("UCL", colnames(tab))])
    }
    at <- c(0.5, 1, 7, 30, 90, 180, 365, 500)
    s2 <- summary(fit, times = at)
    g2 <- if (is.null(fit$strata)) rep("all", length(s2$time)) else sub("^[^=]*=", "", as.character(s2$strata))
    km_at[[length(km_at) + 1]] <- data.frame(
      name = nm, conf_type = ct, group = g2, time = s2$time, surv = s2$surv,
      std_err = s2$std.err, lower = s2$lower, upper = s2$upper)
  }
}
write.csv(do.call(rbind, km_tab), "km_table.csv", row.names = FALSE)
write.csv(do.call(rbind, km_sum), "km_summary.csv", row.names = FALSE)
write.csv(do.call(rbind, km_at), "km_at.csv", row.names = FALSE)

# R's own case weights on a collapsed table (frequency weights)
agg <- aggregate(list(n = rep(1, nrow(addicts))), by = addicts[c("clinic", "survt", "status")], FUN = sum)
fitw <- survfit(Surv(survt, status) ~ clinic, data = agg, weights = n)
sw <- summary(fitw, censored = TRUE)
write.csv(data.frame(group = grp_of(fitw), time = sw$time, n_risk = sw$n.risk, n_event = sw$n.event,
                     surv = sw$surv, std_err = sw$std.err, lower = sw$lower, upper = sw$upper),
          "km_weighted_addicts.csv", row.names = FALSE)

# ---- log-rank (survdiff, rho = 0) ----
lr_one <- function(nm, f, data) {
  sd <- survdiff(f, data = data)
  o <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  e <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  df <- sum(e > 0) - 1
  list(summary = data.frame(name = nm, statistic = sd$chisq, df = df,
                            p_value = pchisq(sd$chisq, df, lower.tail = FALSE)),
       table = data.frame(name = nm, group = sub("^[^=]*=", "", names(sd$n)), n = as.numeric(sd$n),
                          observed = o, expected = e, oe2_e = (o - e)^2 / e,
                          oe2_v = (o - e)^2 / diag(sd$var)))
}
lr <- list(
  lr_one("addicts_clinic", Surv(survt, status) ~ clinic, addicts),
  lr_one("addicts_clinic_strata_prison", Surv(survt, status) ~ clinic + strata(prison), addicts),
  lr_one("ctn_arm_dropout", Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm, ctn),
  lr_one("cr_group_anycause_strata", Surv(time, cause > 0) ~ group + strata(stratum), cr),
  lr_one("ctn_project_relapse", Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ project, ctn),
  lr_one("cr_group_anycause", Surv(time, cause > 0) ~ group, cr)
)
write.csv(do.call(rbind, lapply(lr, `[[`, "summary")), "logrank_summary.csv", row.names = FALSE)
write.csv(do.call(rbind, lapply(lr, `[[`, "table")), "logrank_table.csv", row.names = FALSE)

# pairwise: survdiff on each pair of arms, Holm-adjusted with p.adjust
arms <- sort(unique(ctn$arm)); pw <- list()
for (i in 1:(length(arms) - 1)) for (j in (i + 1):length(arms)) {
  sub <- ctn[ctn$arm %in% c(arms[i], arms[j]), ]
  sd <- survdiff(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm, data = sub)
  pw[[length(pw) + 1]] <- data.frame(group1 = arms[i], group2 = arms[j], statistic = sd$chisq,
                                     p_value = pchisq(sd$chisq, 1, lower.tail = FALSE))
}
pw <- do.call(rbind, pw)
pw$p_holm <- p.adjust(pw$p_value, "holm"); pw$p_bh <- p.adjust(pw$p_value, "BH")
write.csv(pw, "logrank_pairwise_ctn_arm.csv", row.names = FALSE)

# ---- cumulative incidence (cmprsk::cuminc) + Gray's test ----
# The table is the cuminc step function evaluated with timepoints() at every distinct
# observed time of each group. CI: log(-log) transform of cuminc's est/var:
#   F^exp(+/- z * sqrt(var) / (F * log F))   (z = qnorm(0.975))
ci_rows <- function(fit, data, label) {
  out <- list()
  z <- qnorm(0.975)
  curves <- names(fit)[names(fit) != "Tests"]
  for (cv in curves) {
    parts <- strsplit(cv, " ")[[1]]
    g <- parts[1]; k <- parts[2]
    tt <- sort(unique(data$time[as.character(data$group) == g]))
    tp <- timepoints(fit[cv], tt)
    est <- as.numeric(tp$est); v <- as.numeric(tp$var)
    se_g <- sqrt(v) / (est * log(est))
    out[[length(out) + 1]] <- data.frame(name = label, group = g, cause = k, time = tt, estimate = est,
                                         variance = v, ci_low = est^exp(-z * se_g), ci_high = est^exp(z * se_g))
  }
  do.call(rbind, out)
}
fit_cr <- cuminc(cr$time, cr$cause, cr$group, cencode = 0)
fit_crs <- cuminc(cr$time, cr$cause, cr$group, cr$stratum, cencode = 0)
one <- cr; one$group <- "1"   # cuminc labels an ungrouped fit "1"
fit_one <- cuminc(one$time, one$cause, cencode = 0)
pooled <- ci_rows(fit_one, one, "cr_pooled"); pooled$group <- "all"
write.csv(rbind(ci_rows(fit_cr, cr, "cr_group"), pooled),
          "cuminc_table.csv", row.names = FALSE)
gt <- function(fit, label) data.frame(name = label, cause = rownames(fit$Tests), statistic = fit$Tests[, "stat"],
                                      df = fit$Tests[, "df"], p_value = fit$Tests[, "pv"],
                                      p_upper = pchisq(fit$Tests[, "stat"], fit$Tests[, "df"], lower.tail = FALSE))
# (cuminc's pv is 1 - pchisq(), which underflows to 0; p_upper is the same tail computed accurately)
# CTN-0094 as competing risks on whole weeks (time = relapse week): relapse while still
# retained (1) vs relapse counted at drop-out (2, CTNote counts drop-out as relapse); 0 = censored
ctn$cr_time <- ctn$ctn0094_relapse_time
ctn$cr_cause <- ifelse(ctn$ctn0094_relapse_event == 0, 0,
                       ifelse(ctn$ctn0094_dropout_event == 1 & ctn$ctn0094_dropout_time == ctn$ctn0094_relapse_time, 2, 1))
ctn$arm_code <- gsub("[^A-Za-z]+", "_", ctn$arm)   # cuminc curve names split on spaces
fit_ctn <- cuminc(ctn$cr_time, ctn$cr_cause, ctn$arm_code, cencode = 0)
write.csv(rbind(gt(fit_cr, "cr_group"), gt(fit_crs, "cr_group_strata"), gt(fit_ctn, "ctn_arm")),
          "gray_test.csv", row.names = FALSE)
ctn_cr <- ctn[c("cr_time", "cr_cause", "arm_code")]; names(ctn_cr) <- c("time", "cause", "group")
write.csv(ci_rows(fit_ctn, ctn_cr, "ctn_arm"), "cuminc_table_ctn.csv", row.names = FALSE)

# cross-check of the estimate with survfit's multi-state Aalen-Johansen
ms <- survfit(Surv(time, factor(cause, 0:3)) ~ group, data = cr)
sm <- summary(ms, censored = TRUE)
write.csv(data.frame(group = sub("^[^=]*=", "", as.character(sm$strata)), time = sm$time,
                     p1 = sm$pstate[, 2], p2 = sm$pstate[, 3], p3 = sm$pstate[, 4]),
          "aalen_johansen_survfit.csv", row.names = FALSE)
cat("done\n")
