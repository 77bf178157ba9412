# Reference values for the comparison of units (iopstats issue 13).
#
# Run from this folder with R >= 4.2 and metafor (Debian r-cran-metafor):
#   Rscript units_reference.R
# It writes the CSV files beside it, which tests/compare/test_units_reference.py
# compares against without R. Everything here is base R or metafor; the funnel
# formulas are written out from Spiegelhalter (2005, appendix A.1) and from the
# FunnelPlotR conventions (z-scores, Winsorising, phi, tau2); the control-chart
# formulas from qicharts2 (qic.p, qic.pp, runs.analysis).

suppressPackageStartupMessages(library(metafor))
options(digits = 15)
out <- function(df, name) write.csv(df, name, row.names = FALSE)

# ---------------------------------------------------------------- shrinkage (metafor)
units <- data.frame(
  unit = sprintf("u%02d", 1:15),
  xi = c(12, 45, 3, 0, 88, 150, 20, 7, 33, 61, 5, 18, 240, 9, 40),
  ni = c(30, 90, 11, 8, 160, 260, 25, 40, 60, 100, 5, 45, 400, 14, 120)
)
out(units, "units_shrinkage_data.csv")
rows <- list(); fits <- list()
for (meth in c("REML", "DL")) {
  for (thr in c("default", "tight")) {
    ctrl <- if (thr == "tight") list(threshold = 1e-12, maxiter = 10000) else list()
    m <- rma(measure = "PLO", xi = xi, ni = ni, data = units, method = meth, control = ctrl)
    b <- blup(m)
    rows[[length(rows) + 1]] <- data.frame(method = meth, control = thr, unit = units$unit, yi = as.numeric(m$yi),
                                          vi = m$vi, pred = b$pred, se = b$se, pi_lb = b$pi.lb, pi_ub = b$pi.ub)
    fits[[length(fits) + 1]] <- data.frame(method = meth, control = thr, tau2 = m$tau2, mu = as.numeric(m$beta),
                                          se = m$se, QE = m$QE)
  }
}
out(do.call(rbind, rows), "units_metafor_blup.csv")
out(do.call(rbind, fits), "units_metafor_fit.csv")

# ---------------------------------------------------------------- poisson.test (exact O/E)
pairs <- data.frame(observed = c(0, 1, 3, 10, 25, 150, 1000, 7),
                    expected = c(2.5, 0.7, 7.2, 8, 18.3, 171.4, 950.5, 7))
pt <- list()
for (conf in c(0.95, 0.998)) {
  for (i in seq_len(nrow(pairs))) {
    t <- poisson.test(pairs$observed[i], pairs$expected[i], conf.level = conf)
    pt[[length(pt) + 1]] <- data.frame(observed = pairs$observed[i], expected = pairs$expected[i], confidence = conf,
                                      ci_low = t$conf.int[1], ci_high = t$conf.int[2], p_value = t$p.value)
  }
}
pt <- do.call(rbind, pt)
# Byar's approximation (Breslow & Day 1987), closed form
z <- qnorm(1 - (1 - pt$confidence) / 2)
o <- pt$observed
pt$byar_low <- ifelse(o > 0, o * (1 - 1 / (9 * o) - z / (3 * sqrt(o)))^3, 0) / pt$expected
pt$byar_high <- (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * sqrt(o + 1)))^3 / pt$expected
out(pt, "units_poisson_test.csv")

# ---------------------------------------------------------------- funnel: exact limits
lim_binom <- function(n, p0, p) {
  r <- qbinom(p, n, p0)
  a <- (pbinom(r, n, p0) - p) / (pbinom(r, n, p0) - pbinom(r - 1, n, p0))
  pmin(pmax((r - a) / n, 0), 1)
}
lim_pois <- function(e, t0, p) {
  r <- qpois(p, t0 * e)
  a <- (ppois(r, t0 * e) - p) / (ppois(r, t0 * e) - ppois(r - 1, t0 * e))
  pmax((r - a) / e, 0)
}
ns <- c(5, 12, 30, 100, 500, 4000)
es <- c(0.8, 3.5, 12, 60, 400)
ex <- rbind(
  data.frame(statistic = "proportion", target = 0.43, n = ns,
             lower_95 = lim_binom(ns, 0.43, 0.025), upper_95 = lim_binom(ns, 0.43, 0.975),
             lower_998 = lim_binom(ns, 0.43, 0.001), upper_998 = lim_binom(ns, 0.43, 0.999)),
  data.frame(statistic = "ratio", target = 1, n = es,
             lower_95 = lim_pois(es, 1, 0.025), upper_95 = lim_pois(es, 1, 0.975),
             lower_998 = lim_pois(es, 1, 0.001), upper_998 = lim_pois(es, 1, 0.999)))
out(ex, "units_funnel_exact.csv")

# ---------------------------------------------------------------- funnel: overdispersion (FunnelPlotR conventions)
set.seed(13)
k <- 24
fn <- round(exp(runif(k, log(20), log(3000))))
fp <- plogis(qlogis(0.45) + rnorm(k, 0, 0.35))
fx <- rbinom(k, fn, fp)
fdat <- data.frame(unit = sprintf("p%02d", 1:k), events = fx, n = fn)
out(fdat, "units_funnel_data.csv")
od <- function(events, n, statistic, trim = 0.1) {
  if (statistic == "proportion") {
    target <- sum(events) / sum(n); y <- asin(sqrt(events / n)); y0 <- asin(sqrt(target))
  } else {
    target <- 1; y <- sqrt(events / n); y0 <- 1
  }
  s <- 1 / (2 * sqrt(n))
  zz <- (y - y0) / s
  lz <- quantile(zz, trim); uz <- quantile(zz, 1 - trim)
  wz <- ifelse(zz < lz, lz, ifelse(zz > uz, uz, zz))
  m <- length(zz)
  phi <- sum(wz^2) / m
  w <- 1 / s^2
  tau2 <- if (m * phi < m - 1) 0 else max(0, (m * phi - (m - 1)) / (sum(w) - sum(w^2) / sum(w)))
  back <- function(v) if (statistic == "proportion") sin(pmin(pmax(v, 0), pi / 2))^2 else pmax(v, 0)^2
  res <- data.frame(z = zz, z_winsorised = wz)
  for (lev in c(0.95, 0.998)) {
    q <- qnorm(0.5 + lev / 2); tag <- if (lev == 0.95) "95" else "998"
    res[[paste0("add_lower_", tag)]] <- back(y0 - q * sqrt(s^2 + tau2))
    res[[paste0("add_upper_", tag)]] <- back(y0 + q * sqrt(s^2 + tau2))
    res[[paste0("mult_lower_", tag)]] <- back(y0 - q * sqrt(max(phi, 1)) * s)
    res[[paste0("mult_upper_", tag)]] <- back(y0 + q * sqrt(max(phi, 1)) * s)
  }
  list(units = res, fit = data.frame(statistic = statistic, target = target, phi = phi, tau2 = tau2))
}
pr <- od(fdat$events, fdat$n, "proportion")
# the same units read as observed / expected ratios (expected = n * pooled rate)
fdat$expected <- fdat$n * sum(fdat$events) / sum(fdat$n)
rr <- od(fdat$events, fdat$expected, "ratio")
out(cbind(fdat[, c("unit", "events", "n")], statistic = "proportion", pr$units), "units_funnel_od_proportion.csv")
out(cbind(fdat[, c("unit", "events", "expected")], statistic = "ratio", rr$units), "units_funnel_od_ratio.csv")
out(rbind(pr$fit, rr$fit), "units_funnel_od_fit.csv")

# ---------------------------------------------------------------- indirect standardisation (glm)
set.seed(2013)
N <- 900
sites <- c("north", "south", "east", "west", "tiny")
site <- sample(sites, N, replace = TRUE, prob = c(0.3, 0.3, 0.2, 0.18, 0.02))
sex <- sample(c("female", "male"), N, replace = TRUE)
age <- sample(c("18-29", "30-44", "45+"), N, replace = TRUE, prob = c(0.4, 0.4, 0.2))
lp <- -0.2 + 0.5 * (sex == "male") - 0.4 * (age == "30-44") + 0.3 * (age == "45+") +
  0.6 * (site == "north") + 0.3 * (site == "west") + 0.4 * (site == "east" & age == "45+")
y <- rbinom(N, 1, plogis(lp))
cm <- data.frame(site = site, sex = sex, age = age, y = y)
out(cm, "units_casemix_data.csv")
std <- function(fit, data) {
  e <- tapply(predict(fit, newdata = data, type = "response"), data$site, sum)
  o <- tapply(data$y, data$site, sum)
  n <- tapply(data$y, data$site, length)
  r <- list()
  for (s in names(o)) {
    t <- poisson.test(o[[s]], e[[s]])
    r[[s]] <- data.frame(unit = s, n = n[[s]], observed = o[[s]], expected = e[[s]], ratio = o[[s]] / e[[s]],
                         ci_low = t$conf.int[1], ci_high = t$conf.int[2], p_value = t$p.value)
  }
  do.call(rbind, r)
}
pooled <- glm(y ~ sex + age, family = binomial, data = cm)
st_pooled <- std(pooled, cm)
st_pooled$model <- "pooled"
st_pooled$reference_rate <- mean(cm$y)
# a model fitted elsewhere: on north and south only, applied to every site
ext_data <- cm[cm$site %in% c("north", "south"), ]
external <- glm(y ~ sex + age, family = binomial, data = ext_data)
st_ext <- std(external, cm)
st_ext$model <- "external"
st_ext$reference_rate <- mean(ext_data$y)
out(rbind(st_pooled, st_ext), "units_casemix_expected.csv")
out(data.frame(term = names(coef(external)), coef = unname(coef(external))), "units_casemix_external_coef.csv")

# ---------------------------------------------------------------- control charts (qicharts2 formulas)
m <- 5:60
out(data.frame(m = m, longest_run_max = round(log2(m)) + 3, crossings_min = qbinom(0.05, m - 1, 0.5)),
    "units_anhoej_limits.csv")
set.seed(7)
periods <- 24
cn <- round(runif(periods, 80, 400))
cx <- rbinom(periods, cn, plogis(qlogis(0.5) + rnorm(periods, 0, 0.25) + c(rep(0, 16), rep(0.5, 8))))
cl <- sum(cx) / sum(cn)
p <- cx / cn
sd <- sqrt(cl * (1 - cl) / cn)
zz <- (p - cl) / sd
sigma_z <- mean(abs(diff(zz))) / 1.128
runs <- sign(p - cl); runs <- runs[runs != 0]
rl <- rle(runs)$lengths
cc <- data.frame(period = 1:periods, events = cx, n = cn, rate = p, center = cl,
                 p_lcl = pmax(cl - 3 * sd, 0), p_ucl = pmin(cl + 3 * sd, 1),
                 pp_lcl = pmax(cl - 3 * sd * sigma_z, 0), pp_ucl = pmin(cl + 3 * sd * sigma_z, 1),
                 sigma_z = sigma_z, longest_run = max(rl), crossings = length(rl) - 1)
out(cc, "units_control_chart.csv")
# u and u' charts (qic.u, qic.up): events per exposure
ue <- round(runif(periods, 500, 3000))
ux <- rpois(periods, ue * 0.02 * exp(rnorm(periods, 0, 0.2)))
ucl <- sum(ux) / sum(ue)
usd <- sqrt(ucl / ue)
uz <- (ux / ue - ucl) / usd
usig <- mean(abs(diff(uz))) / 1.128
out(data.frame(period = 1:periods, events = ux, exposure = ue, rate = ux / ue, center = ucl,
               u_lcl = pmax(ucl - 3 * usd, 0), u_ucl = ucl + 3 * usd,
               up_lcl = pmax(ucl - 3 * usd * usig, 0), up_ucl = ucl + 3 * usd * usig, sigma_z = usig),
    "units_u_chart.csv")
cat("RDONE\n")
