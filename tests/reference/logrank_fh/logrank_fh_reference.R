# Reference values for iopstats.logrank(rho=, gamma=): the weighted log-rank family.
#
# Run from this folder:  Rscript logrank_fh_reference.R   (R 4.2, survival 3.5.3)
# 1. survdiff(rho = r) for gamma = 0 (Peto-Peto is rho = 1), unstratified and stratified.
# 2. Fleming-Harrington G(rho, gamma) as survMisc::comp / FHtest define it: weight
#    S(t-)^rho (1 - S(t-))^gamma, S the pooled Kaplan-Meier of the stratum, left-continuous,
#    hypergeometric variance times the squared weight. survMisc / FHtest are not installed,
#    so fh() below computes it from survfit() (and is checked against survdiff for gamma = 0).
# Inputs: addicts (Caplehorn & Bell), CTN-0094 outcomes by arm (strata: project), the tied
# synthetic data of ../rmst/tied.csv (whole days, three groups; strata: client number even/odd).
suppressPackageStartupMessages(library(survival))
options(digits = 15)

addicts <- read.csv("../survival/addicts.csv")
ctn <- read.csv("../survival/ctn0094_outcomes.csv")
tied <- read.csv("../rmst/tied.csv")
tied$half <- ifelse(as.integer(substring(tied$client, 2)) %% 2 == 0, "even", "odd")  # strata for the test

fh_one <- function(time, status, group, rho, gamma, lev) {
  km <- survfit(Surv(time, status) ~ 1)
  ut <- sort(unique(time[status == 1]))
  sl <- c(1, km$surv)[findInterval(ut, km$time, left.open = TRUE) + 1]  # S(t-)
  w <- sl^rho * (1 - sl)^gamma
  k <- length(lev)
  O <- E <- numeric(k); V <- matrix(0, k, k)
  for (j in seq_along(ut)) {
    at <- time >= ut[j]
    n <- sapply(lev, function(l) sum(at & group == l))
    d <- sapply(lev, function(l) sum(time == ut[j] & status == 1 & group == l))
    N <- sum(n); D <- sum(d)
    O <- O + w[j] * d; E <- E + w[j] * D * n / N
    if (N > 1) V <- V + w[j]^2 * D * (N - D) / (N - 1) * (diag(n / N) - outer(n, n) / N^2)
  }
  list(O = O, E = E, V = V)
}
fh <- function(time, status, group, strata, rho, gamma) {
  lev <- sort(unique(group))
  parts <- lapply(split(seq_along(time), strata), function(i) fh_one(time[i], status[i], group[i], rho, gamma, lev))
  O <- Reduce(`+`, lapply(parts, `[[`, "O")); E <- Reduce(`+`, lapply(parts, `[[`, "E"))
  V <- Reduce(`+`, lapply(parts, `[[`, "V"))
  u <- (O - E)[-1]
  list(chisq = drop(u %*% solve(V[-1, -1, drop = FALSE], u)), O = O, E = E, V = diag(V), df = length(lev) - 1)
}

cases <- list(
  addicts_clinic = list(d = addicts, t = "survt", e = "status", g = "clinic", s = NULL),
  addicts_clinic_prison = list(d = addicts, t = "survt", e = "status", g = "clinic", s = "prison"),
  ctn_arm = list(d = ctn, t = "ctn0094_dropout_time", e = "ctn0094_dropout_event", g = "arm", s = NULL),
  tied_group = list(d = tied, t = "time", e = "event", g = "group", s = NULL),
  tied_group_half = list(d = tied, t = "time", e = "event", g = "group", s = "half")
)
grid <- rbind(c(1, 0), c(0.5, 0), c(0, 1), c(1, 1), c(0.5, 2))
out <- list(); tab <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]; d <- cs$d
  st <- if (is.null(cs$s)) rep(1, nrow(d)) else d[[cs$s]]
  for (r in seq_len(nrow(grid))) {
    rho <- grid[r, 1]; gamma <- grid[r, 2]
    f <- fh(d[[cs$t]], d[[cs$e]], as.character(d[[cs$g]]), st, rho, gamma)
    if (gamma == 0) {
      fo <- if (is.null(cs$s)) as.formula(paste0("Surv(", cs$t, ", ", cs$e, ") ~ ", cs$g)) else
        as.formula(paste0("Surv(", cs$t, ", ", cs$e, ") ~ ", cs$g, " + strata(", cs$s, ")"))
      sd <- survdiff(fo, data = d, rho = rho)
      stopifnot(isTRUE(all.equal(sd$chisq, f$chisq, tolerance = 1e-10)))
      stopifnot(isTRUE(all.equal(unname(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs), unname(f$O), tolerance = 1e-10)))
    }
    out[[length(out) + 1]] <- data.frame(case = nm, rho = rho, gamma = gamma, statistic = f$chisq, df = f$df,
                                         p_value = pchisq(f$chisq, f$df, lower.tail = FALSE),
                                         source = if (gamma == 0) "survdiff" else "fh")
    tab[[length(tab) + 1]] <- data.frame(case = nm, rho = rho, gamma = gamma, group = sort(unique(as.character(d[[cs$g]]))),
                                         observed = f$O, expected = f$E, variance = f$V)
  }
}
write.csv(do.call(rbind, out), "fh_summary.csv", row.names = FALSE)
write.csv(do.call(rbind, tab), "fh_table.csv", row.names = FALSE)
