# Reference values for tests/stats/test_logistic*.py.
# Run from this folder:  Rscript make_reference.R   (R 4.2.2, base stats only)
# Data: columns copied from /work/shared/data/ctn0094/randomized_outcomes.csv
# (CTN-0094 harmonised data, public.ctn0094data 1.0.6, MIT licence).
d <- read.csv("ctn0094_randomized.csv", stringsAsFactors = FALSE)
lev <- function(x) factor(x, levels = sort(unique(x), method = "radix"))  # C-locale order
d$arm <- lev(d$arm); d$is_male <- lev(d$is_male); d$race <- lev(d$race)
d$is_hispanic <- lev(d$is_hispanic); d$project <- lev(as.character(d$project))

# R's default convergence (epsilon = 1e-8 on the deviance) stops ~1e-6 short of the
# maximum; the references use a tight tolerance so they are the exact MLE.
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
out <- list()
dump_fit <- function(name, f) {
  s <- summary(f)$coefficients
  ci <- confint.default(f)
  out[[name]] <<- list(
    term = rownames(s), coef = unname(s[, 1]), se = unname(s[, 2]), z = unname(s[, 3]),
    p_value = unname(s[, 4]), ci_low = unname(exp(ci[, 1])), ci_high = unname(exp(ci[, 2])),
    loglik = as.numeric(logLik(f)), deviance = deviance(f),
    null_deviance = f$null.deviance, aic = AIC(f), n = sum(f$prior.weights)
  )
}
# 1. relapse event ~ arm + is_male + age
f1 <- glm(ctn0094_relapse_event ~ arm + is_male + age, family = binomial, data = d, control = ctl)
dump_fit("relapse_arm_sex_age", f1)
# 2. dropout event ~ arm + is_male + race + is_hispanic (all categorical)
f2 <- glm(ctn0094_dropout_event ~ arm + is_male + race + is_hispanic, family = binomial, data = d, control = ctl)
dump_fit("dropout_arm_sex_race_hisp", f2)
# 3. the same model on collapsed patterns: 0/1 rows with frequency weights
agg <- aggregate(list(n = rep(1, nrow(d))),
                 by = list(arm = d$arm, is_male = d$is_male, race = d$race,
                           is_hispanic = d$is_hispanic, y = d$ctn0094_dropout_event), FUN = sum)
f3 <- glm(y ~ arm + is_male + race + is_hispanic, family = binomial, data = agg, weights = n, control = ctl)
dump_fit("dropout_collapsed_weights", f3)
write.csv(agg, "ctn0094_dropout_collapsed.csv", row.names = FALSE)
# 4. 95% -> 90% confidence
ci90 <- confint.default(f1, level = 0.90)
out[["relapse_ci90"]] <- list(term = rownames(ci90), ci_low = unname(exp(ci90[, 1])),
                              ci_high = unname(exp(ci90[, 2])))

con <- file("logistic_reference.json", "w")
json_num <- function(x) paste0("[", paste(sprintf("%.17g", x), collapse = ", "), "]")
json_str <- function(x) paste0("[", paste0('"', x, '"', collapse = ", "), "]")
cat("{\n", file = con)
nm <- names(out)
for (i in seq_along(nm)) {
  o <- out[[nm[i]]]
  fields <- vapply(names(o), function(k) {
    v <- o[[k]]
    paste0('    "', k, '": ', if (is.character(v)) json_str(v) else json_num(v))
  }, "")
  cat('  "', nm[i], '": {\n', paste(fields, collapse = ",\n"), "\n  }",
      if (i < length(nm)) "," else "", "\n", sep = "", file = con)
}
cat("}\n", file = con)
close(con)
