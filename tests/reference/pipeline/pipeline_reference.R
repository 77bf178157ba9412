# End-to-end reference values: R's survival / cmprsk / stats on the analysis tables the
# iopstats pipeline builds (load -> build_outcomes) from the bundled sample and CTN-0094.
#
# Run from this folder:
#   ../../../.venv/bin/python export_tables.py     # writes the *_outcomes.csv and levels.csv
#   Rscript pipeline_reference.R                   # writes the ref_*.csv files below
# Produced with R 4.2.2, survival 3.5.3, cmprsk 2.2.11.
#
# Factors get the category order of the pipeline (levels.csv), levels absent from the data
# dropped, so the first level is the reference as in iopstats. The sample's level of care
# is relevelled to IOP (the comparison the package exists for); CTN-0094 has no IOP arm and
# keeps the canonical order (reference detox_inpatient).
# Convergence is tightened (coxph eps = 1e-11, glm epsilon = 1e-14) so the values are the
# maximum (partial) likelihood estimates, not R's default stopping points.
suppressPackageStartupMessages({library(survival); library(cmprsk)})
cat("R", R.version$major, R.version$minor, "survival", as.character(packageVersion("survival")),
    "cmprsk", as.character(packageVersion("cmprsk")), "\n")

levs <- read.csv("levels.csv", stringsAsFactors = FALSE)
read_table <- function(file, ref_level = NULL) {
  d <- read.csv(file, stringsAsFactors = FALSE, na.strings = "")
  for (col in intersect(c("completed", "psych_problem"), names(d)))   # pandas writes True/False
    d[[col]] <- c(True = TRUE, False = FALSE)[d[[col]]]
  for (col in unique(levs$column)) if (col %in% names(d)) {
    l <- levs$level[levs$column == col][order(levs$position[levs$column == col])]
    d[[col]] <- droplevels(factor(d[[col]], levels = l))
  }
  if (!is.null(ref_level)) d$level_of_care <- relevel(d$level_of_care, ref = ref_level)
  d$site <- factor(d$site)
  d
}
datasets <- list(
  sample = list(d = read_table("sample_outcomes.csv", "iop"),
                covs = c("level_of_care", "sex", "payer", "prior_treatment", "psych_problem"),
                ref = "iop", other = "outpatient"),
  ctn0094 = list(d = read_table("ctn0094_outcomes.csv"),
                 covs = c("level_of_care", "sex", "race", "ethnicity"),
                 ref = "outpatient", other = "detox_inpatient")
)

num17 <- function(df) {   # full precision in the CSV
  for (n in names(df)) if (is.numeric(df[[n]])) df[[n]] <- sprintf("%.17g", df[[n]])
  df
}
save <- function(rows, file) write.csv(num17(do.call(rbind, rows)), file, row.names = FALSE)
strip <- function(x) sub("^[^=]*=", "", x)

# iopstats term names: "<covariate>[<level>]" for factor levels after the first,
# "<covariate>[True]" for a logical covariate
term_names <- function(d, covs) {
  unlist(lapply(covs, function(v) {
    x <- d[[v]]
    if (is.logical(x)) paste0(v, "[True]") else paste0(v, "[", levels(droplevels(x[!is.na(x)]))[-1], "]")
  }))
}
r_names <- function(d, covs) {
  unlist(lapply(covs, function(v) {
    x <- d[[v]]
    if (is.logical(x)) paste0(v, "TRUE") else paste0(v, levels(droplevels(x[!is.na(x)]))[-1])
  }))
}

km_tab <- list(); km_sum <- list(); lr <- list(); ci_tab <- list(); gray <- list()
cox_out <- list(); zph_out <- list(); glm_out <- list(); rate_out <- list()

dump_cox <- function(model, fit, terms) {
  stopifnot(length(terms) == length(coef(fit)), !anyNA(coef(fit)))
  b <- coef(fit); v <- fit$var
  rows <- data.frame(model = model, what = "coef", term = terms, value = unname(b))
  rows <- rbind(rows, data.frame(model = model, what = "se", term = terms, value = sqrt(diag(v))))
  if (!is.null(fit$naive.var))
    rows <- rbind(rows, data.frame(model = model, what = "naive_se", term = terms,
                                   value = sqrt(diag(fit$naive.var))))
  for (i in seq_along(terms)) for (j in seq_along(terms))
    rows <- rbind(rows, data.frame(model = model, what = "var", term = paste0(terms[i], "|", terms[j]),
                                   value = v[i, j]))
  s <- c(loglik_null = fit$loglik[1], loglik = fit$loglik[2], n = fit$n, n_events = fit$nevent,
         lr = 2 * (fit$loglik[2] - fit$loglik[1]), wald = unname(fit$wald.test),
         score = unname(fit$score), df = length(b))
  if (!is.null(fit$rscore)) s <- c(s, robust_score = unname(fit$rscore))
  rows <- rbind(rows, data.frame(model = model, what = names(s), term = "", value = unname(s)))
  cox_out[[model]] <<- rows
}
dump_zph <- function(model, z, terms) {
  tab <- z$table
  stopifnot(nrow(tab) == length(terms) + 1)
  zph_out[[model]] <<- data.frame(model = model, term = c(terms, "GLOBAL"), chisq = tab[, "chisq"],
                                  df = tab[, "df"], p = tab[, "p"])
}

for (nm in names(datasets)) {
  ds <- datasets[[nm]]; d <- ds$d; covs <- ds$covs
  terms <- term_names(d, covs)

  # ---- Kaplan-Meier of time in treatment by level of care ----------------------------
  fit <- survfit(Surv(time_in_treatment, left_treatment) ~ level_of_care, data = d)
  s <- summary(fit, censored = TRUE)
  km_tab[[nm]] <- data.frame(data = nm, group = strip(as.character(s$strata)), time = s$time,
                             n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
                             surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
  tab <- summary(fit, rmean = "common")$table
  km_sum[[nm]] <- data.frame(data = nm, group = strip(rownames(tab)), n = tab[, "records"],
                             events = tab[, "events"], rmean = tab[, "rmean"],
                             rmean_se = tab[, "se(rmean)"], median = tab[, "median"],
                             median_lcl = tab[, "0.95LCL"], median_ucl = tab[, "0.95UCL"])

  # ---- log-rank: k-sample and stratified by site -------------------------------------
  for (m in c("ksample", "strata_site")) {
    f <- if (m == "ksample") Surv(time_in_treatment, left_treatment) ~ level_of_care
         else Surv(time_in_treatment, left_treatment) ~ level_of_care + strata(site)
    sd <- survdiff(f, data = d)
    o <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
    e <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
    df <- sum(e > 0) - 1
    lr[[paste(nm, m)]] <- data.frame(data = nm, model = m, group = strip(names(sd$n)),
                                     n = as.numeric(sd$n), observed = o, expected = e,
                                     var_diag = diag(sd$var), chisq = sd$chisq, df = df,
                                     p_value = pchisq(sd$chisq, df, lower.tail = FALSE))
  }

  # ---- cumulative incidence of each exit cause by level + Gray's test ----------------
  cause <- as.character(d$exit_cause); grp <- as.character(d$level_of_care)
  cf <- cuminc(d$time_in_treatment, cause, grp, cencode = "censored")
  for (cv in setdiff(names(cf), "Tests")) {
    g <- strsplit(cv, " ")[[1]][1]; k <- strsplit(cv, " ")[[1]][2]
    tt <- sort(unique(d$time_in_treatment[grp == g]))
    tp <- timepoints(cf[cv], tt)
    est <- as.numeric(tp$est); v <- as.numeric(tp$var)
    se_g <- sqrt(v) / (est * log(est))   # log(-log) limits from cuminc's est/var
    ci_tab[[paste(nm, cv)]] <- data.frame(data = nm, group = g, cause = k, time = tt, estimate = est,
                                          variance = v, ci_low = est^exp(-qnorm(0.975) * se_g),
                                          ci_high = est^exp(qnorm(0.975) * se_g))
  }
  cfs <- cuminc(d$time_in_treatment, cause, grp, as.character(d$site), cencode = "censored")
  for (m in c("ksample", "strata_site")) {
    tests <- if (m == "ksample") cf$Tests else cfs$Tests
    # cuminc's pv is 1 - pchisq(); the upper tail is computed directly so it does not underflow
    gray[[paste(nm, m)]] <- data.frame(data = nm, model = m, cause = rownames(tests),
                                       statistic = tests[, "stat"], df = tests[, "df"],
                                       p_value = pchisq(tests[, "stat"], tests[, "df"], lower.tail = FALSE))
  }

  # ---- Cox models of leaving treatment ------------------------------------------------
  ctl <- coxph.control(eps = 1e-11, iter.max = 50)
  rhs <- paste(covs, collapse = " + ")
  f_plain <- as.formula(paste("Surv(time_in_treatment, left_treatment) ~", rhs))
  f_strat <- as.formula(paste("Surv(time_in_treatment, left_treatment) ~", rhs, "+ strata(site)"))
  fits <- list(
    efron = coxph(f_plain, data = d, ties = "efron", control = ctl),
    breslow = coxph(f_plain, data = d, ties = "breslow", control = ctl),
    strata_site = coxph(f_strat, data = d, control = ctl),
    strata_site_breslow = coxph(f_strat, data = d, ties = "breslow", control = ctl),
    cluster_client = coxph(f_plain, data = d, cluster = client_id, control = ctl),
    cluster_client_breslow = coxph(f_plain, data = d, cluster = client_id, ties = "breslow", control = ctl),
    strata_site_cluster_client = coxph(f_strat, data = d, cluster = client_id, control = ctl)
  )
  if (nm == "ctn0094") fits$cluster_site <- coxph(f_plain, data = d, cluster = site, control = ctl)
  for (m in names(fits)) {
    stopifnot(all(names(coef(fits[[m]])) == r_names(d, covs)))
    dump_cox(paste(nm, m), fits[[m]], terms)
    # the estimates are the maximum partial likelihood: the score test at them is ~0
    at <- coxph(formula(fits[[m]]), data = d, ties = fits[[m]]$method, init = coef(fits[[m]]),
                control = coxph.control(iter.max = 0))
    stopifnot(at$score < 1e-18)
  }
  dump_zph(paste(nm, "efron"), cox.zph(fits$efron), covs)
  dump_zph(paste(nm, "breslow"), cox.zph(fits$breslow), covs)
  dump_zph(paste(nm, "strata_site"), cox.zph(fits$strata_site), covs)
  dump_zph(paste(nm, "efron_identity"), cox.zph(fits$efron, transform = "identity"), covs)

  # ---- logistic regression of completion ----------------------------------------------
  # glm.fit's covariance uses the IRLS weights of the start of its last iteration, i.e. of the
  # previous iterate (on CTN-0094 that moves the standard errors by 3.5e-9 relative); one more
  # fit started at the converged coefficients evaluates them at the maximum likelihood estimate.
  gctl <- glm.control(epsilon = 1e-14, maxit = 100)
  g0 <- glm(as.formula(paste("completed ~", rhs)), family = binomial, data = d, control = gctl)
  g <- glm(as.formula(paste("completed ~", rhs)), family = binomial, data = d, start = coef(g0),
           control = gctl)
  stopifnot(max(abs(coef(g) - coef(g0))) < 1e-9)
  stopifnot(g$converged, all(names(coef(g)) == c("(Intercept)", r_names(d, covs))))
  sc <- summary(g)$coefficients; ci <- confint.default(g)
  gt <- c("intercept", terms)
  glm_out[[nm]] <- rbind(
    data.frame(data = nm, what = "coef", term = gt, value = unname(sc[, 1])),
    data.frame(data = nm, what = "se", term = gt, value = unname(sc[, 2])),
    data.frame(data = nm, what = "z", term = gt, value = unname(sc[, 3])),
    data.frame(data = nm, what = "p_value", term = gt, value = unname(sc[, 4])),
    data.frame(data = nm, what = "ci_low", term = gt, value = unname(exp(ci[, 1]))),
    data.frame(data = nm, what = "ci_high", term = gt, value = unname(exp(ci[, 2]))),
    data.frame(data = nm, what = c("loglik", "deviance", "null_deviance", "aic", "n"), term = "",
               value = c(as.numeric(logLik(g)), deviance(g), g$null.deviance, AIC(g), sum(g$prior.weights)))
  )

  # ---- completion rates: reference level vs one other --------------------------------
  known <- d[!is.na(d$completed), ]
  x <- c(sum(known$completed[known$level_of_care == ds$ref]), sum(known$completed[known$level_of_care == ds$other]))
  n <- c(sum(known$level_of_care == ds$ref), sum(known$level_of_care == ds$other))
  pt <- prop.test(x, n, correct = FALSE)
  cs <- chisq.test(matrix(c(x, n - x), 2), correct = FALSE)
  stopifnot(abs(pt$statistic - cs$statistic) < 1e-10 * cs$statistic)
  w1 <- prop.test(x[1], n[1], correct = FALSE)$conf.int
  w2 <- prop.test(x[2], n[2], correct = FALSE)$conf.int
  p1 <- x[1] / n[1]; p2 <- x[2] / n[2]
  # Newcombe (1998) method 10 from the two Wilson intervals
  nc_low <- p1 - p2 - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2)
  nc_high <- p1 - p2 + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)
  # every level: Wilson intervals and the omnibus chi-square of level x completed
  tabc <- table(droplevels(known$level_of_care), known$completed)
  om <- chisq.test(tabc, correct = FALSE)
  wil <- t(sapply(rownames(tabc), function(l)
    prop.test(tabc[l, "TRUE"], sum(tabc[l, ]), correct = FALSE)$conf.int))
  rate_out[[nm]] <- rbind(
    data.frame(data = nm, what = c("ref_events", "ref_n", "events", "n", "statistic", "p_value",
                                   "risk_difference", "rd_ci_low", "rd_ci_high",
                                   "omnibus_statistic", "omnibus_df", "omnibus_p_value"),
               level = ds$other,
               value = c(x[1], n[1], x[2], n[2], unname(pt$statistic), pt$p.value,
                         p1 - p2, nc_low, nc_high, unname(om$statistic), unname(om$parameter), om$p.value)),
    data.frame(data = nm, what = "wilson_low", level = rownames(tabc), value = wil[, 1]),
    data.frame(data = nm, what = "wilson_high", level = rownames(tabc), value = wil[, 2])
  )
}

save(km_tab, "ref_km_table.csv")
save(km_sum, "ref_km_summary.csv")
save(lr, "ref_logrank.csv")
save(ci_tab, "ref_cuminc_table.csv")
save(gray, "ref_gray.csv")
save(cox_out, "ref_cox.csv")
save(zph_out, "ref_zph.csv")
save(glm_out, "ref_logistic.csv")
save(rate_out, "ref_rates.csv")
