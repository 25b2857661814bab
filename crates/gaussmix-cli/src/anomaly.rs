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
use gaussmix::anomaly::{
    average_precision, check_contamination, roc_auc, threshold, AnomalyDetector, FittedDetector,
};
use gaussmix::GmmModel;

use crate::commands::DataArgs;
use crate::io::{self, Column, ReadOptions};
use crate::output;
use crate::select::{parse_covariances, parse_k_range};
use crate::util::{load_model, read_for_model, with_threads};

/// Arguments of `anomaly`.
#[derive(Args, Debug)]
pub struct AnomalyArgs {
    /// Data file (CSV, NPY, NPZ) or `-` for standard input.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Where to write one row per input row: `score` (−ln p(x)) and `is_anomaly`
    /// (.csv, .tsv, or .json with --json, or - for standard output; default standard
    /// output, or nothing with --eval).
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    /// Write the rows as JSON (threshold, and per row: score, is_anomaly and, with
    /// --explain, the top features) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// For each flagged row, name the N features (default 3) contributing most to its
    /// squared Mahalanobis distance in its nearest component: an `explain` column
    /// `feature=term;…` (or a JSON list).
    #[arg(long, num_args = 0..=1, default_missing_value = "3", value_name = "N")]
    pub explain: Option<usize>,
    /// Fraction of the training rows above the threshold, in (0, 0.5] (default 0.01);
    /// with --model, recomputes the threshold from DATA instead of using the stored one.
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
    /// Print the candidate table.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// The library's detector with the settings of the command line.
fn detector(a: &AnomalyArgs) -> Result<AnomalyDetector> {
    if a.max_k == 0 {
        bail!("--max-k must be at least 1");
    }
    let mut d = AnomalyDetector::new()
        .max_k(a.max_k)
        .families(parse_covariances(&a.covariance)?)
        .min_points(a.min_points)
        .reg_covar(a.reg_covar)
        .n_init(a.n_init)
        .seed(a.seed)
        .contamination(a.contamination.unwrap_or(0.01));
    if let Some(spec) = &a.k {
        d = d.ks(parse_k_range(spec)?);
    }
    d.validate().map_err(|e| match e {
        gaussmix::GmmError::InvalidParam {
            name,
            value,
            reason,
        } => {
            anyhow::anyhow!("--{} {value}: {reason}", name.replace('_', "-"))
        }
        e => e.into(),
    })?;
    Ok(d)
}

/// Prints the candidate table and the choice.
fn report_fit(det: &FittedDetector, n: usize, d: usize, verbose: bool) {
    let cands = det.candidates();
    if verbose {
        eprintln!("{:>4}  {:<10}  {:>16}", "k", "covariance", "BIC");
        for c in cands {
            let bic = c.bic.map_or_else(|| "-".into(), |b| format!("{b:.4}"));
            let mark = if c.used { "  *" } else { "" };
            eprintln!(
                "{:>4}  {:<10}  {bic:>16}{mark}",
                c.k,
                c.covariance.to_string()
            );
        }
        for c in cands {
            if let Some(why) = &c.dropped {
                eprintln!("dropped k={} {}: {why}", c.k, c.covariance);
            }
        }
    }
    if cands.iter().any(|c| c.used && c.dropped.is_some()) {
        eprintln!(
            "warning: every candidate has a component on too few rows; using the lowest BIC anyway (lower -k or --min-points)"
        );
    }
    let m = det.model();
    eprintln!(
        "chose k={} {} by BIC among {} candidates on {n} rows × {d} standardised features",
        m.n_components(),
        m.covariance_type(),
        cands.len(),
    );
}

/// `gaussmix anomaly`.
pub fn anomaly(a: &AnomalyArgs) -> Result<()> {
    if let Some(c) = a.contamination {
        check_contamination(c).map_err(|_| {
            anyhow::anyhow!(
                "--contamination {c} must be in (0, 0.5] (a fraction of the rows, e.g. 0.01)"
            )
        })?;
    }
    let out = match &a.output {
        Some(o) => Some(o.clone()),
        None if a.eval => None,
        None => Some("-".to_string()),
    };
    if let Some(o) = &out {
        if a.json {
            io::check_output_path(o)?;
        } else {
            output::check_table_output(o)?;
        }
    }
    if let Some(p) = &a.save_model {
        io::check_output_path(p)?;
    }
    let start = Instant::now();
    let (det, data) = if let Some(mpath) = &a.model {
        let model: GmmModel = load_model(mpath)?;
        let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)?;
        let det = match (a.contamination, model.anomaly_threshold()) {
            (None, Some(_)) => FittedDetector::from_model(model)?,
            (c, stored) => {
                if stored.is_none() && c.is_none() && !a.quiet {
                    eprintln!(
                        "note: {mpath} has no stored threshold; flagging the top 1% of these rows"
                    );
                }
                let s =
                    with_threads(a.threads, || model.score_samples(data.x.view()))??.mapv(|v| -v);
                let t = threshold(s.view(), c.unwrap_or(0.01));
                FittedDetector::from_model_with_threshold(model, t)?
            }
        };
        (det, data)
    } else {
        let settings = detector(a)?;
        let opts = ReadOptions {
            columns: a.data_args.columns.clone(),
            weights: None,
            array: a.data_args.array.clone(),
            quiet: a.quiet,
        };
        let data = io::read_dataset(&a.data, &opts)?;
        let (n, d) = data.x.dim();
        let mut det = with_threads(a.threads, || settings.fit(data.x.view()))?
            .with_context(|| format!("cannot fit an anomaly detector to {}", a.data))?;
        det.set_feature_names(data.feature_names.clone())?;
        if !a.quiet {
            let constant: Vec<String> = det
                .constant_columns()
                .iter()
                .zip(&data.feature_names)
                .filter(|p| *p.0)
                .map(|p| format!("'{}'", p.1))
                .collect();
            if !constant.is_empty() {
                eprintln!(
                    "note: column{} {} of {} hold{} a single value: a new row that differs there scores as anomalous",
                    if constant.len() == 1 { "" } else { "s" },
                    constant.join(", "),
                    a.data,
                    if constant.len() == 1 { "s" } else { "" },
                );
            }
            if d > n {
                eprintln!(
                    "note: {} has more columns ({d}) than rows ({n}): the covariances rest on the regularisation",
                    a.data
                );
            }
            report_fit(&det, n, d, a.verbose);
        }
        (det, data)
    };
    let x = data.x.view();
    let scores = with_threads(a.threads, || det.score(x))??;
    let thr = det.threshold();
    let flags: Vec<usize> = scores.iter().map(|&s| usize::from(s > thr)).collect();
    let explain = match a.explain {
        Some(top) => {
            let flagged: Vec<usize> = (0..flags.len()).filter(|&i| flags[i] == 1).collect();
            let rows = x.select(ndarray::Axis(0), &flagged);
            let e = with_threads(a.threads, || det.explain(rows.view(), top))??;
            let mut all = vec![Vec::new(); flags.len()];
            for (i, c) in flagged.into_iter().zip(e) {
                all[i] = c;
            }
            Some(all)
        }
        None => None,
    };
    let names = det.model().feature_names().to_vec();
    if let Some(o) = &out {
        if a.json {
            let rows: Vec<serde_json::Value> = (0..flags.len())
                .map(|i| {
                    let mut r = serde_json::json!({
                        "row": i,
                        "score": scores[i],
                        "is_anomaly": flags[i] == 1,
                    });
                    if let Some(e) = &explain {
                        r["explain"] = e[i]
                            .iter()
                            .map(|c| serde_json::json!({"feature": names[c.feature], "term": c.term}))
                            .collect();
                    }
                    r
                })
                .collect();
            let doc = serde_json::json!({
                "threshold": thr,
                "n_rows": flags.len(),
                "n_anomalies": flags.iter().sum::<usize>(),
                "rows": rows,
            });
            let text = serde_json::to_string_pretty(&doc)?;
            if o == "-" {
                println!("{text}");
            } else {
                io::write_atomic(Path::new(o), |w| {
                    w.write_all(text.as_bytes())?;
                    w.write_all(b"\n")?;
                    Ok(())
                })
                .with_context(|| format!("cannot write {o}"))?;
            }
        } else if let Some(e) = &explain {
            let cells: Vec<Vec<String>> = (0..flags.len())
                .map(|i| {
                    let why: Vec<String> = e[i]
                        .iter()
                        .map(|c| format!("{}={:.4}", names[c.feature], c.term))
                        .collect();
                    vec![scores[i].to_string(), flags[i].to_string(), why.join(";")]
                })
                .collect();
            output::write_text_table(o, &["score", "is_anomaly", "explain"], &cells)?;
        } else {
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
    }
    if let Some(p) = &a.save_model {
        let json = det.to_json()?;
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
