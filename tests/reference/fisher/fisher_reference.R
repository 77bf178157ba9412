# Reference values for the conditional maximum-likelihood odds ratio and its exact interval
# reported with Fisher's exact test (iopstats.compare_rates).
# Run from this folder:  Rscript fisher_reference.R   (R 4.2, base stats)
# Tables: group 1 = reference (IOP) events / n, group 2 = other level; the 2 x 2 matrix is
# rbind(c(x1, n1 - x1), c(x2, n2 - x2)) so the odds ratio is reference over level.
options(digits = 15)
t2 <- data.frame(x1 = c(56, 90, 60, 30, 3, 12, 0, 45, 200, 2, 9, 5),
                 n1 = c(70, 150, 150, 120, 20, 15, 18, 50, 1000, 12, 9, 5),
                 x2 = c(48, 100, 66, 45, 9, 7, 4, 40, 150, 7, 3, 0),
                 n2 = c(80, 200, 120, 110, 25, 14, 16, 50, 900, 11, 8, 6))
out <- list()
for (conf in c(0.95, 0.9)) for (i in seq_len(nrow(t2))) {
  m <- matrix(c(t2$x1[i], t2$n1[i] - t2$x1[i], t2$x2[i], t2$n2[i] - t2$x2[i]), 2, byrow = TRUE)
  f <- fisher.test(m, conf.level = conf)
  out[[length(out) + 1]] <- data.frame(t2[i, ], conf = conf, estimate = unname(f$estimate),
                                       ci_low = f$conf.int[1], ci_high = f$conf.int[2], p_value = f$p.value)
}
write.csv(do.call(rbind, out), "fisher_or.csv", row.names = FALSE)
