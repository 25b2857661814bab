//! `gaussmix anomaly`: score rows by how unlikely a Gaussian mixture finds them.
//!
//! The score of a row is `−ln p(x)` (higher is more anomalous); `is_anomaly` is
//! `score > threshold`. Fitting on DATA (the default):
//!
//! 1. **Standardise** every feature to mean 0, standard deviation 1 (a constant column
//!    keeps scale 1). The fit then sees unit scales, so one `reg_covar` and one
//!    component-size rule mean the same thing for every data set.
//! 2. **Candidates**: k = 1..=`--max-k` (default 4) with full covariances
//!    (`--covariance` to widen), `--n-init` 3 initialisations each, and `reg_covar` = 0.1
//!    on the unit scale. That floor is a ridge shrinkage Σ_k + 0.1·I of every component
//!    towards the identity: no component may be narrower than about a third of a
//!    feature's overall spread in any direction, which stops components from collapsing
//!    onto tied or discrete values (counts, 1–10 ratings), onto a clump of a few rows, or
//!    onto a low-dimensional slice of high-dimensional data, and it stabilises the
//!    Mahalanobis distances that the score is made of when D is large next to N.
//!    Full rather than diagonal covariances: a diagonal mixture imitates correlated
//!    features with a chain of extra components, a lumpy density whose valleys score
//!    normal rows as anomalies; a full mixture needs no such chain, and the guard below
//!    decides whether the data can afford its parameters.
//! 3. **Guard against components that lock onto a handful of points**: a candidate is
//!    dropped unless every component holds at least `--min-points` (default 5) effective
//!    rows N·π_k per free parameter of the component (a full component in D dimensions
//!    has 1 + D + D(D+1)/2; the usual "five observations per parameter" rule). A
//!    component with too few rows for its parameters has a poorly estimated, nearly
//!    singular covariance and a huge density on its own rows, which turns them (often a
//!    clump of the anomalies themselves) into the most "normal" rows of the set. k = 1
//!    is always a candidate: on small high-dimensional sets it is what remains.
//! 4. **Select** the surviving candidate with the lowest BIC.
//! 5. **Store** the model on the raw feature scale: μ' = μ ⊙ s + m, Σ' = S Σ S with
//!    S = diag(s) (full and tied keep their type, diag stays diag with variances s²σ²;
//!    spherical does not stay spherical under unequal scales and is stored as diag).
//!    Raw and standardised log densities differ by the constant Σ_j ln s_j, so scores
//!    rank rows identically, and new data is scored with the training statistics by
//!    any gaussmix command. The threshold (the 1 − contamination quantile of the
//!    training scores) is stored with the model.
//!
//! With `--model M` nothing is fitted: DATA is scored with M, against M's stored
//! threshold (or, when `--contamination` is given or M has none, the quantile of DATA's
//! own scores).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use gaussmix::anomaly::{average_precision, roc_auc, thin_component, threshold, Standardiser};
use gaussmix::{CovarianceType, GaussianMixture, GmmModel};
use ndarray::ArrayView2;

use crate::commands::DataArgs;
use crate::io::{self, Column, ReadOptions};
use crate::output::{self, Ticker};
use crate::select::{fit_all, parse_covariances, parse_k_range, Candidate};
use crate::util::{load_model, read_for_model, with_threads};

/// Arguments of `anomaly`.
#[derive(Args, Debug)]
pub struct AnomalyArgs {
    /// Data file (CSV, NPY, NPZ) or `-` for standard input.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Where to write one row per input row: `score` (−ln p(x)) and `is_anomaly`
    /// (.csv, .tsv or - for standard output; default standard output, or nothing with
    /// --eval).
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// Fraction of the training rows above the threshold (default 0.01); with --model,
    /// recomputes the threshold from DATA instead of using the stored one.
    #[arg(long, allow_hyphen_values = true)]
    pub contamination: Option<f64>,
    /// Score DATA with this model instead of fitting one.
    #[arg(long)]
    pub model: Option<String>,
    /// Write the fitted model (raw feature scale, threshold included) as JSON.
    #[arg(long)]
    pub save_model: Option<String>,
    /// Print ROC-AUC and average precision against the labels (NPZ array `y`, 1 = anomaly).
    #[arg(long)]
    pub eval: bool,
    /// Numbers of components to consider (default 1..MAX_K), as in `select`.
    #[arg(short = 'k', long = "k")]
    pub k: Option<String>,
    /// Largest k considered when -k is not given.
    #[arg(long, default_value_t = 4)]
    pub max_k: usize,
    /// Covariance types to consider (comma-separated, or all).
    #[arg(long, default_value = "full")]
    pub covariance: String,
    /// Minimum effective rows per component, as a multiple of its free parameters.
    #[arg(long, default_value_t = 5.0)]
    pub min_points: f64,
    /// Added to covariance diagonals, on the standardised scale.
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Initialisations per candidate.
    #[arg(long, default_value_t = 3)]
    pub n_init: usize,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress, table or notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the lower bound at every EM iteration, and the candidate table.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// The chosen model (standardised scale), every candidate, the index of the chosen one,
/// and why each candidate was dropped as too thin (if it was).
type Choice = (GmmModel, Vec<Candidate>, Option<usize>, Vec<Option<String>>);

/// Fits the candidates on standardised data and returns the chosen model (standardised
/// scale) with the candidate table.
fn choose_model(a: &AnomalyArgs, z: ArrayView2<f64>) -> Result<Choice> {
    let n = z.nrows();
    let ks = match &a.k {
        Some(spec) => parse_k_range(spec)?,
        None => {
            if a.max_k == 0 {
                bail!("--max-k must be at least 1");
            }
            (1..=a.max_k).collect()
        }
    };
    let covs = parse_covariances(&a.covariance)?;
    let usable: Vec<usize> = ks.iter().copied().filter(|&k| k <= n).collect();
    if usable.is_empty() {
        bail!("{} has {n} rows: fewer than every k asked for", a.data);
    }
    let pairs: Vec<(usize, CovarianceType)> = covs
        .iter()
        .flat_map(|&c| usable.iter().map(move |&k| (k, c)))
        .collect();
    let make = |k: usize, c: CovarianceType| {
        GaussianMixture::new(k)
            .covariance_type(c)
            .n_init(a.n_init)
            .reg_covar(a.reg_covar)
            .max_iter(200)
            .seed(a.seed)
    };
    let ticker = Ticker::new("candidate fits", pairs.len(), !a.quiet);
    let cands = with_threads(a.threads, || fit_all(z, &pairs, &make, &ticker, a.verbose))?;
    ticker.finish();
    // a k = 1 candidate is never thin; with -k excluding 1 every candidate may be
    let thin: Vec<Option<String>> = cands
        .iter()
        .map(|c| {
            c.fit
                .as_ref()
                .ok()
                .and_then(|s| thin_component(&s.model, n, a.min_points))
        })
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in cands.iter().enumerate() {
        if let (Ok(s), None) = (&c.fit, &thin[i]) {
            if s.bic.is_finite() && best.is_none_or(|(_, b)| s.bic < b) {
                best = Some((i, s.bic));
            }
        }
    }
    let best_i = match best {
        Some((i, _)) => i,
        None => {
            // every candidate is thin (or failed): fall back to the lowest BIC among fits
            let i = crate::select::best_index(&cands, crate::select::Criterion::Bic).with_context(
                || {
                    let why = cands
                        .iter()
                        .find_map(|c| c.fit.as_ref().err().cloned())
                        .unwrap_or_default();
                    format!("no candidate mixture could be fitted to {}: {why}", a.data)
                },
            )?;
            if !a.quiet {
                eprintln!(
                    "warning: every candidate has a component on too few rows; using the lowest BIC anyway (lower -k or --min-points)"
                );
            }
            i
        }
    };
    let model = cands[best_i]
        .fit
        .as_ref()
        .expect("chosen candidate fitted")
        .model
        .clone();
    Ok((model, cands, Some(best_i), thin))
}

/// `gaussmix anomaly`.
pub fn anomaly(a: &AnomalyArgs) -> Result<()> {
    if let Some(c) = a.contamination {
        if !(0.0..1.0).contains(&c) {
            bail!("--contamination {c} must be in [0, 1) (a fraction of the rows, e.g. 0.01)");
        }
    }
    if !(a.min_points >= 0.0 && a.min_points.is_finite()) {
        bail!("--min-points {} must be a finite number ≥ 0", a.min_points);
    }
    let out = match &a.output {
        Some(o) => Some(o.clone()),
        None if a.eval => None,
        None => Some("-".to_string()),
    };
    if let Some(o) = &out {
        output::check_table_output(o)?;
    }
    if let Some(p) = &a.save_model {
        io::check_output_path(p)?;
    }
    let start = Instant::now();
    let (model, data) = if let Some(mpath) = &a.model {
        let model = load_model(mpath)?;
        let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)?;
        (model, data)
    } else {
        GaussianMixture::new(1)
            .n_init(a.n_init)
            .reg_covar(a.reg_covar)
            .validate()?;
        let opts = ReadOptions {
            columns: a.data_args.columns.clone(),
            weights: None,
            array: a.data_args.array.clone(),
            quiet: a.quiet,
        };
        let data = io::read_dataset(&a.data, &opts)?;
        let std = Standardiser::fit(data.x.view());
        let z = std.transform(data.x.view());
        let (mut chosen, cands, best, thin) = choose_model(a, z.view())?;
        chosen.set_feature_names(data.feature_names.clone())?;
        if a.verbose && !a.quiet {
            eprint!(
                "{}",
                crate::select::format_candidates(&cands, best, crate::select::Criterion::Bic)
            );
            for (c, t) in cands.iter().zip(&thin) {
                if let Some(why) = t {
                    eprintln!("dropped k={} {}: {why}", c.k, c.covariance);
                }
            }
        }
        let raw = std.to_raw(&chosen)?;
        if !a.quiet {
            eprintln!(
                "chose k={} {} by BIC among {} candidates on {} rows × {} standardised features",
                chosen.n_components(),
                chosen.covariance_type(),
                cands.len(),
                data.x.nrows(),
                data.x.ncols()
            );
        }
        (raw, data)
    };
    let x = data.x.view();
    let scores = with_threads(a.threads, || model.score_samples(x))??.mapv(|v| -v);
    let thr = match (
        a.model.is_some(),
        a.contamination,
        model.anomaly_threshold(),
    ) {
        (true, None, Some(t)) => t,
        (true, None, None) => {
            if !a.quiet {
                eprintln!(
                    "note: {} has no stored threshold; flagging the top 1% of these rows",
                    a.model.as_deref().unwrap_or("")
                );
            }
            threshold(scores.view(), 0.01)
        }
        (_, c, _) => threshold(scores.view(), c.unwrap_or(0.01)),
    };
    let flags: Vec<usize> = scores.iter().map(|&s| usize::from(s > thr)).collect();
    if let Some(o) = &out {
        output::write_table(
            o,
            &[
                Column::Float {
                    name: "score",
                    values: scores.view(),
                },
                Column::Label {
                    name: "is_anomaly",
                    values: &flags,
                },
            ],
        )?;
    }
    if let Some(p) = &a.save_model {
        let mut m = model.clone();
        m.set_anomaly_threshold(Some(thr))?;
        let json = m.to_json()?;
        io::write_atomic(Path::new(p), |w| {
            w.write_all(json.as_bytes())?;
            w.write_all(b"\n")?;
            Ok(())
        })
        .with_context(|| format!("cannot write the model to {p}"))?;
    }
    let n_flag: usize = flags.iter().sum();
    if !a.quiet {
        eprintln!(
            "{n_flag} of {} rows above the threshold {thr:.6} ({:.2?})",
            x.nrows(),
            start.elapsed()
        );
    }
    if a.eval {
        let Some(y) = &data.labels else {
            bail!(
                "--eval needs labels: {} has none (an NPZ file with an array y, 1 = anomaly)",
                a.data
            );
        };
        let labels: Vec<bool> = y.iter().map(|&v| v != 0.0).collect();
        let s = scores.to_vec();
        let auc = roc_auc(&s, &labels);
        let ap = average_precision(&s, &labels);
        let (Some(auc), Some(ap)) = (auc, ap) else {
            bail!(
                "--eval needs both normal (y = 0) and anomalous (y ≠ 0) rows in {}",
                a.data
            );
        };
        let line = format!(
            "roc_auc {auc:.4}  average_precision {ap:.4}  ({} anomalies of {} rows)",
            labels.iter().filter(|&&l| l).count(),
            labels.len()
        );
        if out.as_deref() == Some("-") {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}
