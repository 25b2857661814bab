//! `gaussmix anomaly`: score rows by how unlikely Gaussian mixtures find them.
//!
//! A thin face over [`gaussmix::anomaly`]: the library standardises the features, fits
//! the candidates (by default an ensemble of diagonal and full mixtures, k = 1..=4,
//! `reg_covar` 0.3 on the unit scale, every component on at least one row per free
//! parameter, at most 10 000 rows per fit), averages the members' standardised
//! `−ln p(x)` and sets the threshold at the `1 − contamination` quantile of the
//! training scores. `--select-bic` keeps the one candidate of lowest BIC instead (score
//! `−ln p(x)`, the model stored on the raw feature scale, readable by every gaussmix
//! command). Flags given here override the library's defaults; the rest are inherited.
//!
//! With `--model M` nothing is fitted: DATA is scored with M (an ensemble or a single
//! model), against M's stored threshold (or, when `--contamination` is given or M has
//! none, the quantile of DATA's own scores). `--explain` names the features behind each
//! flagged row; `--json` writes the rows as JSON.

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
    /// --explain, the top features) instead of a table; with --eval, the scores as JSON
    /// too (on standard output, or under `eval` in the rows' object when that is there).
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
    /// Write the fitted model (raw feature scale, threshold included) as JSON (- for
    /// standard output, when the rows go to a file or --eval leaves them out).
    #[arg(long)]
    pub save_model: Option<String>,
    /// Print ROC-AUC and average precision against the labels (NPZ array `y`, 1 = anomaly).
    #[arg(long)]
    pub eval: bool,
    /// Numbers of components to consider (default 1..MAX_K), as in `select`.
    #[arg(short = 'k', long = "k")]
    pub k: Option<String>,
    /// Largest k considered when -k is not given [library default: 4].
    #[arg(long)]
    pub max_k: Option<usize>,
    /// Covariance types to consider (comma-separated, or all) [library default:
    /// diag,full].
    #[arg(long)]
    pub covariance: Option<String>,
    /// Minimum effective rows per component, as a multiple of its free parameters
    /// [library default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub min_points: Option<f64>,
    /// Added to covariance diagonals, on the standardised scale [library default: 0.3].
    #[arg(long, allow_hyphen_values = true)]
    pub reg_covar: Option<f64>,
    /// Initialisations per candidate [library default: 1].
    #[arg(long)]
    pub n_init: Option<usize>,
    /// Fit each candidate on at most this many rows (a seeded random subset; every row
    /// is scored) [library default: 10000].
    #[arg(long)]
    pub max_fit_rows: Option<usize>,
    /// Keep the one candidate of lowest BIC instead of averaging the standardised scores
    /// of all of them (the score is then −ln p(x) of that model).
    #[arg(long)]
    pub select_bic: bool,
    /// Fit every candidate with a uniform noise component and score with its Gaussians
    /// alone (off by default).
    #[arg(long)]
    pub noise: bool,
    /// Seed for every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
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

/// The library's detector with the settings the command line gives (the library's
/// defaults for the rest).
fn detector(a: &AnomalyArgs) -> Result<AnomalyDetector> {
    let mut d = AnomalyDetector::new()
        .contamination(a.contamination.unwrap_or(0.01))
        .ensemble(!a.select_bic);
    if let Some(k) = a.max_k {
        if k == 0 {
            bail!("--max-k must be at least 1");
        }
        d = d.max_k(k);
    }
    if let Some(c) = &a.covariance {
        d = d.families(parse_covariances(c)?);
    }
    if let Some(m) = a.min_points {
        d = d.min_points(m);
    }
    if let Some(r) = a.reg_covar {
        d = d.reg_covar(r);
    }
    if let Some(n) = a.n_init {
        d = d.n_init(n);
    }
    if let Some(n) = a.max_fit_rows {
        d = d.max_fit_rows(n);
    }
    if let Some(s) = a.seed {
        d = d.seed(s);
    }
    if a.noise {
        d = d.noise(true);
    }
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
        eprintln!("{:>4}  {:<10}  {:>16}  used", "k", "covariance", "BIC");
        for c in cands {
            let bic = c.bic.map_or_else(|| "-".into(), |b| format!("{b:.4}"));
            let mark = if c.used { "*" } else { "" };
            eprintln!(
                "{:>4}  {:<10}  {bic:>16}  {mark}",
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
            "warning: every candidate has a component on too few rows; using them anyway (lower -k or --min-points)"
        );
    }
    let used: Vec<String> = cands
        .iter()
        .filter(|c| c.used)
        .map(|c| format!("k={} {}", c.k, c.covariance))
        .collect();
    if det.n_members() > 1 {
        eprintln!(
            "ensemble of {} mixtures ({}) of {} candidates on {n} rows × {d} standardised features",
            used.len(),
            used.join(", "),
            cands.len()
        );
    } else {
        let how = if cands.iter().any(|c| c.bic.is_some()) {
            "by BIC"
        } else {
            "(the only usable candidate)"
        };
        eprintln!(
            "chose {} {how} among {} candidates on {n} rows × {d} standardised features",
            used.join(", "),
            cands.len(),
        );
    }
}

/// The scores of `--eval` against the data's labels.
struct Eval {
    roc_auc: f64,
    average_precision: f64,
    anomalies: usize,
    rows: usize,
}

impl Eval {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "roc_auc": output::json_f64(self.roc_auc),
            "average_precision": output::json_f64(self.average_precision),
            "n_labelled_anomalies": self.anomalies,
            "n_rows": self.rows,
        })
    }
}

/// ROC-AUC and average precision of the scores against the labels of `data`.
///
/// # Errors
/// No labels, or labels of one class only.
fn evaluate(data: &io::Dataset, scores: &ndarray::Array1<f64>, name: &str) -> Result<Eval> {
    let Some(y) = &data.labels else {
        bail!("--eval needs labels: {name} has none (an NPZ file with an array y, 1 = anomaly)");
    };
    let labels: Vec<bool> = y.iter().map(|&v| v != 0.0).collect();
    let s = scores.to_vec();
    let (Some(roc_auc), Some(average_precision)) =
        (roc_auc(&s, &labels), average_precision(&s, &labels))
    else {
        bail!("--eval needs both normal (y = 0) and anomalous (y ≠ 0) rows in {name}");
    };
    Ok(Eval {
        roc_auc,
        average_precision,
        anomalies: labels.iter().filter(|&&l| l).count(),
        rows: labels.len(),
    })
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
        if p == "-" && out.as_deref() == Some("-") {
            return Err(crate::exit::usage(
                "--save-model - and the rows (-o -, the default without --eval) both write to standard output: write one of them to a file",
            ));
        }
        if p == "-" && a.eval && a.json {
            return Err(crate::exit::usage(
                "--save-model - and --eval --json both write to standard output: write the model to a file",
            ));
        }
    }
    let start = Instant::now();
    let (det, data) = if let Some(mpath) = &a.model {
        let text = std::fs::read_to_string(mpath)
            .with_context(|| format!("cannot read model file {mpath}"))?;
        let loaded = match FittedDetector::from_json(&text) {
            Ok(d) => d,
            Err(gaussmix::GmmError::InvalidModel { .. }) if GmmModel::from_json(&text).is_ok() => {
                // a plain mixture without a stored threshold: one is set below
                let m = load_model(mpath)?;
                FittedDetector::from_model_with_threshold(m, 0.0)?
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("{mpath} is not a valid gaussmix model"))
                )
            }
        };
        let stored = load_model(mpath)
            .ok()
            .and_then(|m| m.anomaly_threshold())
            .is_some()
            || text.contains("gaussmix_anomaly_ensemble");
        let mut det = loaded;
        let data = read_for_model(&a.data, &a.data_args, det.model(), a.quiet)?;
        if a.contamination.is_some() || !stored {
            if !stored && a.contamination.is_none() && !a.quiet {
                eprintln!(
                    "note: {mpath} has no stored threshold; flagging the top 1% of these rows"
                );
            }
            let s = with_threads(a.threads, || det.score(data.x.view()))??;
            det.set_threshold(threshold(s.view(), a.contamination.unwrap_or(0.01)))?;
        }
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
    let scores = match (a.model.is_none(), det.training_scores()) {
        (true, Some(s)) => s.clone(),
        _ => with_threads(a.threads, || det.score(x))??,
    };
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
    let eval = if a.eval {
        Some(evaluate(&data, &scores, &a.data)?)
    } else {
        None
    };
    let names = det.feature_names().to_vec();
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
            let mut doc = serde_json::json!({
                "threshold": thr,
                "n_rows": flags.len(),
                "n_anomalies": flags.iter().sum::<usize>(),
                "rows": rows,
            });
            if let (Some(e), true) = (&eval, o == "-") {
                doc["eval"] = e.json();
            }
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
        io::write_output(p, |w| {
            w.write_all(json.as_bytes())?;
            w.write_all(b"\n")?;
            Ok(())
        })
        .with_context(|| format!("cannot write the model to {}", output::shown(p)))?;
    }
    let n_flag: usize = flags.iter().sum();
    if !a.quiet {
        eprintln!(
            "{n_flag} of {} rows above the threshold {thr:.6} ({:.2?})",
            x.nrows(),
            start.elapsed()
        );
    }
    if let Some(e) = &eval {
        if a.json && out.as_deref() != Some("-") {
            output::print_json(&e.json())?;
        } else if !a.json {
            let line = format!(
                "roc_auc {:.4}  average_precision {:.4}  ({} anomalies of {} rows)",
                e.roc_auc, e.average_precision, e.anomalies, e.rows
            );
            if out.as_deref() == Some("-") || a.save_model.as_deref() == Some("-") {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    Ok(())
}
