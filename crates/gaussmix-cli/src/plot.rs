//! `gaussmix plot`: pictures of a mixture and its data, drawn in Rust with plotters.
//!
//! - 2-D (`--dims i,j`, default the first two features): the rows as points whose colour
//!   mixes the component colours by the responsibilities γ_nk, and each component's 1σ
//!   (solid) and 2σ (dashed) ellipse: the level sets of its 2-D marginal, whose
//!   covariance is the (i, j) block of Σ_k (tied: the shared matrix; diag: the two
//!   variances; spherical: σ_k² I).
//! - 1-D (one feature, or `--dims i`): a density histogram with the mixture density and
//!   each weighted component π_k N(x | μ_k, σ_k²) of the marginal.
//! - `--trace`: re-runs EM from the model's k and covariance type (with `--seed` and
//!   `--init`) one iteration at a time and draws panels side by side at the iterations of
//!   `--iterations` (default 1, 2, 5, 20, as in Bishop's PRML figure 9.8).
//!
//! The output format follows the extension: `.png` (RGB, encoded with `png`) or `.svg`.
//! Text uses an embedded subset of DejaVu Sans (see `plot/DejaVuSans-LICENSE.txt`), so
//! nothing depends on the fonts installed on the machine.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use gaussmix::{CovarianceType, Covariances, GaussianMixture, GmmModel, InitMethod};
use ndarray::{Array2, ArrayView2, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::args::DataArgs;
use crate::io;
use crate::util::{load_model, read_for_model};
use gaussmix::select::{CellOutcome, SelectionResult};

/// Arguments of `plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Model file written by `gaussmix fit` (or `select`, `anomaly --save-model`).
    pub model: String,
    /// Data file or `-`.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Features to draw, 0-based: `i,j` for a scatter plot, `i` for a histogram
    /// (default: the first two, or the only one).
    #[arg(long, value_delimiter = ',')]
    pub dims: Option<Vec<usize>>,
    /// Re-run EM and draw the parameters at several iterations side by side.
    #[arg(long)]
    pub trace: bool,
    /// Iterations drawn by `--trace` (0 = the initialisation).
    #[arg(long, value_delimiter = ',', default_value = "1,2,5,20")]
    pub iterations: Vec<usize>,
    /// Seed of the re-run fit for `--trace`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initialisation of the re-run fit for `--trace`: kmeans, k-means++, random,
    /// random-from-data, or spread (k-means++ seed rows as means, each component with the
    /// data's overall covariance and equal weights: the slow, instructive start of the
    /// textbook figure).
    #[arg(long, value_enum, ignore_case = true, default_value = "kmeans")]
    pub init: TraceInit,
    /// Added to covariance diagonals in the re-run fit for `--trace`.
    #[arg(long, default_value_t = 1e-6, allow_hyphen_values = true)]
    pub reg_covar: f64,
    /// Width in pixels (default 800, or 380 per panel with `--trace`).
    #[arg(long)]
    pub width: Option<u32>,
    /// Height in pixels (default 600, or 420 with `--trace`).
    #[arg(long)]
    pub height: Option<u32>,
    /// Title (default: what is drawn, and from which files).
    #[arg(long)]
    pub title: Option<String>,
    /// No notes on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the lower bound at every iteration of the `--trace` re-run.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Picture format (default: by the output's extension; PNG on standard output).
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<PicFormat>,
    /// Output picture: .png or .svg, or `-` for standard output.
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

/// `plot --trace --init`: the library's initialisations, and `spread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceInit {
    /// k-means++ seeds, Lloyd iterations, rows assigned to their cluster.
    #[value(alias = "k-means")]
    Kmeans,
    /// k-means++ seed rows, each alone starting a component.
    #[value(name = "k-means++", alias = "kmeans++")]
    KMeansPlusPlus,
    /// Random responsibilities, normalised per row.
    Random,
    /// K distinct random rows, each alone starting a component.
    RandomFromData,
    /// k-means++ seed rows as means, each with the data's overall covariance and equal
    /// weights (the slow, instructive start of the textbook figure).
    Spread,
}

static FONT: &[u8] = include_bytes!("plot/DejaVuSans-subset.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font as plotters' sans-serif family (once per process).
fn register_font() {
    REGISTER.call_once(|| {
        // the embedded font is valid: a failure here would be a build defect
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

use crate::args::PictureFormat as PicFormat;

/// The picture format for `path`: `forced` (`--format`) when given, else the
/// extension; standard output (`-`) is PNG unless `--format svg`.
fn pic_format_as(path: &str, forced: Option<PicFormat>) -> Result<PicFormat> {
    if let Some(f) = forced {
        return Ok(f);
    }
    if path == "-" {
        return Ok(PicFormat::Png);
    }
    let ext = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => Ok(PicFormat::Png),
        Some("svg") => Ok(PicFormat::Svg),
        Some(other) => {
            bail!("{path}: unsupported picture extension '.{other}' (supported: .png, .svg; or --format)")
        }
        None => bail!(
            "{path}: cannot tell the picture format without an extension (supported: .png, .svg; or --format)"
        ),
    }
}

fn pic_format(path: &str) -> Result<PicFormat> {
    pic_format_as(path, None)
}

/// Checks before any work that a plot can be written to `path` (.png or .svg, in a
/// writable directory). Standard output is refused: this check is for plots written
/// beside another result (`select --plot`).
///
/// # Errors
/// An unsupported extension or an unwritable place.
pub fn check_plot_output(path: &str) -> Result<()> {
    if path == "-" {
        bail!("a plot cannot go to standard output here: name a .png or .svg file");
    }
    pic_format(path)?;
    io::check_output_path(path)
}

pub(crate) fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// Something that can draw itself on any plotters backend (with [`render`], the way
/// another module draws a figure, e.g. `select --plot`).
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Renders a figure to `path` (PNG or SVG by extension), atomically.
pub(crate) fn render(path: &str, width: u32, height: u32, fig: &impl Figure) -> Result<()> {
    render_as(path, pic_format(path)?, width, height, fig)
}

/// Renders a figure in `format` to `path` (atomically), or to standard output (`-`).
fn render_as(
    path: &str,
    format: PicFormat,
    width: u32,
    height: u32,
    fig: &impl Figure,
) -> Result<()> {
    register_font();
    if !(16..=16384).contains(&width) || !(16..=16384).contains(&height) {
        bail!(
            "picture size {width}×{height}: width and height must be between 16 and 16384 pixels"
        );
    }
    match format {
        PicFormat::Png => {
            let mut buf = vec![255u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(perr)?;
                fig.draw(&root)?;
                root.present().map_err(perr)?;
            }
            io::write_output(path, |w| {
                let mut enc = png::Encoder::new(w, width, height);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                enc.set_compression(png::Compression::High);
                let mut writer = enc.write_header()?;
                writer.write_image_data(&buf)?;
                writer.finish()?;
                Ok(())
            })
        }
        PicFormat::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(perr)?;
                fig.draw(&root)?;
                root.present().map_err(perr)?;
            }
            io::write_output(path, |w| Ok(w.write_all(s.as_bytes())?))
        }
    }
    .with_context(|| format!("cannot write the plot {}", crate::output::shown(path)))
}

/// Component colours (Tableau 10), cycled for K > 10.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

pub(crate) fn colour(k: usize) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The colour of a row: the component colours mixed by its responsibilities.
fn mixed(resp: ndarray::ArrayView1<f64>) -> RGBColor {
    let (mut r, mut g, mut b) = (0.0, 0.0, 0.0);
    for (k, &p) in resp.iter().enumerate() {
        let (cr, cg, cb) = PALETTE[k % PALETTE.len()];
        r += p * f64::from(cr);
        g += p * f64::from(cg);
        b += p * f64::from(cb);
    }
    let c = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    RGBColor(c(r), c(g), c(b))
}

/// The colour of the legend's point: an even mix of the first two components.
fn mixed_legend_colour() -> RGBColor {
    mixed(ndarray::array![0.5, 0.5].view())
}

/// The 2×2 covariance block of component `k` for features `i`, `j`.
fn block2(cov: &Covariances, k: usize, i: usize, j: usize) -> [[f64; 2]; 2] {
    match cov {
        Covariances::Full(c) => [[c[[k, i, i]], c[[k, i, j]]], [c[[k, j, i]], c[[k, j, j]]]],
        Covariances::Tied(c) => [[c[[i, i]], c[[i, j]]], [c[[j, i]], c[[j, j]]]],
        Covariances::Diag(c) => [[c[[k, i]], 0.0], [0.0, c[[k, j]]]],
        Covariances::Spherical(c) => [[c[k], 0.0], [0.0, c[k]]],
    }
}

/// The variance of feature `i` in component `k`.
fn var1(cov: &Covariances, k: usize, i: usize) -> f64 {
    block2(cov, k, i, i)[0][0]
}

/// Points of the ellipse {x : (x−μ)ᵀ Σ⁻¹ (x−μ) = r²} of a 2×2 covariance.
pub fn ellipse(mu: (f64, f64), s: [[f64; 2]; 2], r: f64, n: usize) -> Vec<(f64, f64)> {
    let (a, b, d) = (s[0][0], 0.5 * (s[0][1] + s[1][0]), s[1][1]);
    let tr = 0.5 * (a + d);
    let disc = (0.25 * (a - d) * (a - d) + b * b).sqrt();
    let l1 = (tr + disc).max(0.0);
    let l2 = (tr - disc).max(0.0);
    // eigenvector of l1
    let (vx, vy) = if b.abs() > 1e-300 {
        let (x, y) = (l1 - d, b);
        let nrm = (x * x + y * y).sqrt();
        (x / nrm, y / nrm)
    } else if a >= d {
        (1.0, 0.0)
    } else {
        (0.0, 1.0)
    };
    let (s1, s2) = (l1.sqrt() * r, l2.sqrt() * r);
    (0..=n)
        .map(|t| {
            let th = std::f64::consts::TAU * t as f64 / n as f64;
            let (c, sn) = (th.cos() * s1, th.sin() * s2);
            (mu.0 + c * vx - sn * vy, mu.1 + c * vy + sn * vx)
        })
        .collect()
}

/// Padded range of values (a unit range around a constant).
pub(crate) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        let m = if lo.is_finite() { lo } else { 0.0 };
        let h = if m == 0.0 { 1.0 } else { m.abs() * 0.1 };
        return (m - h, m + h);
    }
    let p = (hi - lo) * frac;
    (lo - p, hi + p)
}

pub(crate) fn min_max(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// A 2-D panel: data coloured by responsibility, 1σ/2σ ellipses, means.
struct Scatter2<'a> {
    x: ArrayView2<'a, f64>,
    dims: (usize, usize),
    names: (String, String),
    title: String,
    /// (model, responsibilities, panel caption) per panel
    panels: Vec<(GmmModel, Array2<f64>, String)>,
    legend: bool,
}

impl Scatter2<'_> {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (i, j) = self.dims;
        let (mut x0, mut x1) = min_max(self.x.column(i).iter().copied());
        let (mut y0, mut y1) = min_max(self.x.column(j).iter().copied());
        // widen to show the 2σ ellipses, but never by more than a quarter of the data's span
        let (sx, sy) = (x1 - x0, y1 - y0);
        for (m, _, _) in &self.panels {
            for k in 0..m.n_components() {
                let mu = (m.means()[[k, i]], m.means()[[k, j]]);
                let e = ellipse(mu, block2(m.covariances(), k, i, j), 2.0, 64);
                let (ex0, ex1) = min_max(e.iter().map(|p| p.0));
                let (ey0, ey1) = min_max(e.iter().map(|p| p.1));
                x0 = x0.min(ex0.max(x0 - 0.25 * sx));
                x1 = x1.max(ex1.min(x1 + 0.25 * sx));
                y0 = y0.min(ey0.max(y0 - 0.25 * sy));
                y1 = y1.max(ey1.min(y1 + 0.25 * sy));
            }
        }
        (padded(x0, x1, 0.04), padded(y0, y1, 0.04))
    }
}

impl Figure for Scatter2<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let area = root
            .titled(&self.title, ("sans-serif", 22).into_font().color(&BLACK))
            .map_err(perr)?;
        // several panels (a trace): one key in a strip under the title, over them all;
        // one panel: the key inside it
        let strip = self.legend && self.panels.len() > 1;
        let area = if strip {
            let k = self.panels.first().map_or(0, |p| p.0.n_components());
            let rows = key_rows(k, area.dim_in_pixel().0);
            let (top, rest) = area.split_vertically(8 + 24 * rows as u32);
            draw_key_strip(&top, k)?;
            rest
        } else {
            area
        };
        let panels = area.split_evenly((1, self.panels.len()));
        let ((x0, x1), (y0, y1)) = self.ranges();
        let (i, j) = self.dims;
        for (p, (model, resp, caption)) in panels.iter().zip(&self.panels) {
            let legend = self.legend && !strip;
            let mut chart = ChartBuilder::on(p);
            chart.margin(8).x_label_area_size(42).y_label_area_size(54);
            if !caption.is_empty() {
                chart.caption(caption, ("sans-serif", 17));
            }
            let mut chart = chart.build_cartesian_2d(x0..x1, y0..y1).map_err(perr)?;
            chart
                .configure_mesh()
                .x_desc(&self.names.0)
                .y_desc(&self.names.1)
                .axis_desc_style(("sans-serif", 16))
                .label_style(("sans-serif", 13))
                .light_line_style(RGBColor(238, 238, 238))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()
                .map_err(perr)?;
            let dot = if self.x.nrows() > 5000 { 2 } else { 3 };
            chart
                .draw_series(self.x.outer_iter().zip(resp.outer_iter()).map(|(row, g)| {
                    Circle::new((row[i], row[j]), dot, mixed(g).mix(0.85).filled())
                }))
                .map_err(perr)?;
            for k in 0..model.n_components() {
                let c = colour(k);
                let mu = (model.means()[[k, i]], model.means()[[k, j]]);
                let s = block2(model.covariances(), k, i, j);
                let series = chart
                    .draw_series(LineSeries::new(ellipse(mu, s, 1.0, 120), c.stroke_width(3)))
                    .map_err(perr)?;
                if legend {
                    series
                        .label(format!("component {k}  π = {:.2}", model.weights()[k]))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                        });
                }
                chart
                    .draw_series(DashedLineSeries::new(
                        ellipse(mu, s, 2.0, 160),
                        7,
                        5,
                        c.stroke_width(2),
                    ))
                    .map_err(perr)?;
                chart
                    .draw_series(std::iter::once(Cross::new(mu, 7, BLACK.stroke_width(3))))
                    .map_err(perr)?;
                chart
                    .draw_series(std::iter::once(Cross::new(mu, 6, c.stroke_width(2))))
                    .map_err(perr)?;
            }
            if legend {
                // a key for every other mark: the points, the dashed 2σ ellipses, the means
                let grey = RGBColor(90, 90, 90);
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(perr)?
                    .label("rows, coloured by responsibility")
                    .legend(move |(x, y)| {
                        Circle::new((x + 10, y), 4, mixed_legend_colour().mix(0.85).filled())
                    });
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(perr)?
                    .label("1σ ellipse (solid), 2σ (dashed)")
                    .legend(move |(x, y)| {
                        plotters::element::DashedPathElement::new(
                            vec![(x, y), (x + 20, y)],
                            5,
                            3,
                            grey.stroke_width(2),
                        )
                    });
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(perr)?
                    .label("× component mean")
                    .legend(move |(x, y)| Cross::new((x + 10, y), 6, BLACK.stroke_width(2)));
                chart
                    .configure_series_labels()
                    .label_font(("sans-serif", 14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(160, 160, 160))
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()
                    .map_err(perr)?;
            }
        }
        Ok(())
    }
}

/// The entries of a key strip for `k` components: (label, width in pixels).
fn key_entries(k: usize) -> Vec<(String, u32)> {
    let mut v: Vec<String> = (0..k).map(|c| format!("component {c}")).collect();
    v.extend(
        [
            "rows, coloured by responsibility",
            "1σ ellipse (solid), 2σ (dashed)",
            "× component mean",
        ]
        .map(String::from),
    );
    // about 6.5 px per character at 14 px, a 26 px mark and 22 px between entries
    v.into_iter()
        .map(|l| {
            let w = 26 + (l.chars().count() as f64 * 6.5) as u32 + 22;
            (l, w)
        })
        .collect()
}

/// Rows the key strip needs in `width` pixels.
fn key_rows(k: usize, width: u32) -> usize {
    let mut rows = 1;
    let mut x = 10;
    for (_, w) in key_entries(k) {
        if x + w > width && x > 10 {
            rows += 1;
            x = 10;
        }
        x += w;
    }
    rows
}

/// Draws the key of a trace: each component's colour (solid 1σ line), the points, the
/// dashed 2σ ellipse and the × of a mean, left to right, wrapping to more rows.
fn draw_key_strip<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, k: usize) -> Result<()> {
    let width = area.dim_in_pixel().0;
    let grey = RGBColor(90, 90, 90);
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    let (mut x, mut y) = (10i32, 16i32);
    for (n, (label, w)) in key_entries(k).into_iter().enumerate() {
        if x + w as i32 > width as i32 && x > 10 {
            x = 10;
            y += 24;
        }
        if n < k {
            let c = colour(n);
            area.draw(&PathElement::new(
                vec![(x, y), (x + 20, y)],
                c.stroke_width(3),
            ))
            .map_err(perr)?;
        } else {
            match n - k {
                0 => area
                    .draw(&Circle::new(
                        (x + 10, y),
                        4,
                        mixed_legend_colour().mix(0.85).filled(),
                    ))
                    .map_err(perr)?,
                1 => area
                    .draw(&plotters::element::DashedPathElement::new(
                        vec![(x, y), (x + 20, y)],
                        5,
                        3,
                        grey.stroke_width(2),
                    ))
                    .map_err(perr)?,
                _ => area
                    .draw(&Cross::new((x + 10, y), 6, BLACK.stroke_width(2)))
                    .map_err(perr)?,
            }
        }
        area.draw(&Text::new(label, (x + 26, y - 8), font.clone()))
            .map_err(perr)?;
        x += w as i32;
    }
    Ok(())
}

/// A 1-D panel: density histogram, mixture density, weighted components.
struct Hist1<'a> {
    values: ndarray::ArrayView1<'a, f64>,
    dim: usize,
    name: String,
    title: String,
    panels: Vec<(GmmModel, String)>,
}

/// Number of histogram bins: the larger of the Freedman–Diaconis rule and √N, within
/// 8..=80.
fn n_bins(v: &[f64]) -> usize {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let q = |p: f64| s[((n - 1) as f64 * p).round() as usize];
    let iqr = q(0.75) - q(0.25);
    let span = s[n - 1] - s[0];
    if !(iqr > 0.0 && span > 0.0) {
        return ((n as f64).sqrt().ceil() as usize).clamp(8, 80);
    }
    let h = 2.0 * iqr / (n as f64).cbrt();
    ((span / h).ceil().max((n as f64).sqrt().ceil()) as usize).clamp(8, 80)
}

fn normal_pdf(x: f64, mu: f64, var: f64) -> f64 {
    (-(x - mu) * (x - mu) / (2.0 * var)).exp() / (std::f64::consts::TAU * var).sqrt()
}

impl Figure for Hist1<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let area = root
            .titled(&self.title, ("sans-serif", 22).into_font().color(&BLACK))
            .map_err(perr)?;
        let v: Vec<f64> = self.values.to_vec();
        let (lo, hi) = min_max(v.iter().copied());
        let (x0, x1) = padded(lo, hi, 0.08);
        let bins = n_bins(&v);
        let width = if hi > lo {
            (hi - lo) / bins as f64
        } else {
            1.0
        };
        let start = if hi > lo { lo } else { lo - 0.5 };
        let mut counts = vec![0usize; bins];
        for &t in &v {
            let b = (((t - start) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
        let n = v.len() as f64;
        let dens: Vec<f64> = counts.iter().map(|&c| c as f64 / (n * width)).collect();
        let grid: Vec<f64> = (0..=400)
            .map(|t| x0 + (x1 - x0) * t as f64 / 400.0)
            .collect();
        let d = self.dim;
        let curves: Vec<(Vec<f64>, Vec<Vec<f64>>)> = self
            .panels
            .iter()
            .map(|(m, _)| {
                let comps: Vec<Vec<f64>> = (0..m.n_components())
                    .map(|k| {
                        let (w, mu, var) = (
                            m.weights()[k],
                            m.means()[[k, d]],
                            var1(m.covariances(), k, d),
                        );
                        grid.iter().map(|&g| w * normal_pdf(g, mu, var)).collect()
                    })
                    .collect();
                let total = (0..grid.len())
                    .map(|t| comps.iter().map(|c| c[t]).sum())
                    .collect();
                (total, comps)
            })
            .collect();
        let ymax = dens
            .iter()
            .copied()
            .chain(curves.iter().flat_map(|(t, _)| t.iter().copied()))
            .fold(0.0f64, f64::max);
        // a very narrow component can spike far above the histogram: cap the axis
        let hist_max = dens.iter().copied().fold(0.0f64, f64::max);
        let ytop = if hist_max > 0.0 {
            ymax.min(3.0 * hist_max)
        } else {
            ymax
        } * 1.08;
        let ytop = if ytop > 0.0 && ytop.is_finite() {
            ytop
        } else {
            1.0
        };
        let panels = area.split_evenly((1, self.panels.len()));
        for ((p, (model, caption)), (total, comps)) in panels.iter().zip(&self.panels).zip(&curves)
        {
            let mut chart = ChartBuilder::on(p);
            chart.margin(8).x_label_area_size(42).y_label_area_size(60);
            if !caption.is_empty() {
                chart.caption(caption, ("sans-serif", 17));
            }
            let mut chart = chart.build_cartesian_2d(x0..x1, 0.0..ytop).map_err(perr)?;
            chart
                .configure_mesh()
                .x_desc(&self.name)
                .y_desc("density")
                .axis_desc_style(("sans-serif", 16))
                .label_style(("sans-serif", 13))
                .light_line_style(RGBColor(238, 238, 238))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()
                .map_err(perr)?;
            chart
                .draw_series(dens.iter().enumerate().map(|(b, &h)| {
                    let a = start + b as f64 * width;
                    Rectangle::new(
                        [(a, 0.0), (a + width, h.min(ytop))],
                        RGBColor(200, 200, 200).filled(),
                    )
                }))
                .map_err(perr)?
                .label("data (histogram)")
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 20, y + 5)],
                        RGBColor(200, 200, 200).filled(),
                    )
                });
            chart
                .draw_series(dens.iter().enumerate().map(|(b, &h)| {
                    let a = start + b as f64 * width;
                    Rectangle::new(
                        [(a, 0.0), (a + width, h.min(ytop))],
                        RGBColor(150, 150, 150).stroke_width(1),
                    )
                }))
                .map_err(perr)?;
            for (k, c) in comps.iter().enumerate() {
                let col = colour(k);
                chart
                    .draw_series(DashedLineSeries::new(
                        grid.iter().copied().zip(c.iter().map(|v| v.min(ytop))),
                        8,
                        4,
                        col.stroke_width(3),
                    ))
                    .map_err(perr)?
                    .label(format!(
                        "π{k} N(μ = {:.3}, σ = {:.3})",
                        model.means()[[k, d]],
                        var1(model.covariances(), k, d).sqrt()
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                    });
            }
            chart
                .draw_series(LineSeries::new(
                    grid.iter().copied().zip(total.iter().map(|v| v.min(ytop))),
                    BLACK.stroke_width(3),
                ))
                .map_err(perr)?
                .label("mixture density")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(3))
                });
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(perr)?;
        }
        Ok(())
    }
}

/// The criterion of `select` against k, one curve per covariance type.
struct Curves<'a> {
    result: &'a SelectionResult,
    best: usize,
    title: String,
}

/// Distinct colours for the fourteen families (a qualitative palette, as mclust's plot).
const FAMILY_COLOURS: [(u8, u8, u8); 14] = [
    (128, 128, 128),
    (0, 0, 0),
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (213, 94, 0),
    (0, 114, 178),
    (204, 121, 167),
    (153, 153, 51),
    (136, 34, 85),
    (68, 170, 153),
    (221, 204, 119),
    (17, 119, 51),
    (204, 102, 119),
];

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let criterion = self.result.criterion;
        // (k, family, value, degenerate)
        let pts: Vec<(usize, CovarianceType, f64, bool)> = self
            .result
            .cells
            .iter()
            .filter_map(|c| {
                let degenerate = matches!(c.outcome, CellOutcome::Degenerate { .. });
                c.scores()
                    .map(|s| (c.k, c.covariance_type, s.get(criterion), degenerate))
                    .filter(|p| p.2.is_finite())
            })
            .collect();
        let (k0, k1) = min_max(pts.iter().map(|p| p.0 as f64));
        let best_v = self.result.cells[self.best]
            .scores()
            .map_or(f64::NAN, |s| s.get(criterion));
        // the competitive region: from the best value to a little past the median of the
        // other fitted cells (far-off cells such as k = 1 would flatten the rest)
        let mut vals: Vec<f64> = pts.iter().filter(|p| !p.3).map(|p| p.2).collect();
        vals.sort_by(f64::total_cmp);
        let (all0, all1) = min_max(pts.iter().map(|p| p.2));
        let median = vals.get(vals.len() / 2).copied().unwrap_or(all1);
        let top = all1.min(best_v + 2.0 * (median - best_v).max(10.0));
        let clipped = pts.iter().any(|p| p.2 > top);
        let (v0, v1) = padded(all0.min(best_v), top, 0.06);
        let (k0, k1) = (k0 - 0.3, k1 + 0.3);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(80)
            .build_cartesian_2d(k0..k1, v0..v1)
            .map_err(perr)?;
        let span = (k1 - k0).round() as usize;
        let y_desc = if clipped {
            format!(
                "{} (lower is better; values above {top:.0} off the top)",
                criterion.name()
            )
        } else {
            format!("{} (lower is better)", criterion.name())
        };
        chart
            .configure_mesh()
            .x_desc("number of components k")
            .y_desc(y_desc)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 13))
            .x_labels(span.clamp(2, 20) + 1)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 {
                    format!("{}", v.round())
                } else {
                    String::new()
                }
            })
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(perr)?;
        for (ci, ct) in CovarianceType::ALL.iter().enumerate() {
            let line: Vec<(f64, f64, bool)> = pts
                .iter()
                .filter(|p| p.1 == *ct)
                .map(|p| (p.0 as f64, p.2, p.3))
                .collect();
            if line.is_empty() {
                continue;
            }
            let (r, g, b) = FAMILY_COLOURS[ci];
            let c = RGBColor(r, g, b);
            let name = ct.mclust_name();
            chart
                .draw_series(LineSeries::new(
                    line.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))
                .map_err(perr)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            // filled marks for sound fits, hollow for degenerate ones
            chart
                .draw_series(line.iter().map(|&(x, y, deg)| {
                    if deg {
                        Circle::new((x, y), 4, c.stroke_width(1))
                    } else {
                        Circle::new((x, y), 4, c.filled())
                    }
                }))
                .map_err(perr)?;
        }
        if pts.iter().any(|p| p.3) {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(perr)?
                .label("hollow: degenerate (never chosen)")
                .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.stroke_width(1)));
        }
        let b = &self.result.cells[self.best];
        if let Some(s) = b.scores() {
            let p = (b.k as f64, s.get(criterion));
            chart
                .draw_series(std::iter::once(Circle::new(p, 10, BLACK.stroke_width(2))))
                .map_err(perr)?
                .label(format!(
                    "best: k={} {}",
                    b.k,
                    b.covariance_type.mclust_name()
                ))
                .legend(|(x, y)| Circle::new((x + 10, y), 6, BLACK.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(perr)?;
        Ok(())
    }
}

/// Draws the criterion of every cell of a selection against k, one curve per family, to
/// `path` (900×560).
///
/// # Errors
/// An unsupported extension or a write failure.
pub fn criterion_curves(
    path: &str,
    result: &SelectionResult,
    best: usize,
    data_name: &str,
) -> Result<()> {
    let title = format!(
        "{} by number of components — {}",
        result.criterion.name(),
        file_name(data_name)
    );
    render(
        path,
        900,
        560,
        &Curves {
            result,
            best,
            title,
        },
    )
}

fn file_name(path: &str) -> String {
    if path == "-" {
        return "stdin".into();
    }
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |f| f.to_string_lossy().into_owned())
}

/// Parameters after each of the wanted iterations of a re-run fit (0 = initialisation).
fn trace_models(
    a: &PlotArgs,
    model: &GmmModel,
    x: ArrayView2<f64>,
    wanted: &[usize],
) -> Result<Vec<(usize, GmmModel)>> {
    let spread = a.init == TraceInit::Spread;
    let init = match a.init {
        TraceInit::Kmeans => InitMethod::KMeans,
        TraceInit::KMeansPlusPlus | TraceInit::Spread => InitMethod::KMeansPlusPlus,
        TraceInit::Random => InitMethod::Random,
        TraceInit::RandomFromData => InitMethod::RandomFromData,
    };
    let (k, ct) = (model.n_components(), model.covariance_type());
    let base = GaussianMixture::new(k)
        .covariance_type(ct)
        .init(init)
        .seed(a.seed)
        .reg_covar(a.reg_covar)
        // keep going for the picture even when the lower bound has settled
        .tol(0.0);
    let mut current = base
        .clone()
        .max_iter(0)
        .fit(x)
        .context("initialising the trace fit")?;
    if spread {
        let overall = GaussianMixture::new(1)
            .covariance_type(ct)
            .reg_covar(a.reg_covar)
            .fit(x)
            .context("initialising the trace fit")?;
        let prec = match overall.precisions() {
            Covariances::Full(p) => Covariances::Full(
                p.broadcast((k, p.shape()[1], p.shape()[2]))
                    .expect("1×D×D broadcasts")
                    .to_owned(),
            ),
            Covariances::Diag(p) => Covariances::Diag(
                p.broadcast((k, p.ncols()))
                    .expect("1×D broadcasts")
                    .to_owned(),
            ),
            Covariances::Spherical(p) => {
                Covariances::Spherical(ndarray::Array1::from_elem(k, p[0]))
            }
            tied @ Covariances::Tied(_) => tied,
        };
        current = GaussianMixture::new(k)
            .covariance_type(ct)
            .weights_init(ndarray::Array1::from_elem(k, 1.0 / k as f64))
            .means_init(current.means().clone())
            .precisions_init(prec)
            .max_iter(0)
            .fit(x)
            .context("initialising the trace fit")?;
    }
    let last = wanted.iter().copied().max().unwrap_or(0);
    let step = base.max_iter(1);
    let mut out = Vec::new();
    let mut progress = crate::progress::Progress::new(!a.quiet, a.verbose, last, 1);
    for it in 0..=last {
        if it > 0 {
            current = step
                .fit_warm(&current, x, None)
                .with_context(|| format!("EM iteration {it} of the trace fit"))?;
            if let Some(&lb) = current.info().lower_bounds.last() {
                progress.iteration(&gaussmix::IterationEvent {
                    init: 0,
                    iter: it,
                    lower_bound: lb,
                    change: f64::NAN,
                });
            }
        }
        if wanted.contains(&it) {
            out.push((it, current.clone()));
        }
    }
    progress.finish();
    Ok(out)
}

/// `gaussmix plot`.
pub fn plot(a: &PlotArgs) -> Result<()> {
    let format = pic_format_as(&a.output, a.format)?;
    io::check_output_path(&a.output)?;
    let model = load_model(&a.model)?;
    let data = read_for_model(&a.data, &a.data_args, &model, a.quiet)?;
    let x = data.x.view();
    let dfeat = x.ncols();
    let dims = match &a.dims {
        Some(d) => d.clone(),
        None if dfeat == 1 => vec![0],
        None => {
            if dfeat > 2 && !a.quiet {
                eprintln!(
                    "note: {dfeat} features; drawing the first two ({}, {}); choose others with --dims i,j",
                    data.feature_names[0], data.feature_names[1]
                );
            }
            vec![0, 1]
        }
    };
    if dims.is_empty() || dims.len() > 2 {
        bail!(
            "--dims takes one or two feature indices (e.g. --dims 0,2), got {}",
            dims.len()
        );
    }
    if let Some(&bad) = dims.iter().find(|&&d| d >= dfeat) {
        bail!(
            "--dims {bad} is out of range: the data has {dfeat} feature(s), numbered 0..{}",
            dfeat - 1
        );
    }
    if dims.len() == 2 && dims[0] == dims[1] {
        bail!(
            "--dims {},{} names the same feature twice",
            dims[0],
            dims[1]
        );
    }
    let panels: Vec<(String, GmmModel)> = if a.trace {
        let mut wanted = a.iterations.clone();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() || wanted.len() > 12 {
            bail!("--iterations takes 1 to 12 iteration numbers");
        }
        if *wanted.last().expect("non-empty") > 100_000 {
            bail!("--iterations: at most 100000 iterations");
        }
        trace_models(a, &model, x, &wanted)?
            .into_iter()
            .map(|(it, m)| {
                let cap = if it == 0 {
                    "initialisation".to_string()
                } else {
                    format!("iteration {it}")
                };
                (cap, m)
            })
            .collect()
    } else {
        vec![(String::new(), model.clone())]
    };
    let n_panels = panels.len() as u32;
    let width = a
        .width
        .unwrap_or(if a.trace { 380 * n_panels } else { 800 });
    let height = a.height.unwrap_or(if a.trace { 420 } else { 600 });
    let what = if a.trace {
        format!(
            "EM iterations, k={} {} — {}",
            model.n_components(),
            model.covariance_type(),
            file_name(&a.data)
        )
    } else {
        format!(
            "{} with k={} {} mixture",
            file_name(&a.data),
            model.n_components(),
            model.covariance_type()
        )
    };
    let title = a.title.clone().unwrap_or(what);
    if dims.len() == 2 {
        let mut ps = Vec::new();
        for (cap, m) in panels {
            let resp = m.predict_proba(x)?;
            ps.push((m, resp, cap));
        }
        let fig = Scatter2 {
            x,
            dims: (dims[0], dims[1]),
            names: (
                data.feature_names[dims[0]].clone(),
                data.feature_names[dims[1]].clone(),
            ),
            title,
            legend: true,
            panels: ps,
        };
        render_as(&a.output, format, width, height, &fig)?;
    } else {
        let fig = Hist1 {
            values: x.index_axis(Axis(1), dims[0]),
            dim: dims[0],
            name: data.feature_names[dims[0]].clone(),
            title,
            panels: panels.into_iter().map(|(c, m)| (m, c)).collect(),
        };
        render_as(&a.output, format, width, height, &fig)?;
    }
    if !a.quiet && a.output != "-" {
        eprintln!("wrote {} ({width}×{height})", a.output);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipse_radii_follow_the_covariance() {
        // axis-aligned: semi-axes 2 and 1 at r = 1
        let e = ellipse((1.0, -1.0), [[4.0, 0.0], [0.0, 1.0]], 1.0, 4);
        assert!((e[0].0 - 3.0).abs() < 1e-12 && (e[0].1 + 1.0).abs() < 1e-12);
        assert!((e[1].0 - 1.0).abs() < 1e-12 && (e[1].1 - 0.0).abs() < 1e-12);
        // every point of a rotated ellipse has Mahalanobis radius r
        let s = [[2.0, 0.8], [0.8, 1.0]];
        let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
        for (x, y) in ellipse((0.0, 0.0), s, 2.0, 37) {
            let m = (s[1][1] * x * x - 2.0 * s[0][1] * x * y + s[0][0] * y * y) / det;
            assert!((m - 4.0).abs() < 1e-9, "{m}");
        }
    }

    #[test]
    fn picture_formats() {
        assert_eq!(pic_format("a.PNG").unwrap(), PicFormat::Png);
        assert_eq!(pic_format("a.svg").unwrap(), PicFormat::Svg);
        assert!(pic_format("a.jpg").is_err());
        assert!(pic_format("a").is_err());
        assert_eq!(pic_format("-").unwrap(), PicFormat::Png);
        assert_eq!(
            pic_format_as("-", Some(PicFormat::Svg)).unwrap(),
            PicFormat::Svg
        );
        assert_eq!(
            pic_format_as("a.dat", Some(PicFormat::Svg)).unwrap(),
            PicFormat::Svg
        );
        assert!(check_plot_output("-").is_err());
    }
}
