# Reference values for tests/compare/test_relapse_rates.py.
# Rubin's rules with Barnard-Rubin (1999) degrees of freedom, written out as in
# van Buuren, Flexible Imputation of Missing Data (2nd ed.), sections 2.3.2-2.3.6
# (the formulas mice::pool uses), and Wilson intervals from prop.test(correct = FALSE).
# Run: Rscript rubin.R > rubin.json
q <- c(0.30, 0.32, 0.34, 0.29, 0.35)
n <- 120
u <- q * (1 - q) / n
m <- length(q)
qbar <- mean(q); ubar <- mean(u); b <- var(q)
t <- ubar + (1 + 1 / m) * b
lambda <- (1 + 1 / m) * b / t
dfcom <- n - 1
dfold <- (m - 1) / lambda^2
dfobs <- (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lambda)
df <- dfold * dfobs / (dfold + dfobs)
half <- qt(0.975, df) * sqrt(t)
w1 <- suppressWarnings(prop.test(2, 6, correct = FALSE)$conf.int)
w2 <- suppressWarnings(prop.test(6, 10, correct = FALSE)$conf.int)
cat(sprintf('{"q": [%s], "n": %d, "estimate": %.15g, "total_variance": %.15g, "df": %.15g,
 "ci_low": %.15g, "ci_high": %.15g,
 "wilson_2_6": [%.15g, %.15g], "wilson_6_10": [%.15g, %.15g]}\n',
  paste(q, collapse = ", "), n, qbar, t, df, qbar - half, qbar + half, w1[1], w1[2], w2[1], w2[2]))
