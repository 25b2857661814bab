//! `gaussmix select`: fit every (k, covariance type) pair, compare them by an information
//! criterion, keep the best.
//!
//! For a model with log-likelihood ln L on N rows and p free parameters:
//!
//! | criterion | formula (lower is better) |
//! |---|---|
//! | BIC | −2 ln L + p ln N |
//! | AIC | −2 ln L + 2p |
//! | ICL | BIC + 2 Σ_n Σ_k −γ_nk ln γ_nk (BIC plus twice the entropy of the responsibilities: it also penalises overlapping components) |
//!
//! Values of k above the number of rows cannot be fitted: they are skipped with a note
//! (an error only when nothing is left). A fit that fails (a covariance that stays
//! singular) is reported in the table and left out of the comparison.
//!
//! The pairs are fitted in parallel on the rayon pool; each fit is seeded on its own and
//! the library's reductions are in a fixed order, so the table and the chosen model do not
//! depend on the number of threads.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use gaussmix::{CovarianceType, GaussianMixture, GmmModel, InitMethod, IterationEvent};
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::commands::DataArgs;
use crate::io::{self, ReadOptions};
use crate::output::{self, Ticker};
use crate::util::with_threads;

/// Arguments of `select`.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// Data file (CSV, NPY, NPZ) or `-` for standard input.
    pub data: String,
    /// Numbers of components to try: `A..B` (inclusive), `A`, or a comma-separated list of
    /// either (e.g. `1..4,6,8`).
    #[arg(short = 'k', long = "k", default_value = "1..10")]
    pub k: String,
    /// Covariance types to try, comma-separated (full, tied, diag, spherical), or `all`.
    #[arg(long, default_value = "all")]
    pub covariance: String,
    /// Criterion to minimise: bic, aic or icl.
    #[arg(long, default_value = "bic")]
    pub criterion: String,
    /// Initialisations per fit; the best lower bound of each is kept.
    #[arg(long, default_value_t = 1)]
    pub n_init: usize,
    /// Initialisation: kmeans, k-means++, random or random-from-data.
    #[arg(long, default_value = "kmeans")]
    pub init: String,
    /// Maximum EM iterations per initialisation.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    pub tol: f64,
    /// Added to covariance diagonals.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Seed for every random choice (each fit uses the same seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress, table or notes on stderr/stdout.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the lower bound at every iteration of every fit.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Also write the table to a file (.csv, .tsv, or - for standard output).
    #[arg(long)]
    pub table: Option<String>,
    /// Draw the criterion against k, one curve per covariance type (.png or .svg).
    #[arg(long)]
    pub plot: Option<String>,
    /// Where to write the best model (JSON).
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

/// An information criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Bayesian information criterion.
    Bic,
    /// Akaike information criterion.
    Aic,
    /// Integrated completed likelihood (BIC + 2·entropy).
    Icl,
}

impl Criterion {
    /// Parses `bic`, `aic` or `icl` (any case).
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> Result<Criterion> {
        match s.to_ascii_lowercase().as_str() {
            "bic" => Ok(Criterion::Bic),
            "aic" => Ok(Criterion::Aic),
            "icl" => Ok(Criterion::Icl),
            _ => bail!("unknown criterion '{s}': use bic, aic or icl"),
        }
    }

    /// Upper-case name for tables and plots.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Bic => "BIC",
            Criterion::Aic => "AIC",
            Criterion::Icl => "ICL",
        }
    }
}

/// Parses a `--k` specification: `A..B` (inclusive; `A..=B` too), `A`, or a comma-separated
/// list of them. The result is sorted and without duplicates.
///
/// # Errors
/// A value that is not a whole number, k = 0, or a range whose start exceeds its end.
pub fn parse_k_range(spec: &str) -> Result<Vec<usize>> {
    let num = |s: &str| -> Result<usize> {
        let t = s.trim();
        if t.is_empty() {
            bail!("bad --k '{spec}': a bound is missing (write e.g. 1..10)");
        }
        let v: usize = t.parse().map_err(|_| {
            anyhow::anyhow!("bad --k '{spec}': '{t}' is not a whole number (write e.g. 1..10)")
        })?;
        if v == 0 {
            bail!("bad --k '{spec}': the number of components must be at least 1");
        }
        Ok(v)
    };
    let mut ks = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            bail!("bad --k '{spec}': empty item (write e.g. 1..10 or 2,4,8)");
        }
        if let Some((a, b)) = part.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                bail!("bad --k '{spec}': the range {a}..{b} is empty (start above end; write {b}..{a})");
            }
            if b - a > 10_000 {
                bail!("bad --k '{spec}': more than 10000 values of k");
            }
            ks.extend(a..=b);
        } else {
            ks.push(num(part)?);
        }
    }
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}

/// Parses a `--covariance` list: comma-separated type names, or `all`.
///
/// # Errors
/// An unknown name, or an empty list.
pub fn parse_covariances(spec: &str) -> Result<Vec<CovarianceType>> {
    if spec.trim().eq_ignore_ascii_case("all") {
        return Ok(CovarianceType::ALL.to_vec());
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let p = part.trim();
        if p.is_empty() {
            bail!("bad --covariance '{spec}': empty item (use full, tied, diag, spherical or all)");
        }
        let t: CovarianceType = p.parse().map_err(|_| {
            anyhow::anyhow!(
                "unknown covariance type '{p}' in --covariance '{spec}': use full, tied, diag, spherical, a comma-separated list of them, or all"
            )
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// One fitted (or failed) candidate of a selection.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Number of components.
    pub k: usize,
    /// Covariance type.
    pub covariance: CovarianceType,
    /// The fitted model and its scores, or why the fit failed.
    pub fit: std::result::Result<Scored, String>,
}

/// A fitted model with its information criteria.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The model.
    pub model: GmmModel,
    /// Total log-likelihood ln L of the data.
    pub log_likelihood: f64,
    /// Free parameters p.
    pub n_parameters: usize,
    /// −2 ln L + p ln N.
    pub bic: f64,
    /// −2 ln L + 2p.
    pub aic: f64,
    /// BIC + 2·entropy of the responsibilities.
    pub icl: f64,
    /// Whether EM converged.
    pub converged: bool,
}

impl Scored {
    /// Scores a fitted model on `x`.
    ///
    /// # Errors
    /// The model's errors on `x`.
    pub fn new(model: GmmModel, x: ArrayView2<f64>) -> Result<Scored> {
        let n = x.nrows() as f64;
        let resp = model.predict_proba(x)?;
        let ll = model.score_samples(x)?.sum();
        let entropy: f64 = resp
            .iter()
            .map(|&g| if g > 0.0 { -g * g.ln() } else { 0.0 })
            .sum();
        let p = model.n_parameters();
        let bic = -2.0 * ll + p as f64 * n.ln();
        let aic = -2.0 * ll + 2.0 * p as f64;
        Ok(Scored {
            converged: model.info().converged,
            model,
            log_likelihood: ll,
            n_parameters: p,
            bic,
            aic,
            icl: bic + 2.0 * entropy,
        })
    }

    /// The value of a criterion.
    pub fn criterion(&self, c: Criterion) -> f64 {
        match c {
            Criterion::Bic => self.bic,
            Criterion::Aic => self.aic,
            Criterion::Icl => self.icl,
        }
    }
}

/// Fits every pair with the estimator `make(k, covariance)`, in parallel on the current
/// rayon pool, and returns the candidates in the order of `pairs`. With `verbose`, each
/// EM iteration's lower bound is printed on stderr, labelled with its pair.
pub fn fit_all(
    x: ArrayView2<f64>,
    pairs: &[(usize, CovarianceType)],
    make: &(dyn Fn(usize, CovarianceType) -> GaussianMixture + Sync),
    ticker: &Ticker,
    verbose: bool,
) -> Vec<Candidate> {
    pairs
        .par_iter()
        .map(|&(k, covariance)| {
            let g = make(k, covariance);
            let mut observer = |e: &IterationEvent| {
                if verbose {
                    eprintln!(
                        "k={k} {covariance}: init {} iter {:>4}  lower bound {:.10}  change {:.3e}",
                        e.init + 1,
                        e.iter,
                        e.lower_bound,
                        e.change
                    );
                }
            };
            let fit = g
                .fit_observed(x, None, None, &mut observer)
                .map_err(anyhow::Error::from)
                .and_then(|m| Scored::new(m, x))
                .map_err(|e| format!("{e:#}"));
            ticker.tick(&format!("k={k} {covariance}"));
            Candidate { k, covariance, fit }
        })
        .collect()
}

/// Index of the candidate with the lowest criterion (the first on ties), if any fitted.
pub fn best_index(cands: &[Candidate], c: Criterion) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, cand) in cands.iter().enumerate() {
        if let Ok(s) = &cand.fit {
            let v = s.criterion(c);
            if v.is_finite() && best.is_none_or(|(_, b)| v < b) {
                best = Some((i, v));
            }
        }
    }
    best.map(|(i, _)| i)
}

/// The human table of a selection, best row marked with `*`.
pub fn format_table(cands: &[Candidate], best: Option<usize>, c: Criterion) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:>3}  {:<9}  {:>15}  {:>6}  {:>14}  {:>14}  {:>14}  converged",
        "k", "covariance", "log-likelihood", "params", "BIC", "AIC", "ICL"
    );
    for (i, cand) in cands.iter().enumerate() {
        let mark = if Some(i) == best { '*' } else { ' ' };
        match &cand.fit {
            Ok(s) => {
                let _ = writeln!(
                    out,
                    "{mark} {:>3}  {:<9}  {:>15.4}  {:>6}  {:>14.4}  {:>14.4}  {:>14.4}  {}",
                    cand.k,
                    cand.covariance.name(),
                    s.log_likelihood,
                    s.n_parameters,
                    s.bic,
                    s.aic,
                    s.icl,
                    if s.converged { "yes" } else { "no" }
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{mark} {:>3}  {:<9}  failed: {e}",
                    cand.k,
                    cand.covariance.name()
                );
            }
        }
    }
    if let Some(b) = best {
        let _ = writeln!(
            out,
            "best by {}: k={} {}",
            c.name(),
            cands[b].k,
            cands[b].covariance
        );
    }
    out
}

/// Writes the table as CSV/TSV (empty cells for failed fits).
fn write_table_file(path: &str, cands: &[Candidate], best: Option<usize>) -> Result<()> {
    let rows: Vec<Vec<String>> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut r = vec![c.k.to_string(), c.covariance.name().to_string()];
            match &c.fit {
                Ok(s) => r.extend([
                    format!("{:?}", s.log_likelihood),
                    s.n_parameters.to_string(),
                    format!("{:?}", s.bic),
                    format!("{:?}", s.aic),
                    format!("{:?}", s.icl),
                    s.converged.to_string(),
                    String::new(),
                ]),
                Err(e) => {
                    r.extend(std::iter::repeat_n(String::new(), 5));
                    r.extend(["false".to_string(), e.clone()]);
                }
            }
            r.push((Some(i) == best).to_string());
            r
        })
        .collect();
    output::write_text_table(
        path,
        &[
            "k",
            "covariance",
            "log_likelihood",
            "n_parameters",
            "bic",
            "aic",
            "icl",
            "converged",
            "error",
            "best",
        ],
        &rows,
    )
}

/// `gaussmix select`.
pub fn select(a: &SelectArgs) -> Result<()> {
    let ks = parse_k_range(&a.k)?;
    let covs = parse_covariances(&a.covariance)?;
    let criterion = Criterion::parse(&a.criterion)?;
    let init: InitMethod = a.init.parse()?;
    // validate the shared parameters once, before reading anything
    GaussianMixture::new(1)
        .n_init(a.n_init)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .validate()?;
    if let Some(t) = &a.table {
        output::check_table_output(t)?;
    }
    if let Some(p) = &a.plot {
        crate::plot::check_plot_output(p)?;
    }
    io::check_output_path(&a.output)?;
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: None,
        array: a.data_args.array.clone(),
        quiet: a.quiet,
    };
    let data = io::read_dataset(&a.data, &opts)?;
    let x = data.x.view();
    let n = x.nrows();
    let usable: Vec<usize> = ks.iter().copied().filter(|&k| k <= n).collect();
    if usable.is_empty() {
        bail!(
            "{} has {n} rows: every k in --k {} is above that (a mixture needs at least as many rows as components)",
            a.data,
            a.k
        );
    }
    if usable.len() < ks.len() && !a.quiet {
        let skipped: Vec<String> = ks
            .iter()
            .filter(|&&k| k > n)
            .map(|k| k.to_string())
            .collect();
        eprintln!(
            "note: skipping k = {} (more components than the {n} rows)",
            skipped.join(", ")
        );
    }
    let pairs: Vec<(usize, CovarianceType)> = covs
        .iter()
        .flat_map(|&c| usable.iter().map(move |&k| (k, c)))
        .collect();
    let make = |k: usize, c: CovarianceType| {
        GaussianMixture::new(k)
            .covariance_type(c)
            .init(init)
            .n_init(a.n_init)
            .max_iter(a.max_iter)
            .tol(a.tol)
            .reg_covar(a.reg_covar)
            .seed(a.seed)
    };
    let start = Instant::now();
    let ticker = Ticker::new("fits", pairs.len(), !a.quiet);
    let cands = with_threads(a.threads, || fit_all(x, &pairs, &make, &ticker, a.verbose))?;
    ticker.finish();
    let best = best_index(&cands, criterion);
    if !a.quiet {
        print!("{}", format_table(&cands, best, criterion));
    }
    let Some(b) = best else {
        let first = cands
            .iter()
            .find_map(|c| c.fit.as_ref().err().cloned())
            .unwrap_or_default();
        bail!(
            "no (k, covariance) pair could be fitted to {}: {first}",
            a.data
        );
    };
    if let Some(t) = &a.table {
        write_table_file(t, &cands, best)?;
    }
    if let Some(p) = &a.plot {
        crate::plot::criterion_curves(p, &cands, criterion, b, &a.data)?;
    }
    let scored = cands[b].fit.as_ref().expect("best is a fitted candidate");
    let mut model = scored.model.clone();
    model.set_feature_names(data.feature_names.clone())?;
    let json = model.to_json()?;
    io::write_atomic(Path::new(&a.output), |w| {
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write the model to {}", a.output))?;
    if !a.quiet {
        eprintln!(
            "{} fits on {n} rows × {} columns in {:.2?}; wrote k={} {} to {}",
            cands.len(),
            x.ncols(),
            start.elapsed(),
            cands[b].k,
            cands[b].covariance,
            a.output
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_ranges() {
        assert_eq!(parse_k_range("1..4").unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_k_range("1..=3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_k_range("3").unwrap(), vec![3]);
        assert_eq!(parse_k_range("5,1..2,2").unwrap(), vec![1, 2, 5]);
        for bad in ["0..3", "5..2", "a..b", "", "1..", "..3", "1,,2", "-1..2"] {
            assert!(parse_k_range(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn covariance_lists() {
        assert_eq!(parse_covariances("all").unwrap().len(), 4);
        assert_eq!(
            parse_covariances("diag, full,diag").unwrap(),
            vec![CovarianceType::Diag, CovarianceType::Full]
        );
        assert!(parse_covariances("fullish").is_err());
        assert!(parse_covariances("").is_err());
    }
}
