//! `gaussmix select`: fit every (k, covariance family) cell, compare them by an
//! information criterion, keep the best model that has no degenerate component.
//!
//! The decisions live in the library ([`gaussmix::select`]: starts, tolerance rule,
//! degeneracy, criteria); this command parses the arguments, reads the data, shows
//! progress and writes the table, the plot and the chosen model.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args;
pub use gaussmix::select::Criterion;
use gaussmix::select::{Cell, CellOutcome, Selection, SelectionResult};
use gaussmix::{CovarianceType, PriorChoice};

use crate::args::{JsonArg, SelectCriterion};
use crate::commands::DataArgs;
use crate::io::{self, ReadOptions};
use crate::output::{self, Ticker};
use crate::util::{interrupt, with_threads};

/// Arguments of `select`.
#[derive(Args, Debug)]
pub struct SelectArgs {
    /// Data file (CSV, NPY, NPZ, Parquet) or `-` for standard input.
    pub data: String,
    /// Numbers of components to try: `A..B` (inclusive), `A`, or a comma-separated list of
    /// either (e.g. `1..4,6,8`).
    #[arg(short = 'k', long = "k", default_value = "1..9")]
    pub k: String,
    /// Covariance families to try, comma-separated (mclust's EII … VVV, or full, tied,
    /// diag, spherical), `all` (the fourteen) or `sklearn` (the four).
    #[arg(long, default_value = "all")]
    pub covariance: String,
    /// Criterion to minimise.
    #[arg(long, value_enum, ignore_case = true, default_value = "bic")]
    pub criterion: SelectCriterion,
    /// k-means starts on the standardised data per cell (besides the hierarchical one).
    #[arg(long, default_value_t = 3)]
    pub kmeans_starts: usize,
    /// Leave out the hierarchical (mclust hc) start.
    #[arg(long)]
    pub no_hc: bool,
    /// Refinement tolerance on the change of the total log-likelihood per iteration.
    #[arg(long, default_value_t = 1e-5, allow_hyphen_values = true)]
    pub total_tol: f64,
    /// Maximum EM iterations of a refinement.
    #[arg(long, default_value_t = 2000)]
    pub max_iter: usize,
    /// Added to covariance diagonals.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Fit with mclust's default conjugate prior (MAP EM).
    #[arg(long)]
    pub prior: bool,
    /// Add a uniform noise component to every model.
    #[arg(long)]
    pub noise: bool,
    /// Equal mixing proportions.
    #[arg(long)]
    pub equal_weights: bool,
    /// Seed for every random choice.
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
    /// Also write the table to a file (.csv, .tsv, or - for standard output).
    #[arg(long)]
    pub table: Option<String>,
    /// Draw the criterion against k, one curve per family, as mclust's BIC plot (.png, .svg).
    #[arg(long)]
    pub plot: Option<String>,
    /// Where to write the best model (JSON), or - for standard output (the table then
    /// goes to standard error).
    #[arg(short = 'o', long = "output")]
    pub output: String,
    #[command(flatten)]
    pub json: JsonArg,
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

/// Parses a `--covariance` list: comma-separated family names, `all` or `sklearn`.
///
/// # Errors
/// An unknown name, or an empty list.
pub fn parse_covariances(spec: &str) -> Result<Vec<CovarianceType>> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "all" => return Ok(CovarianceType::ALL.to_vec()),
        "sklearn" => return Ok(CovarianceType::SKLEARN.to_vec()),
        _ => {}
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let p = part.trim();
        if p.is_empty() {
            bail!("bad --covariance '{spec}': empty item (use e.g. full,VEV, all or sklearn)");
        }
        let t: CovarianceType = p.parse().map_err(|_| {
            anyhow::anyhow!(
                "unknown covariance type '{p}' in --covariance '{spec}': use mclust's families (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV), full, tied, diag, spherical, all or sklearn"
            )
        })?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A family's name in tables: mclust's letters, with scikit-learn's name beside them.
pub fn family_label(ct: CovarianceType) -> String {
    if ct.is_sklearn() {
        format!("{} ({})", ct.mclust_name(), ct.name())
    } else {
        ct.mclust_name().to_string()
    }
}

/// The human table of a selection, best row marked with `*`; in the `converged` column,
/// `start` marks a cell that kept its start (it cannot win).
pub fn format_table(r: &SelectionResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:>3}  {:<15}  {:>15}  {:>6}  {:>14}  {:>14}  {:>14}  {:>14}  {:<9}  start",
        "k", "family", "log-likelihood", "params", "BIC", "AIC", "ICL", "ICL-soft", "converged"
    );
    for (i, c) in r.cells.iter().enumerate() {
        let mark = if Some(i) == r.best { '*' } else { ' ' };
        let label = family_label(c.covariance_type);
        let row = |s: &gaussmix::select::Scores| {
            format!(
                "{:>15.4}  {:>6}  {:>14.4}  {:>14.4}  {:>14.4}  {:>14.4}  {:<9}  {}",
                s.log_likelihood,
                s.n_parameters,
                s.bic,
                s.aic,
                s.icl,
                s.icl_soft,
                if s.converged {
                    "yes"
                } else if s.kept_start() {
                    "start"
                } else {
                    "no"
                },
                s.start
            )
        };
        let _ = match &c.outcome {
            CellOutcome::Fitted(s) => writeln!(out, "{mark} {:>3}  {label:<15}  {}", c.k, row(s)),
            CellOutcome::Degenerate { scores, reason } => writeln!(
                out,
                "{mark} {:>3}  {label:<15}  {}  degenerate: {reason}",
                c.k,
                row(scores)
            ),
            CellOutcome::Skipped(why) => {
                writeln!(out, "{mark} {:>3}  {label:<15}  skipped: {why}", c.k)
            }
            CellOutcome::Failed(why) => {
                writeln!(out, "{mark} {:>3}  {label:<15}  failed: {why}", c.k)
            }
        };
    }
    let kept = r
        .cells
        .iter()
        .filter(|c| matches!(&c.outcome, CellOutcome::Fitted(s) if s.kept_start()))
        .count();
    if kept > 0 {
        let _ = writeln!(
            out,
            "{kept} cells marked `start` kept their start from the row subset: an optimistic \
             bound shows they cannot reach the best, so they were scored on all rows but not \
             refined (their criteria are upper estimates)"
        );
    }
    if let Some(b) = r.best {
        let c = &r.cells[b];
        let _ = writeln!(
            out,
            "best by {}: k={} {}",
            r.criterion.name(),
            c.k,
            family_label(c.covariance_type)
        );
    }
    out
}

/// A cell's status (`fitted`, `degenerate`, `skipped`, `failed`) and its note, for the
/// table file and `--json`.
fn status_note(c: &Cell) -> (&'static str, String) {
    match &c.outcome {
        CellOutcome::Fitted(s) if s.kept_start() => {
            ("fitted", gaussmix::select::KEPT_START_NOTE.to_string())
        }
        CellOutcome::Fitted(_) => ("fitted", String::new()),
        CellOutcome::Degenerate { reason, .. } => ("degenerate", reason.clone()),
        CellOutcome::Skipped(w) => ("skipped", w.clone()),
        CellOutcome::Failed(w) => ("failed", w.clone()),
    }
}

/// The table as rows for CSV/TSV (empty score cells for cells not fitted).
fn table_rows(r: &SelectionResult) -> Vec<Vec<String>> {
    r.cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut row = vec![c.k.to_string(), c.covariance_type.mclust_name().to_string()];
            let (status, note) = status_note(c);
            match c.scores() {
                Some(s) => row.extend([
                    format!("{:?}", s.log_likelihood),
                    s.n_parameters.to_string(),
                    format!("{:?}", s.bic),
                    format!("{:?}", s.aic),
                    format!("{:?}", s.icl),
                    format!("{:?}", s.icl_soft),
                    s.converged.to_string(),
                    s.start.clone(),
                ]),
                None => row.extend(std::iter::repeat_n(String::new(), 8)),
            }
            row.extend([status.to_string(), note, (Some(i) == r.best).to_string()]);
            row
        })
        .collect()
}

/// The selection as one JSON object (`--json`): the criterion, the best cell, and every
/// cell with its status and scores (non-finite scores as null).
fn selection_json(r: &SelectionResult, n: usize, d: usize, output: &str) -> serde_json::Value {
    let f = output::json_f64;
    let cells: Vec<serde_json::Value> = r
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (status, note) = status_note(c);
            let mut v = serde_json::json!({
                "k": c.k,
                "covariance": c.covariance_type.mclust_name(),
                "status": status,
                "note": note,
                "best": Some(i) == r.best,
            });
            if let Some(s) = c.scores() {
                v["log_likelihood"] = f(s.log_likelihood);
                v["n_parameters"] = s.n_parameters.into();
                v["bic"] = f(s.bic);
                v["aic"] = f(s.aic);
                v["icl"] = f(s.icl);
                v["icl_soft"] = f(s.icl_soft);
                v["converged"] = s.converged.into();
                v["start"] = s.start.clone().into();
            }
            v
        })
        .collect();
    let best = r.best.map(|b| {
        let c = &r.cells[b];
        serde_json::json!({
            "k": c.k,
            "covariance": c.covariance_type.mclust_name(),
            "covariance_type": c.covariance_type.name(),
            "value": c.scores().map_or(serde_json::Value::Null, |s| f(s.get(r.criterion))),
        })
    });
    serde_json::json!({
        "criterion": r.criterion.name(),
        "rows": n,
        "columns": d,
        "best": best,
        "output": output,
        "cells": cells,
    })
}

/// Checks that at most one of `-o -`, `--table -` and `--json` writes to standard output.
///
/// # Errors
/// A usage error naming the flags that both claim it.
fn check_stdout_claims(a: &SelectArgs) -> Result<()> {
    let mut claims = Vec::new();
    if a.output == "-" {
        claims.push("-o -");
    }
    if a.table.as_deref() == Some("-") {
        claims.push("--table -");
    }
    if a.json.json {
        claims.push("--json");
    }
    if claims.len() > 1 {
        return Err(crate::exit::usage(format!(
            "{} {} write to standard output: write all but one to a file",
            claims.join(" and "),
            if claims.len() == 2 { "both" } else { "all" }
        )));
    }
    Ok(())
}

/// The columns of the table file.
pub const TABLE_HEADER: [&str; 13] = [
    "k",
    "covariance",
    "log_likelihood",
    "n_parameters",
    "bic",
    "aic",
    "icl",
    "icl_soft",
    "converged",
    "start",
    "status",
    "note",
    "best",
];

/// `gaussmix select`.
pub fn select(a: &SelectArgs) -> Result<()> {
    let ks = parse_k_range(&a.k)?;
    let covs = parse_covariances(&a.covariance)?;
    let criterion: Criterion = a.criterion.get();
    check_stdout_claims(a)?;
    let sel = Selection::new(ks.iter().copied())
        .covariance_types(&covs)
        .criterion(criterion)
        .hc_start(!a.no_hc)
        .kmeans_starts(a.kmeans_starts)
        .total_tol(a.total_tol)
        .max_iter(a.max_iter)
        .reg_covar(a.reg_covar)
        .prior(a.prior.then_some(PriorChoice::Mclust))
        .noise(a.noise)
        .equal_weights(a.equal_weights)
        .seed(a.seed)
        .interrupt(interrupt::flag());
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
    if ks.iter().all(|&k| k > n) {
        bail!(
            "{} has {n} rows: every k in --k {} is above that (a mixture needs at least as many rows as components)",
            a.data,
            a.k
        );
    }
    if !a.quiet {
        let skipped: Vec<String> = ks
            .iter()
            .filter(|&&k| k > n)
            .map(|k| k.to_string())
            .collect();
        if !skipped.is_empty() {
            eprintln!(
                "note: skipping k = {} (more components than the {n} rows)",
                skipped.join(", ")
            );
        }
    }
    let start = Instant::now();
    let ticker = Ticker::new("cells", ks.len() * covs.len(), !a.quiet);
    let on_cell = |c: &Cell| ticker.tick(&format!("k={} {}", c.k, c.covariance_type.mclust_name()));
    interrupt::set_graceful(true);
    let result = with_threads(a.threads, || sel.run_weighted(x, None, &on_cell));
    interrupt::set_graceful(false);
    ticker.finish();
    let result = result??;
    if !a.quiet {
        for c in &result.cells {
            if let CellOutcome::Skipped(why) = &c.outcome {
                if c.k <= n {
                    eprintln!(
                        "note: skipping k={} {}: {why}",
                        c.k,
                        c.covariance_type.mclust_name()
                    );
                }
            }
        }
        // the table is prose: on standard error when standard output carries a result
        if a.output == "-" || a.json.json || a.table.as_deref() == Some("-") {
            eprint!("{}", format_table(&result));
        } else {
            print!("{}", format_table(&result));
        }
    }
    if let Some(t) = &a.table {
        output::write_text_table(t, &TABLE_HEADER, &table_rows(&result))?;
    }
    let (Some(b), Some(model)) = (result.best, result.model.as_ref()) else {
        let first = result
            .cells
            .iter()
            .find_map(|c| match &c.outcome {
                CellOutcome::Failed(w) => Some(format!("k={} {}: {w}", c.k, c.covariance_type)),
                CellOutcome::Degenerate { reason, .. } => Some(format!(
                    "k={} {} is degenerate: {reason}",
                    c.k, c.covariance_type
                )),
                _ => None,
            })
            .unwrap_or_default();
        bail!(
            "no (k, covariance) cell could be fitted to {} without a degenerate component: {first}",
            a.data
        );
    };
    if let Some(p) = &a.plot {
        crate::plot::criterion_curves(p, &result, b, &a.data)?;
    }
    let mut model = model.clone();
    model.set_feature_names(data.feature_names.clone())?;
    output::write_model(&a.output, &model)?;
    if a.json.json {
        output::print_json(&selection_json(&result, n, x.ncols(), &a.output))?;
    }
    if !a.quiet {
        eprintln!(
            "{} cells on {n} rows × {} columns in {:.2?}; wrote k={} {} to {}",
            result.cells.len(),
            x.ncols(),
            start.elapsed(),
            result.cells[b].k,
            family_label(result.cells[b].covariance_type),
            output::shown(&a.output)
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
        assert_eq!(parse_covariances("all").unwrap().len(), 14);
        assert_eq!(parse_covariances("sklearn").unwrap().len(), 4);
        assert_eq!(
            parse_covariances("VEV,vvv,full").unwrap(),
            vec![CovarianceType::VEV, CovarianceType::Full]
        );
        assert_eq!(
            parse_covariances("diag, full,diag").unwrap(),
            vec![CovarianceType::Diag, CovarianceType::Full]
        );
        assert!(parse_covariances("fullish").is_err());
        assert!(parse_covariances("").is_err());
    }
}
