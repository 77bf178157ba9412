# Reference values for iopstats.fine_gray (Fine-Gray subdistribution hazards).
#
# Run from this folder:  Rscript fine_gray_reference.R   (R 4.2, cmprsk 2.2-11)
# Fits use crr(..., gtol = 1e-12, maxiter = 100) so the reference is the converged estimate.
# crr's defaults (gtol = 1e-6, maxiter = 10) stop slightly earlier: the script prints how far
# (R 4.2 run: at most 1.1e-6 in a coefficient and 3.5e-8 in a variance, synthetic cause 1).
# Inputs:
#   ../pipeline/ctn0094_outcomes.csv  CTN-0094 episodes (real), days in treatment, exit cause
#       (dropped_out / completed); "ctn_admin": administratively censored at day 70
#       (time > 70 -> censored at 70) so the censoring-curve part of the variance is exercised.
#       Covariates level_of_care + sex + race (13 rows with missing race dropped).
#   ../survival/competing_risks.csv   synthetic, whole days 1..60 (heavy ties), causes 1/2/3,
#       censored 0; covariates group (a/b/c) + stratum (s1/s2).
suppressPackageStartupMessages(library(cmprsk))
options(digits = 15)

ctn <- read.csv("../pipeline/ctn0094_outcomes.csv", na.strings = c("", "NA"))
ctn$cause <- ifelse(ctn$exit_cause == "dropped_out", 1, 2)
adm <- ctn
adm$cause[adm$time_in_treatment > 70] <- 0
adm$time_in_treatment <- pmin(adm$time_in_treatment, 70)
cr <- read.csv("../survival/competing_risks.csv")

cases <- list(
  ctn_dropout = list(d = ctn, t = "time_in_treatment", s = "cause", f = ~ level_of_care + sex + race, code = 1),
  ctn_completed = list(d = ctn, t = "time_in_treatment", s = "cause", f = ~ level_of_care + sex + race, code = 2),
  ctn_admin = list(d = adm, t = "time_in_treatment", s = "cause", f = ~ level_of_care + sex + race, code = 1),
  cr_cause1 = list(d = cr, t = "time", s = "cause", f = ~ group + stratum, code = 1),
  cr_cause3 = list(d = cr, t = "time", s = "cause", f = ~ group + stratum, code = 3)
)
coefs <- list(); base <- list(); pred <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  d <- cs$d[complete.cases(cs$d[, all.vars(cs$f)]), ]
  X <- model.matrix(cs$f, d)[, -1, drop = FALSE]
  fit <- crr(d[[cs$t]], d[[cs$s]], cov1 = X, failcode = cs$code, cencode = 0, gtol = 1e-12, maxiter = 100)
  dflt <- crr(d[[cs$t]], d[[cs$s]], cov1 = X, failcode = cs$code, cencode = 0)
  cat(nm, max(abs(dflt$coef - fit$coef)), max(abs(dflt$var - fit$var)), dflt$converged, "\n")
  coefs[[nm]] <- data.frame(case = nm, term = colnames(X), coef = unname(fit$coef), se = sqrt(diag(fit$var)),
                            loglik = fit$loglik)
  base[[nm]] <- data.frame(case = nm, time = fit$uftime, jump = fit$bfitj)
  # cumulative incidence for the first row and the all-zero (reference) profile
  p <- predict(fit, cov1 = rbind(X[1, ], 0 * X[1, ]))
  pred[[nm]] <- data.frame(case = nm, time = p[, 1], cif_row1 = p[, 2], cif_ref = p[, 3])
}
write.csv(do.call(rbind, coefs), "crr_coef.csv", row.names = FALSE)
write.csv(do.call(rbind, base), "crr_baseline.csv", row.names = FALSE)
write.csv(do.call(rbind, pred), "crr_predict.csv", row.names = FALSE)
