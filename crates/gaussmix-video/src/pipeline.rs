//! Entry points for a command-line tool: [`subtract`], [`track`] and (re-exported from
//! [`crate::cdnet`]) [`crate::evaluate`].
//!
//! Outputs are staged: masks and annotated frames go to a hidden temporary folder next to
//! the target (`.NAME.partial-XXXX`), CSV and video files to a temporary file, and are
//! renamed into place only when the whole run succeeded. Any error (a corrupt frame, a
//! frame of another size, a missing ffmpeg, a full disk) leaves nothing behind, not even
//! parent folders the run created.

use crate::error::{Error, Result};
use crate::model::{BackgroundModel, Kernel, ModelParams};
use crate::post::{components, PostProcess};
use crate::source::{self, find_program, FrameSource, SourceOptions};
use crate::track::{appearances, Pixels, TrackFormat, TrackRow, Tracker, TrackerOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of [`subtract`] (and the subtraction part of [`track`]).
#[derive(Clone, Debug, Default)]
pub struct SubtractOptions {
    /// Background model parameters (default: OpenCV MOG2's, plus illumination compensation,
    /// foreground feedback and the displacement test; see [`ModelParams`]).
    pub model: ModelParams,
    /// Mask clean-up (default: median 5, close 3×3, fill holes, shadows kept as 127).
    pub post: PostProcess,
    /// Worker threads (default 0 = 1). With 2 or more, frames are decoded on a separate
    /// thread and the model's rows are updated on a local pool of this many threads.
    pub threads: usize,
    /// Replace an existing non-empty output (default false: that is an error).
    pub overwrite: bool,
    /// Where to find ffmpeg/ffprobe for video inputs.
    pub source: SourceOptions,
}

/// What [`subtract`] did.
#[derive(Clone, Debug)]
pub struct SubtractReport {
    /// Frames processed (= masks written).
    pub frames: usize,
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Channels of the input (1 grey, 3 colour).
    pub channels: usize,
    /// The folder the masks are in.
    pub out_dir: PathBuf,
    /// Kernel used by the model.
    pub kernel: Kernel,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Options of [`track`]. The default background model is
/// [`ModelParams::for_tracking`], not the subtraction default.
#[derive(Clone, Debug)]
pub struct TrackOptions {
    /// Background subtraction settings.
    pub subtract: SubtractOptions,
    /// Tracker settings.
    pub tracker: TrackerOptions,
    /// Write the rows as CSV (`frame,track_id,x,y,w,h,cx,cy`) to this file.
    pub csv: Option<PathBuf>,
    /// The form of the rows in `csv`: gaussmix's CSV (default) or MOTChallenge rows.
    pub format: TrackFormat,
    /// Write annotated frames (boxes and ids drawn in): a path ending in .mp4, .mkv, .avi,
    /// .mov or .webm becomes a video through ffmpeg, anything else a folder of
    /// `frame000001.png`… files.
    pub annotate: Option<PathBuf>,
    /// Only annotate frames first..=last (1-based); None annotates all.
    pub annotate_range: Option<(usize, usize)>,
    /// Frame rate of an annotated video (0 means 25).
    pub fps: f64,
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            subtract: SubtractOptions {
                model: ModelParams::for_tracking(),
                ..Default::default()
            },
            tracker: TrackerOptions::default(),
            csv: None,
            format: TrackFormat::default(),
            annotate: None,
            annotate_range: None,
            fps: 0.0,
        }
    }
}

/// What [`track`] found.
#[derive(Clone, Debug)]
pub struct TrackReport {
    /// Frames processed.
    pub frames: usize,
    /// Rows of confirmed tracks, frame by frame.
    pub rows: Vec<TrackRow>,
    /// Number of distinct track ids.
    pub tracks: u64,
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// A folder written under a temporary name and renamed into place by `commit`.
struct StagedDir {
    tmp: Option<tempfile::TempDir>,
    target: PathBuf,
    parents: CreatedParents,
}

/// Parent folders created for an output, removed again (if still empty) on failure.
#[derive(Default)]
struct CreatedParents(Vec<PathBuf>);

impl CreatedParents {
    fn create(target: &Path) -> Result<(Self, PathBuf)> {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut missing = Vec::new();
        let mut p = parent.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(q) if !q.as_os_str().is_empty() => p = q,
                _ => break,
            }
        }
        let mut made = CreatedParents::default();
        for d in missing.into_iter().rev() {
            std::fs::create_dir(&d).map_err(|e| Error::io("cannot create folder", &d, e))?;
            made.0.push(d);
        }
        Ok((made, parent))
    }
    fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for CreatedParents {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn name_of(target: &Path) -> String {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into())
}

fn check_target(target: &Path, overwrite: bool, want_dir: bool) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(target) {
        let empty_dir = meta.is_dir()
            && std::fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        // A folder target may exist as a folder; a file target as a file or an empty folder.
        if meta.is_dir() != want_dir && (want_dir || !empty_dir) {
            return Err(Error::OutputExists(target.to_path_buf()));
        }
        if !empty_dir && !overwrite {
            return Err(Error::OutputExists(target.to_path_buf()));
        }
    }
    Ok(())
}

impl StagedDir {
    fn new(target: &Path, overwrite: bool) -> Result<Self> {
        check_target(target, overwrite, true)?;
        let (parents, parent) = CreatedParents::create(target)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", name_of(target)))
            .tempdir_in(&parent)
            .map_err(|e| Error::io("cannot create a temporary folder in", &parent, e))?;
        Ok(StagedDir {
            tmp: Some(tmp),
            target: target.to_path_buf(),
            parents,
        })
    }

    fn path(&self) -> &Path {
        self.tmp.as_ref().expect("staged").path()
    }

    fn commit(mut self) -> Result<()> {
        let tmp = self.tmp.take().expect("staged");
        let staged = tmp.path().to_path_buf();
        // The files were synced as written; the folder's entries now, the rename below.
        sync_dir(&staged).map_err(|e| Error::io("cannot sync", &staged, e))?;
        let mut old = None;
        if self.target.exists() {
            let aside = staged.with_file_name(format!(
                ".{}.old-{}",
                name_of(&self.target),
                std::process::id()
            ));
            std::fs::rename(&self.target, &aside)
                .map_err(|e| Error::io("cannot move aside", &self.target, e))?;
            old = Some(aside);
        }
        if let Err(e) = std::fs::rename(&staged, &self.target) {
            if let Some(a) = &old {
                let _ = std::fs::rename(a, &self.target);
            }
            return Err(Error::io(
                "cannot rename the finished output to",
                &self.target,
                e,
            ));
        }
        let _ = tmp.keep();
        if let Some(a) = old {
            let _ = std::fs::remove_dir_all(a);
        }
        sync_parent(&self.target);
        self.parents.keep();
        Ok(())
    }
}

/// A file written under a temporary name and renamed into place by `commit`.
struct StagedFile {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
    parents: CreatedParents,
}

impl StagedFile {
    fn new(target: &Path, overwrite: bool) -> Result<Self> {
        check_target(target, overwrite, false)?;
        let (parents, parent) = CreatedParents::create(target)?;
        let suffix = target
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", name_of(target)))
            .suffix(&suffix)
            .tempfile_in(&parent)
            .map_err(|e| Error::io("cannot create a temporary file in", &parent, e))?;
        Ok(StagedFile {
            tmp,
            target: target.to_path_buf(),
            parents,
        })
    }

    fn commit(mut self) -> Result<()> {
        if self.target.is_dir() {
            // An empty folder stands where the file goes (check_target allowed it).
            std::fs::remove_dir(&self.target)
                .map_err(|e| Error::io("cannot replace", &self.target, e))?;
        }
        let target = self.target.clone();
        // Data on disk before the rename makes it visible, so a crash never leaves a
        // truncated output under the final name.
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io("cannot write", &target, e))?;
        self.tmp
            .persist(&target)
            .map_err(|e| Error::io("cannot rename the finished output to", &target, e.error))?;
        sync_parent(&target);
        self.parents.keep();
        Ok(())
    }
}

/// Syncs a folder's entries to disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Syncs the folder holding `target` after a rename into it (best effort: some file
/// systems cannot sync a folder).
fn sync_parent(target: &Path) {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let _ = sync_dir(parent);
}

/// Writes an 8-bit grey PNG with fast compression (masks compress well even so).
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_grey_png(path: &Path, width: usize, height: usize, data: &[u8]) -> Result<()> {
    write_png(path, width, height, data, image::ExtendedColorType::L8)
}

/// Writes an 8-bit RGB PNG with fast compression.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_rgb_png(path: &Path, width: usize, height: usize, data: &[u8]) -> Result<()> {
    write_png(path, width, height, data, image::ExtendedColorType::Rgb8)
}

fn write_png(
    path: &Path,
    width: usize,
    height: usize,
    data: &[u8],
    ct: image::ExtendedColorType,
) -> Result<()> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let f = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
    let filter = if ct == image::ExtendedColorType::L8 {
        FilterType::NoFilter
    } else {
        FilterType::Sub
    };
    PngEncoder::new_with_quality(&mut w, CompressionType::Fast, filter)
        .write_image(data, width as u32, height as u32, ct)
        .map_err(|e| match e {
            image::ImageError::IoError(io) => Error::io("cannot write", path, io),
            other => Error::io(
                "cannot write",
                path,
                std::io::Error::other(other.to_string()),
            ),
        })?;
    let f = w
        .into_inner()
        .map_err(|e| Error::io("cannot write", path, e.into_error()))?;
    // Synced before the staged folder is renamed into place (see `StagedDir::commit`).
    f.sync_all().map_err(|e| Error::io("cannot write", path, e))
}

/// Receives (frame index from 1, frame, cleaned mask, width, height, channels).
type MaskSink<'a> = dyn FnMut(usize, &[u8], &[u8], usize, usize, usize) -> Result<()> + 'a;

/// Runs the background model and clean-up over every frame of `input`, calling
/// `sink(index, frame, mask)` (index from 1) in order. Returns (frames, w, h, channels, kernel).
fn run_masks(
    input: &Path,
    mut src: Box<dyn FrameSource>,
    opts: &SubtractOptions,
    progress: &mut dyn FnMut(usize, usize),
    sink: &mut MaskSink<'_>,
) -> Result<(usize, usize, usize, usize, Kernel)> {
    let threads = opts.threads.max(1);
    let (w, h, c) = (src.width(), src.height(), src.channels());
    let total = src.len_hint().unwrap_or(0);
    let mut model = BackgroundModel::new(&opts.model, w, h, c, threads)?;
    let kernel = model.kernel();
    let mut mask = vec![0u8; w * h];
    let mut n = 0usize;
    let mut step = |frame: &[u8], n: &mut usize| -> Result<()> {
        model.apply(frame, &mut mask)?;
        opts.post.apply(&mut mask, w, h);
        *n += 1;
        sink(*n, frame, &mask, w, h, c)?;
        progress(*n, total);
        Ok(())
    };
    if threads == 1 {
        let mut buf = Vec::new();
        while src.next_frame(&mut buf)? {
            step(&buf, &mut n)?;
        }
    } else {
        // Decode on a second thread, a few frames ahead.
        std::thread::scope(|s| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(4);
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            let src = &mut src;
            s.spawn(move || loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                match src.next_frame(&mut buf) {
                    Ok(true) => {
                        if tx.send(Ok(buf)).is_err() {
                            return;
                        }
                    }
                    Ok(false) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            });
            for frame in rx {
                let frame = frame?;
                step(&frame, &mut n)?;
                let _ = back_tx.send(frame);
            }
            Ok(())
        })?;
    }
    if n == 0 {
        return Err(Error::NoFrames(input.to_path_buf()));
    }
    Ok((n, w, h, c, kernel))
}

/// Background subtraction: writes one mask per input frame, `out_dir/bin000001.png`…
/// (8-bit grey PNG, 0 background / 127 shadow / 255 foreground, numbered from 1 in input
/// order: CDnet's result format). `progress(done, total)` is called after each frame
/// (`total` is 0 when unknown).
///
/// The masks are written to a temporary folder next to `out_dir` and renamed into place
/// at the end; on any error nothing is left behind. An existing non-empty `out_dir` is an
/// error unless `opts.overwrite` is set.
///
/// # Errors
/// [`Error::OutputExists`], input errors ([`Error::NoFrames`], [`Error::Decode`],
/// [`Error::FrameSize`], [`Error::MissingProgram`], [`Error::External`]), bad options
/// ([`Error::InvalidParam`]) and I/O errors ([`Error::Io`]), each naming the path.
pub fn subtract(
    input: &Path,
    out_dir: &Path,
    opts: &SubtractOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SubtractReport> {
    let t0 = Instant::now();
    check_target(out_dir, opts.overwrite, true)?;
    opts.post.validate()?;
    opts.model.validate()?;
    // Open the input (and decode its first frame) before anything is created.
    let src = source::open(input, &opts.source)?;
    let staged = StagedDir::new(out_dir, opts.overwrite)?;
    let dir = staged.path().to_path_buf();
    let (frames, width, height, channels, kernel) = run_masks(
        input,
        src,
        opts,
        progress,
        &mut |i, _frame, mask, w, h, _c| {
            write_grey_png(&dir.join(format!("bin{i:06}.png")), w, h, mask)
        },
    )?;
    staged.commit()?;
    Ok(SubtractReport {
        frames,
        width,
        height,
        channels,
        out_dir: out_dir.to_path_buf(),
        kernel,
        elapsed: t0.elapsed(),
    })
}

fn is_video_path(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["mp4", "mkv", "avi", "mov", "webm", "m4v"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(e))
    })
}

enum Annotator {
    Dir(StagedDir),
    Video {
        file: StagedFile,
        ffmpeg: PathBuf,
        child: ChildGuard,
        fps: f64,
    },
}

/// A child process killed (and reaped) if still held when dropped.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Annotator {
    fn write(&mut self, index: usize, rgb: &[u8], w: usize, h: usize) -> Result<()> {
        match self {
            Annotator::Dir(d) => {
                write_rgb_png(&d.path().join(format!("frame{index:06}.png")), w, h, rgb)
            }
            Annotator::Video {
                file,
                ffmpeg,
                child,
                fps,
            } => {
                if child.0.is_none() {
                    let c = Command::new(&*ffmpeg)
                        .args([
                            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                        ])
                        .arg(format!("{w}x{h}"))
                        .arg("-r")
                        .arg(format!("{fps}"))
                        .args([
                            "-i",
                            "-",
                            "-vf",
                            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                            "-pix_fmt",
                            "yuv420p",
                        ])
                        .arg(file.tmp.path())
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .map_err(|e| Error::io("cannot run", &*ffmpeg, e))?;
                    child.0 = Some(c);
                }
                let c = child.0.as_mut().expect("started");
                let target = file.target.clone();
                c.stdin
                    .as_mut()
                    .expect("piped")
                    .write_all(rgb)
                    .map_err(|e| Error::External {
                        program: "ffmpeg",
                        path: target,
                        message: format!("encoder stopped: {e}"),
                    })
            }
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Annotator::Dir(d) => d.commit(),
            Annotator::Video {
                file, mut child, ..
            } => {
                if let Some(mut c) = child.0.take() {
                    drop(c.stdin.take());
                    let out = c.wait_with_output().map_err(|e| {
                        Error::io("cannot wait for ffmpeg writing", &file.target, e)
                    })?;
                    if !out.status.success() {
                        return Err(Error::External {
                            program: "ffmpeg",
                            path: file.target.clone(),
                            message: format!(
                                "{}: {}",
                                out.status,
                                String::from_utf8_lossy(&out.stderr).trim()
                            ),
                        });
                    }
                }
                file.commit()
            }
        }
    }
}

/// Multi-object tracking: background subtraction, clean-up, connected components, and a
/// Kalman/Hungarian tracker (see [`mod@crate::track`]). Returns the rows
/// `frame, track_id, x, y, w, h, cx, cy` of confirmed tracks; optionally writes them as CSV
/// and writes annotated frames (see [`TrackOptions`]). Outputs are staged like
/// [`subtract`]'s: all or nothing.
///
/// # Errors
/// As [`subtract`]; [`Error::MissingProgram`] when a video output is asked for without
/// ffmpeg (checked before any work).
pub fn track(
    input: &Path,
    opts: &TrackOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TrackReport> {
    let t0 = Instant::now();
    opts.tracker.validate()?;
    let overwrite = opts.subtract.overwrite;
    if let Some(p) = &opts.csv {
        check_target(p, overwrite, false)?;
    }
    let video_out = opts.annotate.as_deref().is_some_and(is_video_path);
    let ffmpeg = if video_out {
        Some(find_program(
            "ffmpeg",
            "write an annotated video",
            opts.subtract.source.search_path.as_deref(),
        )?)
    } else {
        None
    };
    if let Some(a) = &opts.annotate {
        check_target(a, overwrite, !video_out)?;
    }
    opts.subtract.post.validate()?;
    opts.subtract.model.validate()?;
    let src = source::open(input, &opts.subtract.source)?;
    let mut csv = match &opts.csv {
        Some(p) => Some(StagedFile::new(p, overwrite)?),
        None => None,
    };
    let mut annot = match (&opts.annotate, ffmpeg) {
        (Some(p), Some(ffmpeg)) => Some(Annotator::Video {
            file: StagedFile::new(p, overwrite)?,
            ffmpeg,
            child: ChildGuard(None),
            fps: if opts.fps > 0.0 { opts.fps } else { 25.0 },
        }),
        (Some(p), None) => Some(Annotator::Dir(StagedDir::new(p, overwrite)?)),
        _ => None,
    };
    let mut tracker = Tracker::new(opts.tracker.clone());
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    let mut rgb = Vec::new();
    let range = opts.annotate_range.unwrap_or((1, usize::MAX));
    let (frames, width, height, _, _) = run_masks(
        input,
        src,
        &opts.subtract,
        progress,
        &mut |i, frame, mask, w, h, c| {
            let blobs = components(mask, w, h, opts.tracker.min_area, &mut labels);
            tracker.set_frame_size(w, h);
            let new = if opts.tracker.appearance {
                let colours = appearances(frame, c, &labels, &blobs);
                let px = Pixels {
                    frame,
                    channels: c,
                    labels: &labels,
                    width: w,
                };
                tracker.update_with_pixels(i, &blobs, &colours, &px)
            } else {
                tracker.update(i, &blobs)
            };
            if let Some(a) = annot.as_mut() {
                if i >= range.0 && i <= range.1 {
                    rgb.clear();
                    if c == 3 {
                        rgb.extend_from_slice(frame);
                    } else {
                        rgb.extend(frame.iter().flat_map(|&v| [v, v, v]));
                    }
                    for r in &new {
                        crate::draw::track_box(&mut rgb, w, h, r);
                    }
                    a.write(i, &rgb, w, h)?;
                }
            }
            rows.extend(new);
            Ok(())
        },
    )?;
    if let Some(f) = csv.as_mut() {
        let path = f.target.clone();
        let io = |e| Error::io("cannot write", &path, e);
        let mut w = std::io::BufWriter::new(f.tmp.as_file_mut());
        match opts.format {
            TrackFormat::Csv => {
                writeln!(w, "{}", TrackRow::CSV_HEADER).map_err(io)?;
                for r in &rows {
                    writeln!(w, "{}", r.csv()).map_err(io)?;
                }
            }
            TrackFormat::Mot => {
                for r in &rows {
                    writeln!(w, "{}", r.mot()).map_err(io)?;
                }
            }
        }
        w.flush().map_err(io)?;
    }
    if let Some(a) = annot {
        a.finish()?;
    }
    if let Some(f) = csv {
        f.commit()?;
    }
    Ok(TrackReport {
        frames,
        tracks: tracker.confirmed_total(),
        rows,
        width,
        height,
        elapsed: t0.elapsed(),
    })
}
