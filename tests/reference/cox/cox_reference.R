# Reference values for iopstats.stats.cox / cox_zph, computed with R's survival package.
# Run from this folder:  Rscript cox_reference.R   (writes cox_reference.csv, zph_reference.csv)
# Inputs are the CSVs beside this script (make_inputs.py wrote them, seeded).
# Convergence is tightened (eps = 1e-11) so the values are the maximum partial likelihood
# estimates to ~1e-10; R's default eps = 1e-9 agrees with them to ~1e-8 relative.
suppressPackageStartupMessages(library(survival))
cat("survival", as.character(packageVersion("survival")), "\n")
ctl <- coxph.control(eps = 1e-11, iter.max = 50)
out <- list()
zout <- list()

dump_fit <- function(model, fit, terms) {
  stopifnot(length(terms) == length(coef(fit)))
  b <- coef(fit)
  v <- fit$var
  rows <- data.frame(model = model, what = "coef", term = terms, value = unname(b))
  rows <- rbind(rows, data.frame(model = model, what = "se", term = terms, value = sqrt(diag(v))))
  if (!is.null(fit$naive.var)) {
    rows <- rbind(rows, data.frame(model = model, what = "naive_se", term = terms,
                                   value = sqrt(diag(fit$naive.var))))
  }
  for (i in seq_along(terms)) for (j in seq_along(terms)) {
    rows <- rbind(rows, data.frame(model = model, what = "var",
                                   term = paste0(terms[i], "|", terms[j]), value = v[i, j]))
  }
  s <- c(loglik_null = fit$loglik[1], loglik = fit$loglik[2], n = fit$n, n_events = fit$nevent,
         lr = 2 * (fit$loglik[2] - fit$loglik[1]), wald = unname(fit$wald.test),
         score = unname(fit$score), df = length(b))
  if (!is.null(fit$rscore)) s <- c(s, robust_score = unname(fit$rscore))
  rows <- rbind(rows, data.frame(model = model, what = names(s), term = "", value = unname(s)))
  out[[model]] <<- rows
}

dump_zph <- function(model, z, terms) {
  tab <- z$table
  stopifnot(nrow(tab) == length(terms) + 1)
  zout[[model]] <<- data.frame(model = model, term = c(terms, "GLOBAL"),
                               chisq = tab[, "chisq"], df = tab[, "df"], p = tab[, "p"])
}

# ---- addicts (Caplehorn & Bell 1991) -------------------------------------------------
add <- read.csv("addicts.csv")
add$clinic <- factor(add$clinic)
f <- coxph(Surv(survt, status) ~ clinic + prison + dose, data = add, ties = "efron", control = ctl)
dump_fit("addicts_efron", f, c("clinic[2]", "prison", "dose"))
dump_zph("addicts_efron", cox.zph(f), c("clinic", "prison", "dose"))
dump_zph("addicts_efron_identity", cox.zph(f, transform = "identity"), c("clinic", "prison", "dose"))
f <- coxph(Surv(survt, status) ~ clinic + prison + dose, data = add, ties = "breslow", control = ctl)
dump_fit("addicts_breslow", f, c("clinic[2]", "prison", "dose"))
dump_zph("addicts_breslow", cox.zph(f), c("clinic", "prison", "dose"))
f <- coxph(Surv(survt, status) ~ prison + dose + strata(clinic), data = add, control = ctl)
dump_fit("addicts_strata", f, c("prison", "dose"))
dump_zph("addicts_strata", cox.zph(f), c("prison", "dose"))

# ---- CTN-0094 (public.ctn0094data), times in weeks -----------------------------------
ctn <- read.csv("ctn0094.csv")
ctn$arm <- factor(ctn$arm)
ctn$is_male <- factor(ctn$is_male)
arm_terms <- paste0("arm[", levels(ctn$arm)[-1], "]")
ctn_terms <- c(arm_terms, "age", "is_male[Yes]")
f <- coxph(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm + age + is_male,
           data = ctn, control = ctl)
dump_fit("ctn_dropout", f, ctn_terms)
dump_zph("ctn_dropout", cox.zph(f), c("arm", "age", "is_male"))
f <- coxph(Surv(ctn0094_dropout_time, ctn0094_dropout_event) ~ arm + age + is_male,
           data = ctn, ties = "breslow", control = ctl)
dump_fit("ctn_dropout_breslow", f, ctn_terms)
f <- coxph(Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ arm + age + is_male,
           data = ctn, control = ctl)
dump_fit("ctn_relapse", f, ctn_terms)
dump_zph("ctn_relapse", cox.zph(f), c("arm", "age", "is_male"))
f <- coxph(Surv(ctn0094_relapse_time, ctn0094_relapse_event) ~ arm + age + is_male,
           data = ctn, cluster = site_masked, control = ctl)
dump_fit("ctn_relapse_cluster_site", f, ctn_terms)

# ---- synthetic heavy ties, four categorical covariates ---------------------------------
rows <- read.csv("ties_rows.csv")
counts <- read.csv("ties_counts.csv")
ties_terms <- c("level_of_care[op]", "level_of_care[php]", "level_of_care[res_long]",
                "level_of_care[res_short]", "sex[male]", "age_group[30-44]", "age_group[45+]",
                "payer[none]", "payer[other]", "payer[private]")
form <- Surv(days, dropped) ~ level_of_care + sex + age_group + payer
f <- coxph(form, data = rows, control = ctl)
dump_fit("ties_rows_efron", f, ties_terms)
dump_zph("ties_rows_efron", cox.zph(f), c("level_of_care", "sex", "age_group", "payer"))
f <- coxph(form, data = rows, ties = "breslow", control = ctl)
dump_fit("ties_rows_breslow", f, ties_terms)
# Breslow with case weights equals the expanded rows in R as well:
f2 <- coxph(form, data = counts, weights = n, ties = "breslow", control = ctl)
stopifnot(max(abs(coef(f2) - coef(f))) < 1e-9)
f <- coxph(Surv(days, dropped) ~ level_of_care + sex + age_group + strata(payer), data = rows,
           control = ctl)
dump_fit("ties_rows_strata_payer", f, ties_terms[1:7])

# ---- repeated episodes per client: robust (cluster) variance, IPTW weights -------------
cl <- read.csv("clustered.csv")
cl_terms <- c("level_of_care[op]", "level_of_care[residential]", "age")
f <- coxph(Surv(days, readmitted) ~ level_of_care + age, data = cl, cluster = client_id,
           control = ctl)
dump_fit("clustered_client", f, cl_terms)
f <- coxph(Surv(days, readmitted) ~ level_of_care + age, data = cl, cluster = client_id,
           ties = "breslow", control = ctl)
dump_fit("clustered_client_breslow", f, cl_terms)
f <- coxph(Surv(days, readmitted) ~ level_of_care + age + strata(site), data = cl,
           cluster = client_id, control = ctl)
dump_fit("clustered_client_strata_site", f, cl_terms)
f <- coxph(Surv(days, readmitted) ~ level_of_care + age, data = cl, weights = iptw,
           robust = TRUE, control = ctl)
dump_fit("iptw_robust", f, cl_terms)
f <- coxph(Surv(days, readmitted) ~ level_of_care + age, data = cl, weights = iptw,
           cluster = client_id, control = ctl)
dump_fit("iptw_cluster", f, cl_terms)
f <- coxph(Surv(days, readmitted) ~ level_of_care + age, data = cl, weights = iptw, control = ctl)
# non-integer weights: coxph turns on the robust variance by itself
dump_fit("iptw_default", f, cl_terms)

write.csv(format(do.call(rbind, out), digits = 17), "cox_reference.csv", row.names = FALSE)
write.csv(format(do.call(rbind, zout), digits = 17), "zph_reference.csv", row.names = FALSE)
options(digits = 15)
