# Reference values for iopstats.trajectories (tests/measures/test_mixed.py).
# Run from the repository root:  Rscript tests/reference/mixed/mixed_reference.R
# R 4.2, lme4 1.1-31, nlme 3.1-162. Writes mixed_reference.json beside this script.
suppressPackageStartupMessages({library(lme4); library(nlme); library(jsonlite)})
here <- "tests/reference/mixed"
d <- read.csv(file.path(here, "mixed_data.csv"), colClasses = c(episode_id = "character", client_id = "character"))
d$level <- factor(d$level_of_care, levels = c("iop", "outpatient", "residential_short"))
d$week <- d$day / 7
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5), check.conv.grad = .makeCC("warning", tol = 1e-6))

one <- function(fit, kind) {
  vc <- as.data.frame(VarCorr(fit))
  list(kind = kind, fixef = as.list(fixef(fit)), se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
       varcorr = lapply(seq_len(nrow(vc)), function(i) as.list(vc[i, ])), loglik = as.numeric(logLik(fit)))
}
out <- list()
# episode level: correlated random intercept and slope
f1r <- lmer(score ~ level * week + (week | episode_id), data = d, REML = TRUE, control = ctrl)
f1m <- lmer(score ~ level * week + (week | episode_id), data = d, REML = FALSE, control = ctrl)
out$episode_reml <- one(f1r, "lmer REML")
out$episode_ml <- one(f1m, "lmer ML")
# the same models with nlme::lme (independent check of lme4)
n1r <- lme(score ~ level * week, random = ~ week | episode_id, data = d, method = "REML",
           control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, niterEM = 100))
n1m <- lme(score ~ level * week, random = ~ week | episode_id, data = d, method = "ML",
           control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, niterEM = 100))
out$episode_reml_nlme <- list(fixef = as.list(fixef(n1r)), se = as.list(sqrt(diag(vcov(n1r)))),
                              loglik = as.numeric(logLik(n1r)))
out$episode_ml_nlme <- list(fixef = as.list(fixef(n1m)), se = as.list(sqrt(diag(vcov(n1m)))),
                            loglik = as.numeric(logLik(n1m)))
# client as a higher level; episode intercept and slope independent within client
d$ce <- paste(d$client_id, d$episode_id, sep = ":")
f2r <- lmer(score ~ level * week + (1 | client_id) + (1 | ce) + (0 + week | ce), data = d, REML = TRUE, control = ctrl)
f2m <- lmer(score ~ level * week + (1 | client_id) + (1 | ce) + (0 + week | ce), data = d, REML = FALSE, control = ctrl)
out$client_reml <- one(f2r, "lmer REML nested")
out$client_ml <- one(f2m, "lmer ML nested")
out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     nlme = as.character(packageVersion("nlme")))
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "mixed_reference.json"))
cat("RDONE\n")
