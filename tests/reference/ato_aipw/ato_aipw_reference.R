# Reference values for iopstats.iptw(estimand="ATO") and iopstats.aipw.
#
# Run from this folder:  Rscript ato_aipw_reference.R   (R 4.2, nnet 7.3-18, riskRegression 2022.11.28)
# Inputs:
#   ../adjust/adjust_data.csv        synthetic confounded data, three levels of care
#                                    (iop / outpatient / residential_short), covariates sev, sex, age;
#                                    binary outcome done.
#   ../pipeline/ctn0094_outcomes.csv CTN-0094 episodes (real): level_of_care (detox_inpatient /
#                                    outpatient), covariates sex, race (13 missing race dropped);
#                                    outcome completed.
# 1. Overlap (ATO) weights h(x)/e_a(x), h = 1/sum_k 1/e_k (Li & Li 2019), from nnet::multinom
#    (three levels; reltol 1e-14) and glm (two levels); weighted (Hajek) outcome means per level.
# 2. riskRegression::ate(estimator = "AIPTW") with a logistic outcome model (treatment + covariates)
#    and the same treatment model: mean risks and differences with influence-function standard
#    errors; known.nuisance = TRUE (the nuisance models treated as known) and FALSE (R's default).
suppressPackageStartupMessages({library(riskRegression); library(nnet)})
options(digits = 15)

adj <- read.csv("../adjust/adjust_data.csv", stringsAsFactors = TRUE)
ctn <- read.csv("../pipeline/ctn0094_outcomes.csv", na.strings = c("", "NA"), stringsAsFactors = TRUE)
ctn <- ctn[!is.na(ctn$race), ]
ctn$completed <- as.integer(ctn$completed == "True")

# ---- 1. ATO weights ----
ft3 <- multinom(level_of_care ~ sev + sex + age, data = adj, trace = FALSE, reltol = 1e-14, maxit = 1000)
P <- fitted(ft3)
own <- P[cbind(seq_len(nrow(adj)), as.integer(adj$level_of_care))]
w3 <- (1 / rowSums(1 / P)) / own
ft2 <- glm(level_of_care ~ sex + race, family = binomial, data = ctn)
e <- fitted(ft2)  # P(outpatient)
w2 <- ifelse(ctn$level_of_care == "outpatient", 1 - e, e)
write.csv(data.frame(id = adj$id, ato = w3), "ato_weights_adjust.csv", row.names = FALSE)
write.csv(data.frame(episode_id = ctn$episode_id, ato = w2), "ato_weights_ctn.csv", row.names = FALSE)
wm <- function(y, g, w) sapply(levels(g), function(l) sum((w * y)[g == l]) / sum(w[g == l]))
rates <- rbind(
  data.frame(data = "adjust", level = levels(adj$level_of_care), rate = wm(adj$done, adj$level_of_care, w3)),
  data.frame(data = "ctn", level = levels(ctn$level_of_care), rate = wm(ctn$completed, ctn$level_of_care, w2)))
write.csv(rates, "ato_rates.csv", row.names = FALSE)

# ---- 2. AIPW ----
fo3 <- glm(done ~ level_of_care + sev + sex + age, family = binomial, data = adj)
fo2 <- glm(completed ~ level_of_care + sex + race, family = binomial, data = ctn)
out_m <- list(); out_d <- list()
for (kn in c(TRUE, FALSE)) {
  for (nm in c("adjust", "ctn")) {
    a <- if (nm == "adjust") ate(event = fo3, treatment = ft3, data = adj, estimator = "AIPTW", known.nuisance = kn, verbose = FALSE)
         else ate(event = fo2, treatment = ft2, data = ctn, estimator = "AIPTW", known.nuisance = kn, verbose = FALSE)
    m <- as.data.frame(a$meanRisk); d <- as.data.frame(a$diffRisk)
    out_m[[length(out_m) + 1]] <- data.frame(data = nm, known_nuisance = kn, level = m$treatment, risk = m$estimate, se = m$se)
    out_d[[length(out_d) + 1]] <- data.frame(data = nm, known_nuisance = kn, A = d$A, B = d$B,
                                             difference = d$estimate, se = d$se)
  }
}
write.csv(do.call(rbind, out_m), "aipw_mean_risk.csv", row.names = FALSE)
write.csv(do.call(rbind, out_d), "aipw_diff_risk.csv", row.names = FALSE)
