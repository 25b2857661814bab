# mclust's maximised log-likelihood for every family and G = 2..5 on the bundled faithful and
# iris data (numeric columns), with Mclust's default starts (hierarchical agglomeration):
# the floor `gaussmix::select` must reach cell by cell (issue 11's same-model requirement).
#
# Writes crates/gaussmix/tests/fixtures/mclust/loglik.json; run from the repository root:
#   Rscript scripts/gen_mclust_loglik.R
# Needs R and mclust (Debian: r-cran-mclust); CI does not run it (the output is committed).
# A cell mclust reports as NA (singular) is null. loglik = (BIC + npar log n) / 2 in mclust's
# sign, written with %.17g.
suppressPackageStartupMessages(library(mclust))
families <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
              "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
Gs <- 2:5
parts <- character(0)
for (p in c("faithful", "iris")) {
  x <- read.csv(file.path("data", paste0(p, ".csv")))
  x <- as.matrix(x[, names(x) != "X" & sapply(x, is.numeric), drop = FALSE])
  b <- mclustBIC(x, G = Gs, modelNames = families, verbose = FALSE)
  fams <- character(0)
  for (m in families) {
    v <- vapply(Gs, function(g) {
      bic <- b[as.character(g), m]
      if (is.na(bic)) return("null")
      sprintf("%.17g", (bic + nMclustParams(m, ncol(x), g) * log(nrow(x))) / 2)
    }, "")
    fams <- c(fams, sprintf("\"%s\":[%s]", m, paste(v, collapse = ",")))
  }
  parts <- c(parts, sprintf("\"%s\":{%s}", p, paste(fams, collapse = ",")))
}
out <- sprintf("{\"generator\":\"scripts/gen_mclust_loglik.R\",\"mclust_version\":\"%s\",\"G\":[%s],%s}\n",
               as.character(packageVersion("mclust")), paste(Gs, collapse = ","),
               paste(parts, collapse = ","))
cat(out, file = file.path("crates", "gaussmix", "tests", "fixtures", "mclust", "loglik.json"))
