# Reference values for tests/compare/test_adjust_reference.py (iopstats.compare.adjust).
# Run from the repository root: Rscript tests/reference/adjust/adjust_reference.R
# R 4.x, survival 3.5. Input: adjust_data.csv (make_inputs.py); iptw = stabilized ATE weights.
library(survival)
here <- "tests/reference/adjust"
d <- read.csv(file.path(here, "adjust_data.csv"))
d$level_of_care <- factor(d$level_of_care, levels = c("iop", "outpatient", "residential_short"))
d$sev <- factor(d$sev, levels = c("low", "mid", "high"))
d$sex <- factor(d$sex)

# 1. Weighted Kaplan-Meier: survfit(weights=) with non-integer weights -> robust (IJ) std.err
km <- survfit(Surv(days, left) ~ level_of_care, data = d, weights = iptw)
s <- summary(km, censored = TRUE)
km_tab <- data.frame(group = sub("level_of_care=", "", as.character(s$strata)), time = s$time,
                     n_at_risk = s$n.risk, n_events = s$n.event, survival = s$surv,
                     std_err = s$std.err, ci_low = s$lower, ci_high = s$upper)
write.csv(km_tab, file.path(here, "km_weighted.csv"), row.names = FALSE)
q <- quantile(km, probs = 0.5)
write.csv(data.frame(group = sub("level_of_care=", "", rownames(q$quantile)), median = as.vector(q$quantile),
                     median_ci_low = as.vector(q$lower), median_ci_high = as.vector(q$upper)),
          file.path(here, "km_weighted_median.csv"), row.names = FALSE)

# 2. Weighted Cox with robust sandwich variance (marginal hazard ratio vs iop)
fit <- coxph(Surv(days, left) ~ level_of_care, data = d, weights = iptw, robust = TRUE, ties = "efron")
sm <- summary(fit)$coefficients
cox_tab <- data.frame(term = sub("level_of_care", "level_of_care[", rownames(sm)), coef = sm[, "coef"],
                      se = sm[, "robust se"], naive_se = sm[, "se(coef)"], z = sm[, "z"], p_value = sm[, "Pr(>|z|)"])
cox_tab$term <- paste0(cox_tab$term, "]")
cox_tab$loglik <- fit$loglik[2]
write.csv(cox_tab, file.path(here, "cox_weighted.csv"), row.names = FALSE)

# 3. Binary treatment (iop vs outpatient): propensity by glm, stabilized ATE weights
b <- subset(d, level_of_care != "residential_short")
b$op <- as.integer(b$level_of_care == "outpatient")
ps <- fitted(glm(op ~ sex + sev + age, family = binomial, data = b))
share <- mean(b$op)
w <- ifelse(b$op == 1, share / ps, (1 - share) / (1 - ps))
write.csv(data.frame(id = b$id, ps_outpatient = ps, weight = w), file.path(here, "iptw_binary.csv"),
          row.names = FALSE)

# 4. Standardized (g-computation) rates: glm predictions averaged over all rows,
#    delta-method SE = sqrt(g' V g + sum((p - r)^2) / N^2) with g = mean of dp/dbeta
m <- glm(done ~ level_of_care + sex + sev + age, family = binomial, data = d)
V <- vcov(m)
N <- nrow(d)
lev <- levels(d$level_of_care)
pred <- list(); grad <- list(); rate <- c()
for (l in lev) {
  nd <- d; nd$level_of_care <- factor(l, levels = lev)
  X <- model.matrix(~ level_of_care + sex + sev + age, data = nd)
  p <- as.vector(plogis(X %*% coef(m)))
  pred[[l]] <- p; rate[l] <- mean(p); grad[[l]] <- colMeans(X * p * (1 - p))
}
se_rate <- sapply(lev, function(l) sqrt(drop(t(grad[[l]]) %*% V %*% grad[[l]]) + sum((pred[[l]] - rate[l])^2) / N^2))
rd <- se_rd <- rep(NA, length(lev)); names(rd) <- names(se_rd) <- lev
for (l in lev[-1]) {
  g <- grad[["iop"]] - grad[[l]]
  diff <- pred[["iop"]] - pred[[l]]
  rd[l] <- rate["iop"] - rate[l]
  se_rd[l] <- sqrt(drop(t(g) %*% V %*% g) + sum((diff - rd[l])^2) / N^2)
}
z <- qnorm(0.975)
se_logit <- se_rate / (rate * (1 - rate))
std <- data.frame(level = lev, adj_rate = rate, ci_low = plogis(qlogis(rate) - z * se_logit),
                  ci_high = plogis(qlogis(rate) + z * se_logit), adj_risk_difference = rd,
                  rd_ci_low = rd - z * se_rd, rd_ci_high = rd + z * se_rd, se = se_rd,
                  p_value = 2 * pnorm(-abs(rd / se_rd)))
write.csv(std, file.path(here, "standardized_rates.csv"), row.names = FALSE)
cat("done\n")
