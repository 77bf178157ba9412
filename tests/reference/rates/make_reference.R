# Reference values for tests/stats/test_rates*.py and tests/compare/test_*.py.
# Run from this folder:  Rscript make_reference.R   (R 4.2.2, base stats only)
num <- function(x) sprintf("%.17g", x)

# 1. Wilson intervals: prop.test(x, n, correct = FALSE)$conf.int
w <- data.frame(x = c(0, 1, 5, 37, 56, 48, 149, 150, 12), n = c(25, 25, 10, 120, 70, 80, 150, 150, 1000),
                conf = c(.95, .95, .95, .95, .95, .95, .95, .90, .99))
w$ci_low <- NA; w$ci_high <- NA
for (i in seq_len(nrow(w))) {
  ci <- prop.test(w$x[i], w$n[i], conf.level = w$conf[i], correct = FALSE)$conf.int
  w$ci_low[i] <- ci[1]; w$ci_high[i] <- ci[2]
}
write.csv(format(w, digits = 17), "wilson.csv", row.names = FALSE, quote = FALSE)

# 2. 2 x 2 comparisons, group 1 = reference (IOP), group 2 = other level
t2 <- data.frame(x1 = c(56, 90, 60, 30, 3, 12, 0, 45, 200),
                 n1 = c(70, 150, 150, 120, 20, 15, 18, 50, 1000),
                 x2 = c(48, 100, 66, 45, 9, 7, 4, 40, 150),
                 n2 = c(80, 200, 120, 110, 25, 14, 16, 50, 900))
for (alt in c("two.sided", "greater", "less")) {
  s <- p <- fp <- ch <- chp <- rep(NA, nrow(t2))
  for (i in seq_len(nrow(t2))) {
    x <- c(t2$x1[i], t2$x2[i]); n <- c(t2$n1[i], t2$n2[i])
    pt <- suppressWarnings(prop.test(x, n, alternative = alt, correct = FALSE))
    s[i] <- pt$statistic; p[i] <- pt$p.value
    m <- matrix(c(x[1], n[1] - x[1], x[2], n[2] - x[2]), 2, byrow = TRUE)
    fp[i] <- fisher.test(m, alternative = alt)$p.value
    if (alt == "two.sided") {
      cs <- suppressWarnings(chisq.test(m, correct = FALSE))
      ch[i] <- cs$statistic; chp[i] <- cs$p.value
    }
  }
  key <- sub("two.sided", "two_sided", alt)
  t2[[paste0("prop_stat_", key)]] <- s
  t2[[paste0("prop_p_", key)]] <- p
  t2[[paste0("fisher_p_", key)]] <- fp
  if (alt == "two.sided") { t2$chisq_stat <- ch; t2$chisq_p <- chp }
}
# Newcombe (1998) method 10 from the two Wilson intervals, written out in R
nw <- t(sapply(seq_len(nrow(t2)), function(i) {
  a <- prop.test(t2$x1[i], t2$n1[i], correct = FALSE)$conf.int
  b <- prop.test(t2$x2[i], t2$n2[i], correct = FALSE)$conf.int
  p1 <- t2$x1[i] / t2$n1[i]; p2 <- t2$x2[i] / t2$n2[i]
  c(p1 - p2 - sqrt((p1 - a[1])^2 + (b[2] - p2)^2), p1 - p2 + sqrt((a[2] - p1)^2 + (p2 - b[1])^2))
}))
t2$newcombe_low <- nw[, 1]; t2$newcombe_high <- nw[, 2]
write.csv(format(t2, digits = 17), "two_by_two.csv", row.names = FALSE, quote = FALSE)

# 3. omnibus chi-square of independence over k levels
om <- matrix(c(90, 60, 100, 100, 66, 54, 45, 65), ncol = 2, byrow = TRUE)
cs <- chisq.test(om, correct = FALSE)
writeLines(c("statistic,df,p_value", paste(num(cs$statistic), cs$parameter, num(cs$p.value), sep = ",")),
           "omnibus.csv")

# 4. p.adjust
pv <- c(0.01, 0.04, 0.03, 0.2, 0.0005, 0.04)
writeLines(c("p,holm,bh", paste(num(pv), num(p.adjust(pv, "holm")), num(p.adjust(pv, "BH")), sep = ",")),
           "p_adjust.csv")

# 5. power.prop.test (tight tolerance for n so the value is the exact root)
pw <- data.frame(p1 = c(0.5, 0.4, 0.55, 0.3, 0.6), p2 = c(0.75, 0.55, 0.4, 0.2, 0.65),
                 n = c(50, 150, 120, 300, 1000), alpha = c(0.05, 0.05, 0.01, 0.05, 0.1),
                 alternative = c("two.sided", "two.sided", "two.sided", "one.sided", "one.sided"),
                 target = c(0.9, 0.8, 0.8, 0.8, 0.9))
pw$power <- NA; pw$n_for_target <- NA
for (i in seq_len(nrow(pw))) {
  pw$power[i] <- power.prop.test(n = pw$n[i], p1 = pw$p1[i], p2 = pw$p2[i],
                                 sig.level = pw$alpha[i], alternative = pw$alternative[i])$power
  pw$n_for_target[i] <- power.prop.test(p1 = pw$p1[i], p2 = pw$p2[i], power = pw$target[i],
                                        sig.level = pw$alpha[i], alternative = pw$alternative[i],
                                        tol = 1e-12)$n
}
write.csv(format(pw, digits = 17), "power.csv", row.names = FALSE, quote = FALSE)
