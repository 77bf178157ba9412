# Reference values for interactions in iopstats.cox / iopstats.logistic and
# iopstats.effect_modification.
#
# Run from this folder:  Rscript interactions_reference.R   (R 4.2, survival 3.5.3)
# Inputs: ../pipeline/ctn0094_outcomes.csv (CTN-0094 episodes, real; 13 rows with missing race
# dropped) and ../adjust/adjust_data.csv (synthetic, three levels of care, numeric age).
# Models (R formula a * b = a + b + a:b):
#   ctn_cox:      coxph(Surv(time_in_treatment, left_treatment) ~ level_of_care * sex + race)  (Efron)
#   ctn_logit:    glm(completed ~ level_of_care * race + sex, binomial)
#   adj_cox_ff:   coxph(Surv(days, left) ~ level_of_care * sev + age)       (3 x 3 factors)
#   adj_cox_fn:   coxph(Surv(days, left) ~ level_of_care * age + sev)       (factor x numeric)
#   adj_logit_ff: glm(done ~ level_of_care * sev + sex, binomial)
#   adj_logit_fn: glm(done ~ level_of_care * age + sex, binomial)           (factor x numeric)
# Output: coefficients and se with R's names; log-likelihoods of the models with and without
# the interaction (LR test as anova); Wald test of the interaction block; and the
# stratum-specific effects exp(b[a] + b[a:m]) with se from vcov.
suppressPackageStartupMessages(library(survival))
options(digits = 15)
ctn <- read.csv("../pipeline/ctn0094_outcomes.csv", na.strings = c("", "NA"))
ctn <- ctn[!is.na(ctn$race), ]
ctn$completed <- as.integer(ctn$completed == "True")
adj <- read.csv("../adjust/adjust_data.csv")

fits <- list(
  ctn_cox = list(f = Surv(time_in_treatment, left_treatment) ~ level_of_care * sex + race,
                 r = Surv(time_in_treatment, left_treatment) ~ level_of_care + sex + race, d = ctn, cox = TRUE,
                 e = "level_of_care", m = "sex"),
  ctn_logit = list(f = completed ~ level_of_care * race + sex, r = completed ~ level_of_care + race + sex,
                   d = ctn, cox = FALSE, e = "level_of_care", m = "race"),
  adj_cox_ff = list(f = Surv(days, left) ~ level_of_care * sev + age, r = Surv(days, left) ~ level_of_care + sev + age,
                    d = adj, cox = TRUE, e = "level_of_care", m = "sev"),
  adj_cox_fn = list(f = Surv(days, left) ~ level_of_care * age + sev, r = Surv(days, left) ~ level_of_care + age + sev,
                    d = adj, cox = TRUE, e = NULL, m = NULL),
  adj_logit_ff = list(f = done ~ level_of_care * sev + sex, r = done ~ level_of_care + sev + sex,
                      d = adj, cox = FALSE, e = "level_of_care", m = "sev"),
  adj_logit_fn = list(f = done ~ level_of_care * age + sex, r = done ~ level_of_care + age + sex,
                      d = adj, cox = FALSE, e = NULL, m = NULL)
)
co <- list(); te <- list(); em <- list()
for (nm in names(fits)) {
  x <- fits[[nm]]
  full <- if (x$cox) coxph(x$f, data = x$d) else glm(x$f, family = binomial, data = x$d, control = glm.control(epsilon = 1e-14, maxit = 100))
  red <- if (x$cox) coxph(x$r, data = x$d) else glm(x$r, family = binomial, data = x$d, control = glm.control(epsilon = 1e-14, maxit = 100))
  b <- coef(full); V <- vcov(full)
  co[[nm]] <- data.frame(model = nm, term = names(b), coef = unname(b), se = sqrt(diag(V)))
  ll <- function(f) if (x$cox) f$loglik[2] else as.numeric(logLik(f))
  inter <- grep(":", names(b))
  wald <- drop(b[inter] %*% solve(V[inter, inter], b[inter]))
  te[[nm]] <- data.frame(model = nm, lr = 2 * (ll(full) - ll(red)), wald = wald, df = length(inter),
                         loglik_full = ll(full), loglik_reduced = ll(red))
  if (!is.null(x$e)) {
    el <- sort(unique(x$d[[x$e]])); ml <- sort(unique(x$d[[x$m]]))
    for (m in ml) for (a in el[-1]) {
      t1 <- paste0(x$e, a); tt <- t1
      if (m != ml[1]) tt <- c(t1, paste0(x$e, a, ":", x$m, m))
      est <- sum(b[tt]); se <- sqrt(sum(V[tt, tt]))
      em[[length(em) + 1]] <- data.frame(model = nm, modifier_level = m, exposure_level = a,
                                         ratio = exp(est), ci_low = exp(est - qnorm(0.975) * se),
                                         ci_high = exp(est + qnorm(0.975) * se))
    }
  }
}
write.csv(do.call(rbind, co), "interaction_coef.csv", row.names = FALSE)
write.csv(do.call(rbind, te), "interaction_tests.csv", row.names = FALSE)
write.csv(do.call(rbind, em), "effect_modification.csv", row.names = FALSE)
