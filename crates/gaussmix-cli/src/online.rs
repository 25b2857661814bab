//! Online EM on the command line (the library's `gaussmix::online`): `gaussmix fit
//! --online` reads its data batch by batch (a CSV, NPY or Parquet file streamed from
//! disk, or CSV on standard input read line by line, so memory is bounded by the batch)
//! and takes one online-EM step per batch; `gaussmix update MODEL DATA` continues a saved
//! model's schedule with new rows. The online state (blended statistics, batch count,
//! step size) is stored in the model JSON's `online` member (docs/formats.md).

use std::io::BufRead;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use gaussmix::online::{OnlineEm, OnlineStep, StepSize};
use gaussmix::{Chunk, GaussianMixture, RowSource};
use ndarray::{Array1, Array2};
use serde_json::json;

use crate::args::{DataArgs, JsonArg};
use crate::io::{self, ReadOptions};
use crate::missing::MissingArg;
use crate::output::{self, json_f64};
use crate::util::with_threads;

/// Default rows per online batch.
pub const DEFAULT_BATCH: usize = 10_000;

/// The step-size flags shared by `fit --online` and `update`.
#[derive(Args, Debug, Clone, Default)]
pub struct StepArgs {
    /// Online EM: step size γ_t = (t + t0)^(−κ) with this κ in (0.5, 1] (default 0.6;
    /// with --online).
    #[arg(long, value_name = "KAPPA", allow_hyphen_values = true)]
    pub step_decay: Option<f64>,
    /// Online EM: the offset t0 ≥ 0 of the step size (default 2; with --online).
    #[arg(long, value_name = "T0", allow_hyphen_values = true)]
    pub step_offset: Option<f64>,
    /// Online EM: a fixed step size γ in (0, 1] instead of the decaying one (tracks a
    /// drifting stream).
    #[arg(long, value_name = "GAMMA", conflicts_with_all = ["step_decay", "step_offset"], allow_hyphen_values = true)]
    pub step_size: Option<f64>,
}

impl StepArgs {
    /// The schedule the flags ask for; `base` fills in what they leave out.
    ///
    /// # Errors
    /// A value out of range (a usage error).
    pub fn step(&self, base: StepSize) -> Result<StepSize> {
        let s = if let Some(g) = self.step_size {
            StepSize::Fixed(g)
        } else if self.step_decay.is_some() || self.step_offset.is_some() {
            let (d0, o0) = match base {
                StepSize::Decay { decay, offset } => (decay, offset),
                _ => match StepSize::default() {
                    StepSize::Decay { decay, offset } => (decay, offset),
                    _ => unreachable!("the default is a decay"),
                },
            };
            StepSize::Decay {
                decay: self.step_decay.unwrap_or(d0),
                offset: self.step_offset.unwrap_or(o0),
            }
        } else {
            base
        };
        s.validate()
            .map_err(|e| crate::exit::usage(e.to_string()))?;
        Ok(s)
    }
}

/// Arguments of `update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Model file written by `gaussmix fit` (with or without --online; a plain model
    /// starts a new schedule from its parameters).
    pub model: String,
    /// New rows: CSV, NPY or Parquet file, or `-` for standard input.
    pub data: String,
    /// Rows per online-EM step (default: the whole of DATA is one batch).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    #[command(flatten)]
    pub step: StepArgs,
    /// Column of sample weights (taken out of the features).
    #[arg(long)]
    pub weights: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Missing cells (NA, NaN, empty, null): an error, or `em` (masked EM).
    #[arg(long, value_enum, ignore_case = true, default_value = "error")]
    pub missing: MissingArg,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress or summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print a line per batch.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[command(flatten)]
    pub json: JsonArg,
    /// Where to write the updated model (default: replace MODEL, atomically).
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
}

/// Rows served in batches of a chosen size.
enum Batches {
    /// A re-readable file source, its chunks re-cut into batches.
    Source {
        src: Box<dyn RowSource + Send>,
        left: Option<(Chunk, usize)>,
    },
    /// Rows held in memory (NPY/NPZ/Parquet on standard input, NPZ files).
    Memory {
        x: Array2<f64>,
        w: Option<Array1<f64>>,
        pos: usize,
    },
    /// CSV on standard input, read line by line.
    StdinCsv {
        reader: Box<dyn BufRead>,
        header: Option<Vec<u8>>,
        first: Option<Vec<u8>>,
        opts: ReadOptions,
        done: bool,
        names: Vec<String>,
    },
}

type Batch = (Array2<f64>, Option<Array1<f64>>);

impl Batches {
    fn open(path: &str, opts: &ReadOptions) -> Result<(Batches, Vec<String>, String)> {
        if path == "-" {
            let stdin = std::io::stdin();
            let mut reader: Box<dyn BufRead> = Box::new(std::io::BufReader::new(stdin));
            let magic = reader.fill_buf().context("<stdin>: cannot read")?;
            let binary = magic.starts_with(io::npy::MAGIC)
                || magic.starts_with(b"PAR1")
                || magic.starts_with(b"PK");
            if binary {
                let mut notes = Vec::new();
                let d = io::read_stream("<stdin>", reader, opts, &mut notes)?;
                return Ok((
                    Batches::Memory {
                        x: d.x,
                        w: d.weights,
                        pos: 0,
                    },
                    d.feature_names,
                    "standard input (binary, read whole)".into(),
                ));
            }
            let mut line = Vec::new();
            reader
                .read_until(b'\n', &mut line)
                .context("<stdin>: cannot read")?;
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                bail!("<stdin>: no data (empty input)");
            }
            // the first line alone: a data row if it parses as one, else the header
            let mut notes = Vec::new();
            let alone = io::read_stream("<stdin>", &line[..], opts, &mut notes);
            let (header, first, names) = match alone {
                Ok(d) if d.x.nrows() == 1 => (None, Some(line), d.feature_names),
                _ => (Some(line), None, Vec::new()),
            };
            return Ok((
                Batches::StdinCsv {
                    reader,
                    header,
                    first,
                    opts: opts.clone(),
                    done: false,
                    names: Vec::new(),
                },
                names,
                "CSV on standard input, line by line".into(),
            ));
        }
        if crate::stream::streamable(path) {
            let o = crate::stream::open(path, opts)?;
            return Ok((
                Batches::Source {
                    src: o.source,
                    left: None,
                },
                o.names,
                o.description,
            ));
        }
        let d = io::read_dataset(path, opts)?;
        Ok((
            Batches::Memory {
                x: d.x,
                w: d.weights,
                pos: 0,
            },
            d.feature_names,
            format!("{path} (read whole)"),
        ))
    }

    /// Rewinds for another pass; false when the input cannot be read again.
    fn reset(&mut self) -> Result<bool> {
        match self {
            Batches::Source { src, left } => {
                *left = None;
                src.reset()?;
                Ok(true)
            }
            Batches::Memory { pos, .. } => {
                *pos = 0;
                Ok(true)
            }
            Batches::StdinCsv { .. } => Ok(false),
        }
    }

    /// The next batch of at most `n` rows (`first_row`: 0-based index of its first row).
    fn next(&mut self, n: usize, first_row: usize) -> Result<Option<Batch>> {
        match self {
            Batches::Memory { x, w, pos } => {
                if *pos >= x.nrows() {
                    return Ok(None);
                }
                let end = pos.saturating_add(n).min(x.nrows());
                let b = (
                    x.slice(ndarray::s![*pos..end, ..]).to_owned(),
                    w.as_ref()
                        .map(|w| w.slice(ndarray::s![*pos..end]).to_owned()),
                );
                *pos = end;
                Ok(Some(b))
            }
            Batches::Source { src, left } => {
                let d = src.n_features();
                let (mut rows, mut ws, mut weighted, mut got) = (Vec::new(), Vec::new(), false, 0);
                while got < n {
                    if left.is_none() {
                        match src.next_chunk()? {
                            Some(c) => *left = Some((c, 0)),
                            None => break,
                        }
                    }
                    let (c, off) = left.as_mut().expect("set above");
                    let take = (c.x.nrows() - *off).min(n - got);
                    for r in *off..*off + take {
                        rows.extend(c.x.row(r).iter());
                        ws.push(c.weights.as_ref().map_or(1.0, |w| w[r]));
                    }
                    weighted |= c.weights.is_some();
                    *off += take;
                    got += take;
                    if *off == c.x.nrows() {
                        *left = None;
                    }
                }
                if got == 0 {
                    return Ok(None);
                }
                let x = Array2::from_shape_vec((got, d), rows).expect("got × d");
                Ok(Some((x, weighted.then(|| Array1::from(ws)))))
            }
            Batches::StdinCsv {
                reader,
                header,
                first,
                opts,
                done,
                names,
            } => {
                if *done {
                    return Ok(None);
                }
                let mut text = header.clone().unwrap_or_default();
                if !text.ends_with(b"\n") {
                    text.push(b'\n');
                }
                let mut lines = 0;
                if let Some(f) = first.take() {
                    text.extend_from_slice(&f);
                    lines += 1;
                }
                while lines < n {
                    let before = text.len();
                    let got = reader
                        .read_until(b'\n', &mut text)
                        .context("<stdin>: cannot read")?;
                    if got == 0 {
                        *done = true;
                        break;
                    }
                    if text[before..].iter().all(|b| b.is_ascii_whitespace()) {
                        text.truncate(before);
                        continue;
                    }
                    if !text.ends_with(b"\n") {
                        text.push(b'\n');
                    }
                    lines += 1;
                }
                if lines == 0 {
                    return Ok(None);
                }
                let mut notes = Vec::new();
                let d = io::read_stream("<stdin>", &text[..], opts, &mut notes).with_context(
                    || {
                        format!(
                            "in the batch of standard input starting at data row {} (rows in the message count from that batch)",
                            first_row + 1
                        )
                    },
                )?;
                *names = d.feature_names;
                Ok(Some((d.x, d.weights)))
            }
        }
    }
}

/// The options of one online run.
struct Run<'a> {
    data: &'a str,
    batch: usize,
    passes: usize,
    quiet: bool,
    verbose: bool,
    threads: Option<usize>,
}

/// What a run did.
struct Summary {
    batches: usize,
    rows: usize,
    last: Option<OnlineStep>,
    seconds: f64,
    columns: usize,
}

fn drive(online: &mut OnlineEm, r: &Run, opts: &ReadOptions) -> Result<(Summary, Vec<String>)> {
    if r.batch == 0 {
        return Err(crate::exit::usage("--batch-size must be at least 1"));
    }
    if r.passes == 0 {
        return Err(crate::exit::usage("--passes must be at least 1"));
    }
    let (mut batches, names, description) = Batches::open(r.data, opts)?;
    if !r.quiet {
        let size = if r.batch == usize::MAX {
            "one batch".to_string()
        } else {
            format!("batches of {} rows", r.batch)
        };
        eprintln!("online EM over {description}, {size}");
    }
    let start = Instant::now();
    let mut s = Summary {
        batches: 0,
        rows: 0,
        last: None,
        seconds: 0.0,
        columns: names.len(),
    };
    for pass in 0..r.passes {
        // a file source is rewound before every pass (its first read included)
        if !batches.reset()? && pass > 0 {
            return Err(crate::exit::usage(
                "--passes > 1 reads the input again; standard input cannot be read twice (write it to a file)",
            ));
        }
        let mut row = 0usize;
        while let Some((x, w)) = batches.next(r.batch, row)? {
            let step = with_threads(r.threads, || {
                online.partial_fit(x.view(), w.as_ref().map(|w| w.view()))
            })?
            .with_context(|| {
                format!(
                    "online EM step on {} rows {}–{} (pass {})",
                    r.data,
                    row + 1,
                    row + x.nrows(),
                    pass + 1
                )
            })?;
            if crate::interrupt::flag().load(std::sync::atomic::Ordering::SeqCst) {
                return Err(anyhow::Error::new(gaussmix::GmmError::Interrupted));
            }
            row += x.nrows();
            s.rows += x.nrows();
            s.batches += 1;
            s.columns = x.ncols();
            if r.verbose && !r.quiet {
                eprintln!(
                    "batch {:>6}: {} rows, step {:.4}, mean log-likelihood before the step {:.6}",
                    step.t, step.rows, step.gamma, step.batch_log_likelihood
                );
            }
            s.last = Some(step);
        }
        if s.batches == 0 {
            bail!("{}: no rows", r.data);
        }
    }
    s.seconds = start.elapsed().as_secs_f64();
    let names = match (&batches, names.is_empty()) {
        (Batches::StdinCsv { names: n, .. }, true) => n.clone(),
        _ => names,
    };
    Ok((s, names))
}

fn report(
    online: &OnlineEm,
    s: &Summary,
    out: &str,
    what: &str,
    json: bool,
    quiet: bool,
) -> Result<()> {
    let m = online.model().expect("a batch was fitted");
    let last = s.last.expect("a batch was fitted");
    if !quiet {
        eprintln!(
            "{what} k={} {} online on {} rows × {} columns in {} batches ({} in all) in {:.2}s ({:.3}s per batch): last step {:.4}, last batch's mean log-likelihood before its step {:.6}",
            m.n_components(),
            m.covariance_type(),
            s.rows,
            s.columns,
            s.batches,
            online.n_batches(),
            s.seconds,
            s.seconds / s.batches.max(1) as f64,
            last.gamma,
            last.batch_log_likelihood,
        );
        if out != "-" {
            eprintln!("wrote {out}");
        }
    }
    if json {
        output::print_json(&json!({
            "output": out,
            "k": m.n_components(),
            "covariance": m.covariance_type().name(),
            "rows": s.rows,
            "features": s.columns,
            "batches": s.batches,
            "batches_total": online.n_batches(),
            "last_step": json_f64(last.gamma),
            "last_batch_log_likelihood": json_f64(last.batch_log_likelihood),
            "lower_bound": json_f64(m.info().lower_bound),
            "seconds": json_f64(s.seconds),
        }))?;
    }
    Ok(())
}

fn write(out: &str, online: &OnlineEm) -> Result<()> {
    let text = online.to_json()?;
    io::write_output(out, |w| {
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })
    .with_context(|| format!("cannot write the model to {}", output::shown(out)))
}

/// `gaussmix fit --online`: `g` is the estimator of fit's flags (it initialises on the
/// first batch).
///
/// # Errors
/// Bad flags (usage errors), unreadable data, a failed step; nothing is written then.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    g: GaussianMixture,
    data: &str,
    opts: &ReadOptions,
    batch: Option<usize>,
    passes: usize,
    init_starts: usize,
    step: &StepArgs,
    threads: Option<usize>,
    quiet: bool,
    verbose: bool,
    out: &str,
    json: bool,
) -> Result<()> {
    if init_starts == 0 {
        return Err(crate::exit::usage("--init-starts must be at least 1"));
    }
    let mut online = OnlineEm::new(g)
        .step_size(step.step(StepSize::default())?)
        .init_starts(init_starts);
    let run = Run {
        data,
        batch: batch.unwrap_or(DEFAULT_BATCH),
        passes,
        quiet,
        verbose,
        threads,
    };
    let (s, names) = drive(&mut online, &run, opts)?;
    if names.len() == s.columns {
        online.set_feature_names(names)?;
    }
    write(out, &online)?;
    report(&online, &s, out, "fitted", json, quiet)
}

/// `gaussmix update MODEL DATA`.
///
/// # Errors
/// An unreadable model or data, a width other than the model's (naming both), a failed
/// step; nothing is written then.
pub fn update(a: &UpdateArgs) -> Result<()> {
    let out = a.output.clone().unwrap_or_else(|| a.model.clone());
    output::check_json_output(a.json.json, &out, "-o")?;
    io::check_output_path(&out)?;
    if a.threads == Some(0) {
        return Err(crate::exit::usage("--threads must be at least 1"));
    }
    let text = std::fs::read_to_string(&a.model)
        .with_context(|| format!("cannot read model file {}", a.model))?;
    let builder = GaussianMixture::new(1).missing(a.missing.policy());
    let online = OnlineEm::from_json(builder, &text)
        .with_context(|| format!("{} is not a valid gaussmix model", a.model))?;
    let step = a.step.step(online.step_size_value())?;
    let mut online = online.step_size(step);
    a.missing.apply();
    let opts = ReadOptions {
        columns: a.data_args.columns.clone(),
        weights: a.weights.clone(),
        array: a.data_args.array.clone(),
        quiet: a.quiet,
    };
    let run = Run {
        data: &a.data,
        batch: a.batch_size.unwrap_or(usize::MAX),
        passes: 1,
        quiet: a.quiet,
        verbose: a.verbose,
        threads: a.threads,
    };
    let (s, _) = drive(&mut online, &run, &opts)?;
    write(&out, &online)?;
    report(&online, &s, &out, "updated", a.json.json, a.quiet)
}
