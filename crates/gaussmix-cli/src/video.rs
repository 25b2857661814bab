//! `gaussmix video …`: per-pixel background subtraction, tracking and CDnet scoring,
//! on a folder of images (CDnet layout or any folder of jpg/png/bmp) or a video file
//! (through the `ffmpeg` program).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use gaussmix_video::{
    LearningRate, Method, ModelParams, PostProcess, SubtractOptions, TrackFormat, TrackOptions,
    TrackerOptions,
};

/// The video subcommands.
#[derive(Subcommand, Debug)]
pub enum VideoCommand {
    /// Write one mask per frame: MASK_DIR/bin000001.png …, 0 background / 127 shadow / 255 foreground.
    Subtract(SubtractArgs),
    /// Track moving objects: one CSV row per track and frame (frame, track_id, x, y, w, h, cx, cy).
    Track(TrackArgs),
    /// Score masks against a CDnet sequence's ground truth (Re, Sp, FPR, FNR, PWC, Pr, F),
    /// or, with --tracks GT.txt, a track file against MOTChallenge ground truth (MOTA, MOTP,
    /// IDF1, ID switches, fragmentations, MT/ML, precision, recall at IoU >= 0.5).
    Eval(EvalArgs),
}

/// `--method`: the per-pixel background mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VideoMethod {
    /// Zivkovic's adaptive mixture (OpenCV's MOG2).
    #[value(alias = "mog2")]
    Zivkovic,
    /// Stauffer and Grimson's mixture (OpenCV's MOG).
    #[value(alias = "sg", alias = "mog", alias = "stauffer_grimson")]
    StaufferGrimson,
}

/// The background model and mask clean-up, shared by `subtract` and `track`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The per-pixel mixture.
    #[arg(long, value_enum, ignore_case = true, default_value = "zivkovic")]
    pub method: VideoMethod,
    /// Frames of history: the automatic learning rate is 1/min(2·frame, history).
    #[arg(long, default_value_t = 500)]
    pub history: u32,
    /// A fixed learning rate instead of the automatic schedule.
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// Squared-distance threshold (in variances) for a pixel to be background.
    #[arg(long, default_value_t = 16.0)]
    pub var_threshold: f32,
    /// Modes per pixel (1–8).
    #[arg(long, default_value_t = 5)]
    pub mixtures: usize,
    /// No shadow detection (shadows become foreground).
    #[arg(long)]
    pub no_shadows: bool,
    /// No global illumination compensation.
    #[arg(long)]
    pub no_illumination: bool,
    /// Neighbourhood support radius r: a pixel is foreground when the mean squared
    /// distance to the background over its (2r+1)² window reaches the threshold (0 = each
    /// pixel alone, as MOG2).
    #[arg(long)]
    pub support_radius: Option<usize>,
    /// Neighbourhood support threshold, in units of --var-threshold.
    #[arg(long)]
    pub support_threshold: Option<f32>,
    /// Cap of one pixel's squared distance in the neighbourhood mean, in units of --var-threshold.
    #[arg(long)]
    pub support_cap: Option<f32>,
    /// Least squared distance of a pixel itself, in units of --var-threshold, to be foreground by support.
    #[arg(long)]
    pub support_floor: Option<f32>,
    /// Learning-rate factor (0, 1] at pixels that were foreground in the previous frame
    /// (default 0.05; `video track` 0.25, so that ghosts of objects present at the start
    /// fade sooner).
    #[arg(long)]
    pub foreground_rate: Option<f32>,
    /// Frames a pixel may stay foreground and keep the reduced learning rate (default
    /// 1000; `video track` 100).
    #[arg(long)]
    pub foreground_hold: Option<u32>,
    /// Pixels whose mask toggles this often (decaying count) learn at the full rate.
    #[arg(long)]
    pub foreground_blink_limit: Option<f32>,
    /// Background propagation rate (a factor of the learning rate; 0 = off): foreground
    /// pixels beside the background also learn their closest background neighbour's colour.
    #[arg(long)]
    pub propagation_rate: Option<f32>,
    /// No displacement test (by default, in `subtract`, a foreground pixel that matches the
    /// strongest mode of one of its 8 neighbours is background: camera shake, leaves,
    /// compression).
    #[arg(long)]
    pub no_displacement: bool,
    /// The displacement test on (`video track` runs without it by default).
    #[arg(long, conflicts_with = "no_displacement")]
    pub displacement: bool,
    /// Threshold of the displacement test, in units of --var-threshold.
    #[arg(long)]
    pub displacement_threshold: Option<f32>,
    /// Variance of a new mode.
    #[arg(long)]
    pub var_init: Option<f32>,
    /// Smallest variance of a mode.
    #[arg(long)]
    pub var_min: Option<f32>,
    /// Largest variance of a mode.
    #[arg(long)]
    pub var_max: Option<f32>,
    /// OpenCV MOG2 exactly: its defaults, no illumination compensation, no clean-up.
    #[arg(long)]
    pub opencv: bool,
    /// Median filter size (odd; 0 or 1 = none).
    #[arg(long, default_value_t = 5)]
    pub median: usize,
    /// No mask clean-up at all (median, closing, hole filling).
    #[arg(long)]
    pub no_post: bool,
    /// Worker threads (default 1). Results do not depend on it.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl ModelArgs {
    /// The options, from `base` (the command's defaults) and the flags given.
    fn options(&self, base: ModelParams) -> Result<SubtractOptions> {
        let mut model = if self.opencv {
            ModelParams::opencv()
        } else {
            base
        };
        model.method = match self.method {
            VideoMethod::Zivkovic => Method::Zivkovic,
            VideoMethod::StaufferGrimson => Method::StaufferGrimson,
        };
        model.history = self.history;
        if let Some(a) = self.learning_rate {
            model.learning_rate = LearningRate::Fixed(a);
        }
        model.var_threshold = self.var_threshold;
        model.n_mixtures = self.mixtures;
        if self.no_shadows {
            model.detect_shadows = false;
        }
        if self.no_illumination {
            model.illumination_compensation = false;
        }
        if let Some(r) = self.support_radius {
            model.support_radius = r;
        }
        if let Some(t) = self.support_threshold {
            model.support_threshold = t;
        }
        if let Some(c) = self.support_cap {
            model.support_cap = c;
        }
        if let Some(f) = self.support_floor {
            model.support_floor = f;
        }
        if let Some(r) = self.foreground_rate {
            model.foreground_rate = r;
        }
        if let Some(h) = self.foreground_hold {
            model.foreground_hold = h;
        }
        if let Some(b) = self.foreground_blink_limit {
            model.foreground_blink_limit = b;
        }
        if let Some(r) = self.propagation_rate {
            model.propagation_rate = r;
        }
        if self.no_displacement {
            model.displacement = false;
        }
        if self.displacement {
            model.displacement = true;
        }
        if let Some(t) = self.displacement_threshold {
            model.displacement_threshold = t;
        }
        if let Some(v) = self.var_init {
            model.var_init = v;
        }
        if let Some(v) = self.var_min {
            model.var_min = v;
        }
        if let Some(v) = self.var_max {
            model.var_max = v;
        }
        model.validate()?;
        let mut post = if self.opencv || self.no_post {
            PostProcess::none()
        } else {
            PostProcess::default()
        };
        if !self.opencv && !self.no_post {
            post.median = self.median;
        }
        post.validate()?;
        Ok(SubtractOptions {
            model,
            post,
            threads: self.threads.max(1),
            overwrite: self.overwrite,
            ..Default::default()
        })
    }
}

/// Arguments of `video subtract`.
#[derive(Args, Debug)]
pub struct SubtractArgs {
    /// A folder of frames (CDnet sequence or images sorted by name) or a video file.
    pub input: PathBuf,
    /// Folder for the masks.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Arguments of `video track`.
#[derive(Args, Debug)]
pub struct TrackArgs {
    /// A folder of frames or a video file.
    pub input: PathBuf,
    /// Track rows as CSV (see --format), or - for standard output.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Annotated frames with boxes and ids: a folder of PNGs, or a video (.mp4, .mkv, …).
    #[arg(long)]
    pub annotate: Option<PathBuf>,
    /// Annotate only frames FIRST,LAST (1-based).
    #[arg(long, value_delimiter = ',')]
    pub annotate_range: Option<Vec<usize>>,
    /// Smallest blob, in pixels, that can be an object.
    #[arg(long, default_value_t = 64)]
    pub min_area: usize,
    /// Frames a new object must be seen before it gets an id.
    #[arg(long, default_value_t = 3)]
    pub birth_hits: u32,
    /// Frames a track may go unseen before it ends.
    #[arg(long, default_value_t = 8)]
    pub max_misses: u32,
    /// Output rows: `csv` (frame,track_id,x,y,w,h,cx,cy with a header, 0-based x, y) or
    /// `mot` (MOTChallenge frame,id,x,y,w,h,1,-1,-1,-1, 1-based x, y).
    #[arg(long, default_value = "csv", value_parser = ["csv", "mot"])]
    pub format: String,
    /// No occlusion reasoning: a blob holding several tracks goes to one of them.
    #[arg(long)]
    pub no_occlusion: bool,
    /// Ignore the objects' colours (no colour term, re-identification or joining of pieces).
    #[arg(long)]
    pub no_appearance: bool,
    /// A per-track Gaussian mixture of the object's colours for the colour term of the
    /// assignment (default: 4x4x4 histograms; the mixture tells apart colours sharing a
    /// bin, but did not confirm on held-out sequences).
    #[arg(long)]
    pub colour_model: bool,
    /// Frames a track born in the first 50 frames must stay still, never having moved
    /// farther than its size, to be taken for a ghost (a blob where an object stood when
    /// the background was learnt) and not reported; 0 reports ghosts.
    #[arg(long, default_value_t = gaussmix_video::track::TrackerOptions::default().ghost_frames)]
    pub ghost_frames: u32,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Arguments of `video eval`: `MASKS SEQUENCE`, or `--tracks GT.txt TRACKS`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// MASKS SEQUENCE: the folder of masks (binNNNNNN.png) written by `video subtract` and
    /// the CDnet sequence folder (groundtruth/, ROI.bmp, temporalROI.txt). With --tracks:
    /// the one track file to score (MOTChallenge rows or `video track`'s CSV).
    #[arg(required = true, num_args = 1..=2, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Score tracks against this MOTChallenge ground truth (frame,id,x,y,w,h,…).
    #[arg(long, value_name = "GT.txt")]
    pub tracks: Option<PathBuf>,
    /// Print the scores as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Frames, frames/s and (when the count is known) an ETA: the crate's indicatif
/// counter, drawn only on a terminal and never with `--quiet`.
fn progress(quiet: bool) -> crate::progress::Counter {
    crate::progress::Counter::new("frames", !quiet)
}

/// Runs a `video` subcommand.
pub fn run(cmd: &VideoCommand) -> Result<()> {
    match cmd {
        VideoCommand::Subtract(a) => {
            let opts = a.model.options(ModelParams::default())?;
            let mut p = progress(a.model.quiet);
            let r =
                gaussmix_video::subtract(&a.input, &a.output, &opts, &mut |d, t| p.update(d, t));
            p.finish();
            let r =
                r.with_context(|| format!("background subtraction of {}", a.input.display()))?;
            if !a.model.quiet {
                eprintln!(
                    "{} masks of {}×{} written to {} in {:.2?} ({:.0} frames/s)",
                    r.frames,
                    r.width,
                    r.height,
                    r.out_dir.display(),
                    r.elapsed,
                    r.frames as f64 / r.elapsed.as_secs_f64().max(1e-9)
                );
            }
            Ok(())
        }
        VideoCommand::Track(a) => {
            let subtract = a.model.options(ModelParams::for_tracking())?;
            let annotate_range = match &a.annotate_range {
                None => None,
                Some(v) if v.len() == 2 && v[0] >= 1 && v[0] <= v[1] => Some((v[0], v[1])),
                Some(v) => {
                    bail!("--annotate-range takes FIRST,LAST with 1 ≤ FIRST ≤ LAST; got {v:?}")
                }
            };
            let tracker = TrackerOptions {
                min_area: a.min_area,
                birth_hits: a.birth_hits,
                max_misses: a.max_misses,
                occlusion: !a.no_occlusion,
                appearance: !a.no_appearance,
                colour_model: a.colour_model,
                ghost_frames: a.ghost_frames,
                ..Default::default()
            };
            let to_stdout = a.output.as_os_str() == "-";
            let opts = TrackOptions {
                subtract,
                tracker,
                csv: (!to_stdout).then(|| a.output.clone()),
                format: if a.format == "mot" {
                    TrackFormat::Mot
                } else {
                    TrackFormat::Csv
                },
                annotate: a.annotate.clone(),
                annotate_range,
                fps: 0.0,
            };
            let mut p = progress(a.model.quiet);
            let r = gaussmix_video::track(&a.input, &opts, &mut |d, t| p.update(d, t));
            p.finish();
            let r = r.with_context(|| format!("tracking in {}", a.input.display()))?;
            if to_stdout {
                // the rows the library writes to a file, in the same form
                crate::io::write_output("-", |w| {
                    if opts.format == TrackFormat::Csv {
                        writeln!(w, "{}", gaussmix_video::TrackRow::CSV_HEADER)?;
                    }
                    for row in &r.rows {
                        match opts.format {
                            TrackFormat::Csv => writeln!(w, "{}", row.csv())?,
                            TrackFormat::Mot => writeln!(w, "{}", row.mot())?,
                        }
                    }
                    Ok(())
                })?;
            }
            if !a.model.quiet {
                eprintln!(
                    "{} frames, {} tracks, {} rows written to {} in {:.2?}",
                    r.frames,
                    r.tracks,
                    r.rows.len(),
                    crate::output::shown(&a.output.to_string_lossy()),
                    r.elapsed
                );
            }
            Ok(())
        }
        VideoCommand::Eval(a) if a.tracks.is_some() => {
            let gt = a.tracks.as_ref().expect("checked");
            let [tracks] = a.paths.as_slice() else {
                bail!(
                    "`video eval --tracks GT.txt` takes one track file, got {} paths",
                    a.paths.len()
                );
            };
            let m = gaussmix_video::evaluate_mot_files(gt, tracks).with_context(|| {
                format!("scoring {} against {}", tracks.display(), gt.display())
            })?;
            if a.json {
                println!("{}", mot_json(&m));
            } else {
                println!("{m}");
            }
            Ok(())
        }
        VideoCommand::Eval(a) => {
            let [masks, sequence] = a.paths.as_slice() else {
                bail!(
                    "`video eval` takes MASKS SEQUENCE (or --tracks GT.txt TRACKS), got {} path",
                    a.paths.len()
                );
            };
            let m = gaussmix_video::evaluate(masks, sequence).with_context(|| {
                format!("scoring {} against {}", masks.display(), sequence.display())
            })?;
            if a.json {
                crate::output::print_json(&cdnet_json(&m))?;
                return Ok(());
            }
            println!(
                "Re  {:.4}\nSp  {:.4}\nFPR {:.4}\nFNR {:.4}\nPWC {:.4}\nPr  {:.4}\nF   {:.4}",
                m.recall, m.specificity, m.fpr, m.fnr, m.pwc, m.precision, m.f_measure
            );
            println!(
                "TP {} FP {} FN {} TN {} over {} frames",
                m.tp, m.fp, m.fn_, m.tn, m.frames
            );
            Ok(())
        }
    }
}

/// The CDnet mask scores as one JSON object (CDnet's names; NaN as null).
fn cdnet_json(m: &gaussmix_video::Metrics) -> serde_json::Value {
    let f = crate::output::json_f64;
    serde_json::json!({
        "recall": f(m.recall), "specificity": f(m.specificity), "fpr": f(m.fpr),
        "fnr": f(m.fnr), "pwc": f(m.pwc), "precision": f(m.precision),
        "f_measure": f(m.f_measure),
        "tp": m.tp, "fp": m.fp, "fn": m.fn_, "tn": m.tn, "frames": m.frames,
    })
}

/// The tracking scores as one JSON object (NaN, e.g. MOTA without ground truth, as null).
fn mot_json(m: &gaussmix_video::MotMetrics) -> serde_json::Value {
    serde_json::json!({
        "mota": m.mota, "motp": m.motp, "idf1": m.idf1, "idp": m.idp, "idr": m.idr,
        "precision": m.precision, "recall": m.recall,
        "num_switches": m.switches, "num_fragmentations": m.fragmentations,
        "num_false_positives": m.false_positives, "num_misses": m.misses,
        "num_matches": m.matches, "mostly_tracked": m.mostly_tracked,
        "partially_tracked": m.partially_tracked, "mostly_lost": m.mostly_lost,
        "idtp": m.idtp, "idfp": m.idfp, "idfn": m.idfn,
        "num_objects": m.objects, "num_predictions": m.hypotheses,
        "num_unique_objects": m.gt_ids, "num_unique_hypotheses": m.hyp_ids,
        "num_frames": m.frames, "iou_threshold": m.iou_threshold,
        "hota": m.hota.hota, "deta": m.hota.det_a, "assa": m.hota.ass_a, "loca": m.hota.loc_a,
        "detre": m.hota.det_re, "detpr": m.hota.det_pr, "assre": m.hota.ass_re,
        "asspr": m.hota.ass_pr, "hota_alphas": m.hota.alphas, "hota_per_alpha": m.hota.hota_alpha,
    })
}
