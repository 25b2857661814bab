# Fixtures for gaussmix's mclust covariance families (crates/gaussmix/src/covariance/family.rs).
#
# Writes crates/gaussmix/tests/fixtures/mclust/{faithful,iris}.json and nvarparams.json with
# mclust's M-steps (mstep), MAP M-steps (mstep with prior = priorControl()), its EM iterates
# (me with itmax = 1, 2, 5, 20 and tol = 0, with and without the prior), defaultPrior()
# hyperparameters and nVarParams(), all from fixed, seeded responsibility matrices.
#
# Usage (from the repository root; needs R and the mclust package, Debian: r-cran-mclust):
#   Rscript scripts/gen_mclust_fixtures.R
# CI does not run this: its outputs are committed. Only base R and mclust are used (numbers are
# written with sprintf("%.17g"), which round-trips every double exactly).
#
# Conventions of the output (row-major, 0-based component order as in mclust):
#   data   n x d        z      n x G      (the responsibilities every call of a case starts from)
#   mean   G x d        sigma  G x d x d  pro  G
# A fit mclust refuses (a family without prior support, "cannot compute M-step") is null.

suppressPackageStartupMessages(library(mclust))

# mclust 6.0.0 has no MAP M-step for these four (mstep/me warn "not available with prior")
no_prior <- c("VEE", "EVE", "VVE", "EVV")
families <- c("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
              "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
Gs <- 2:5
me_iters <- c(1, 2, 5, 20)
out_dir <- file.path("crates", "gaussmix", "tests", "fixtures", "mclust")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------- a minimal JSON writer
num <- function(x) {
  x <- as.double(x)
  ifelse(is.na(x), "null", sprintf("%.17g", x))
}
json <- function(x) {
  if (is.null(x)) return("null")
  if (is.list(x)) {
    nm <- names(x)
    if (!is.null(nm)) {
      keys <- vapply(nm, function(k) paste0("\"", k, "\""), "")
      vals <- vapply(x, json, "")
      return(paste0("{", paste0(keys, ":", vals, collapse = ","), "}"))
    }
    return(paste0("[", paste(vapply(x, json, ""), collapse = ","), "]"))
  }
  if (is.character(x)) {
    s <- gsub("\\\\", "\\\\\\\\", x)
    s <- gsub("\"", "\\\\\"", s)
    if (length(x) == 1) return(paste0("\"", s, "\""))
    return(paste0("[", paste0("\"", s, "\"", collapse = ","), "]"))
  }
  if (is.logical(x) && length(x) == 1) return(if (is.na(x)) "null" else tolower(as.character(x)))
  if (length(x) == 1 && is.null(dim(x))) return(num(x))
  paste0("[", paste(num(x), collapse = ","), "]")
}
# matrix -> list of rows; array p x p x G -> list of G matrices
rows <- function(m) lapply(seq_len(nrow(m)), function(i) as.double(m[i, ]))
slices <- function(a) lapply(seq_len(dim(a)[3]), function(k) rows(a[, , k, drop = TRUE]))

# ------------------------------------------------------------------ the fits
params_of <- function(fit, d, G, call) {
  if (is.null(fit)) return(NULL)
  par <- fit$parameters
  sigma <- par$variance$sigma
  if (is.null(sigma) || any(!is.finite(sigma)) || any(!is.finite(par$mean))) return(NULL)
  sigma <- array(sigma, c(d, d, G))
  # mclust returns zeros (not an error) for the families it has no prior for
  if (any(apply(sigma, 3, function(s) any(diag(s) <= 0)))) return(NULL)
  res <- list(call = call,
              pro = as.double(par$pro),
              mean = rows(t(matrix(par$mean, d, G))),
              sigma = slices(sigma))
  if (!is.null(fit$loglik)) res$loglik <- as.double(fit$loglik)
  res
}

quiet <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) NULL)
}

start_z <- function(data, G, seed) {
  # hierarchical (deterministic) classification, made soft with seeded noise, rows renormalised
  cl <- hclass(hc(data, modelName = "VVV", use = "VARS"), G)
  set.seed(seed)
  z <- 0.7 * unmap(cl) + 0.3 * matrix(runif(nrow(data) * G), nrow(data), G)
  z / rowSums(z)
}

prior_json <- function(pp, d) {
  sc <- pp$scale
  list(shrinkage = as.double(pp$shrinkage), mean = as.double(pp$mean), dof = as.double(pp$dof),
       scale = if (length(sc) == 1) as.double(sc) else rows(matrix(sc, d, d)))
}

one_dataset <- function(name, data, seed) {
  data <- as.matrix(data)
  dimnames(data) <- NULL
  n <- nrow(data)
  d <- ncol(data)
  cases <- list()
  for (G in Gs) {
    z <- start_z(data, G, seed + G)
    fams <- list()
    for (m in families) {
      cat(name, "G =", G, m, "\n")
      ms <- params_of(quiet(mstep(data = data, modelName = m, z = z, warn = FALSE)), d, G,
                      sprintf("mstep(modelName = \"%s\", data, z)", m))
      msp <- if (m %in% no_prior) NULL else params_of(quiet(mstep(data = data, modelName = m, z = z,
                                   prior = priorControl(), warn = FALSE)), d, G,
                       sprintf("mstep(modelName = \"%s\", data, z, prior = priorControl())", m))
      me_fits <- list()
      mep_fits <- list()
      for (it in me_iters) {
        ctrl <- emControl(itmax = c(it, .Machine$integer.max),
                          tol = c(0, sqrt(.Machine$double.eps)))
        call <- sprintf(paste0("me(modelName = \"%s\", data, z, control = emControl(itmax = ",
                               "c(%d, .Machine$integer.max), tol = c(0, sqrt(.Machine$double.eps))))"),
                        m, it)
        f <- params_of(quiet(me(data = data, modelName = m, z = z, control = ctrl, warn = FALSE)),
                       d, G, call)
        if (!is.null(f)) f$itmax <- it
        me_fits[length(me_fits) + 1] <- list(f)
        callp <- sub("control =", "prior = priorControl(), control =", call, fixed = TRUE)
        fp <- if (m %in% no_prior) NULL else params_of(quiet(me(data = data, modelName = m, z = z, prior = priorControl(),
                                 control = ctrl, warn = FALSE)), d, G, callp)
        if (!is.null(fp)) fp$itmax <- it
        mep_fits[length(mep_fits) + 1] <- list(fp)
      }
      pp <- quiet(defaultPrior(data, G, m))
      fams[[m]] <- list(mstep = ms, mstep_prior = msp, me = me_fits, me_prior = mep_fits,
                        default_prior = if (is.null(pp)) NULL else prior_json(pp, d))
    }
    cases[[length(cases) + 1]] <- list(G = G, z = rows(z), families = fams)
  }
  doc <- list(
    generator = "scripts/gen_mclust_fixtures.R",
    mclust_version = as.character(packageVersion("mclust")),
    r_version = R.version.string,
    dataset = name,
    z_recipe = paste0("z <- 0.7 * unmap(hclass(hc(data, modelName = \"VVV\", use = \"VARS\"), G)) + ",
                      "0.3 * matrix(runif(n * G), n, G) after set.seed(", seed, " + G); ",
                      "z <- z / rowSums(z)"),
    n = n, d = d,
    data = rows(data),
    data_mean = as.double(colMeans(data)),
    data_cov = rows(var(data)),
    cases = cases)
  path <- file.path(out_dir, paste0(name, ".json"))
  writeLines(json(doc), path)
  cat("wrote", path, "\n")
}

one_dataset("faithful", datasets::faithful, 1000)
one_dataset("iris", datasets::iris[, 1:4], 2000)

# nVarParams for every family, G = 1..9, d = 1..8
nv <- list()
for (m in families) {
  tab <- list()
  for (G in 1:9) tab[[G]] <- vapply(1:8, function(d) nVarParams(m, d, G), 0)
  nv[[m]] <- tab
}
writeLines(json(list(generator = "scripts/gen_mclust_fixtures.R",
                     mclust_version = as.character(packageVersion("mclust")),
                     layout = "values[family][G - 1][d - 1] = nVarParams(family, d, G)",
                     values = nv)),
           file.path(out_dir, "nvarparams.json"))
cat("done\n")
