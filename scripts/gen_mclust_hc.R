# mclust's hierarchical agglomeration, the start of Mclust's EM: the partitions
# hclass(hc(x, modelName = "VVV", use = "SVD"), G) for G = 1..9 on the bundled faithful and
# iris data (numeric columns) and on a seeded rounded mixture (values to one decimal, so that
# many merges cost exactly the same and the order of ties decides the tree). gaussmix's
# `hc::agglomerate` with mclust's rule for ties must give the same partitions.
#
# Writes crates/gaussmix/tests/fixtures/mclust/hc.json; run from the repository root:
#   Rscript scripts/gen_mclust_hc.R
# Needs R and mclust (Debian: r-cran-mclust); CI does not run it (the output is committed).
suppressPackageStartupMessages(library(mclust))
Gs <- 1:9
sets <- list()
for (p in c("faithful", "iris")) {
  x <- read.csv(file.path("data", paste0(p, ".csv")))
  sets[[p]] <- as.matrix(x[, names(x) != "X" & sapply(x, is.numeric), drop = FALSE])
}
set.seed(11)
z <- sample.int(3, 300, replace = TRUE)
mu <- matrix(c(0, 0, 0, 3, 1, -1, -2, 4, 2), 3, 3, byrow = TRUE)
sets[["rounded"]] <- round(mu[z, ] + matrix(rnorm(900), 300, 3), 1)
num <- function(v) paste(sprintf("%.17g", v), collapse = ",")
parts <- character(0)
for (p in names(sets)) {
  x <- sets[[p]]
  cl <- hclass(hc(x, modelName = "VVV", use = "SVD"), Gs)
  labels <- vapply(seq_along(Gs), function(i) sprintf("[%s]", paste(cl[, i], collapse = ",")), "")
  data <- vapply(seq_len(nrow(x)), function(r) sprintf("[%s]", num(x[r, ])), "")
  parts <- c(parts, sprintf("\"%s\":{\"data\":[%s],\"labels\":[%s]}", p,
                            paste(data, collapse = ","), paste(labels, collapse = ",")))
}
out <- sprintf("{\"generator\":\"scripts/gen_mclust_hc.R\",\"mclust_version\":\"%s\",\"G\":[%s],%s}\n",
               as.character(packageVersion("mclust")), paste(Gs, collapse = ","),
               paste(parts, collapse = ","))
cat(out, file = file.path("crates", "gaussmix", "tests", "fixtures", "mclust", "hc.json"))
