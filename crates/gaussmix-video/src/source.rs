//! Frame sources: a folder of images, or a video file decoded by the `ffmpeg` program.
//!
//! A folder is read natively (jpeg, png, bmp through the `image` crate): if it has an
//! `input/` subfolder (CDnet layout, `SEQ/input/in000001.jpg`…) that is used, otherwise the
//! folder itself; files are taken in name order. Any other path is a video: its size comes
//! from `ffprobe` and its frames from `ffmpeg -i FILE -f rawvideo -pix_fmt rgb24 -`.

use crate::error::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Image file extensions read from folders (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "bmp"];

/// A sequence of equally sized 8-bit frames, interleaved channels, row-major.
pub trait FrameSource: Send {
    /// Frame width in pixels.
    fn width(&self) -> usize;
    /// Frame height in pixels.
    fn height(&self) -> usize;
    /// Channels per pixel: 1 (grey) or 3 (RGB).
    fn channels(&self) -> usize;
    /// Number of frames when known in advance.
    fn len_hint(&self) -> Option<usize>;
    /// Reads the next frame into `buf` (resized to width·height·channels). Returns false at
    /// the end.
    ///
    /// # Errors
    /// A decoding error, a frame of another size, or a failing `ffmpeg`, naming the file.
    fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool>;
    /// Where frame `index` (1-based) came from, for messages.
    fn describe(&self, index: usize) -> PathBuf;
}

/// Where to look for external programs.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// Directories to search for `ffmpeg`/`ffprobe`, in PATH syntax; None uses the `PATH`
    /// environment variable.
    pub search_path: Option<OsString>,
}

/// Opens `path`: a folder of images, or a video file through ffmpeg.
///
/// # Errors
/// [`Error::NoFrames`] for a folder without images, [`Error::Decode`] for an unreadable
/// first image, [`Error::MissingProgram`] without ffmpeg/ffprobe, [`Error::External`] when
/// ffprobe cannot read the video, [`Error::Io`] when the path does not exist.
pub fn open(path: &Path, opts: &SourceOptions) -> Result<Box<dyn FrameSource>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot open input", path, e))?;
    if meta.is_dir() {
        Ok(Box::new(ImageFolder::open(path)?))
    } else {
        Ok(Box::new(FfmpegVideo::open(path, opts)?))
    }
}

/// Lists the image files of a folder (or of its `input/` subfolder), sorted by name.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be read, [`Error::NoFrames`] when it holds no images.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let input = dir.join("input");
    let dir = if input.is_dir() {
        input
    } else {
        dir.to_path_buf()
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io("cannot read folder", &dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot read folder", &dir, e))?;
        let p = entry.path();
        let ok = p
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if ok && p.is_file() {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(Error::NoFrames(dir));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Decodes one image file, as grey (`channels` 1) or RGB (3).
///
/// # Errors
/// [`Error::Decode`] naming the file.
pub fn read_image(path: &Path) -> Result<image::DynamicImage> {
    let dec = |e: &dyn std::fmt::Display| Error::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read image", path, e))?;
    decode_image(&bytes).map_err(|e| dec(&e))
}

/// Most bytes the decoder may allocate for one frame (256 MiB: a 8K RGBA frame fits).
/// A few hundred bytes of hostile header can otherwise claim gigabytes.
pub const MAX_DECODE_ALLOC: u64 = 1 << 28;

/// Decodes an in-memory image (jpeg, png or bmp, found from its magic bytes), refusing any
/// image whose decoding would allocate more than [`MAX_DECODE_ALLOC`] bytes.
///
/// # Errors
/// The decoder's error: an unknown format, corrupt data, or a size over the limit.
pub fn decode_image(bytes: &[u8]) -> image::ImageResult<image::DynamicImage> {
    let fmt = image::guess_format(bytes)?;
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), fmt);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    reader.decode()
}

/// Frames from a folder of image files.
#[derive(Debug)]
pub struct ImageFolder {
    files: Vec<PathBuf>,
    next: usize,
    width: usize,
    height: usize,
    channels: usize,
    first: Option<image::DynamicImage>,
}

impl ImageFolder {
    /// Lists the folder and decodes the first image to learn the size and whether it is
    /// grey (1 channel) or colour (3).
    ///
    /// # Errors
    /// As [`list_images`] and [`read_image`].
    pub fn open(dir: &Path) -> Result<Self> {
        let files = list_images(dir)?;
        let first = read_image(&files[0])?;
        let channels = if first.color().has_color() { 3 } else { 1 };
        Ok(ImageFolder {
            width: first.width() as usize,
            height: first.height() as usize,
            channels,
            files,
            next: 0,
            first: Some(first),
        })
    }

    /// The files, in frame order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl FrameSource for ImageFolder {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn len_hint(&self) -> Option<usize> {
        Some(self.files.len())
    }
    fn describe(&self, index: usize) -> PathBuf {
        self.files
            .get(index.wrapping_sub(1))
            .cloned()
            .unwrap_or_default()
    }
    fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        if self.next >= self.files.len() {
            return Ok(false);
        }
        let path = &self.files[self.next];
        let img = match self.first.take() {
            Some(img) => img,
            None => read_image(path)?,
        };
        self.next += 1;
        if img.width() as usize != self.width || img.height() as usize != self.height {
            return Err(Error::FrameSize {
                index: self.next,
                path: path.clone(),
                width: self.width as u32,
                height: self.height as u32,
                got_width: img.width(),
                got_height: img.height(),
            });
        }
        buf.clear();
        if self.channels == 3 {
            match img {
                image::DynamicImage::ImageRgb8(i) => buf.extend_from_slice(i.as_raw()),
                other => buf.extend_from_slice(other.into_rgb8().as_raw()),
            }
        } else {
            match img {
                image::DynamicImage::ImageLuma8(i) => buf.extend_from_slice(i.as_raw()),
                other => buf.extend_from_slice(other.into_luma8().as_raw()),
            }
        }
        Ok(true)
    }
}

/// Finds `program` in the directories of `search` (PATH syntax) or of `$PATH`.
///
/// # Errors
/// [`Error::MissingProgram`] when it is in none of them.
pub fn find_program(
    program: &'static str,
    purpose: &'static str,
    search: Option<&OsStr>,
) -> Result<PathBuf> {
    let env_path;
    let search = match search {
        Some(s) => s,
        None => {
            env_path = std::env::var_os("PATH").unwrap_or_default();
            &env_path
        }
    };
    for dir in std::env::split_paths(search) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        for name in [program.to_string(), format!("{program}.exe")] {
            let cand = dir.join(&name);
            if cand.is_file() {
                return Ok(cand);
            }
        }
    }
    Err(Error::MissingProgram { program, purpose })
}

/// Frames of a video file, decoded by an `ffmpeg` child process into raw RGB.
pub struct FfmpegVideo {
    path: PathBuf,
    width: usize,
    height: usize,
    frames: Option<usize>,
    child: Option<Child>,
    stdout: Option<ChildStdout>,
    stderr: Option<std::thread::JoinHandle<String>>,
    read: usize,
}

impl std::fmt::Debug for FfmpegVideo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfmpegVideo")
            .field("path", &self.path)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl FfmpegVideo {
    /// Probes the size with `ffprobe` and starts `ffmpeg`.
    ///
    /// # Errors
    /// [`Error::MissingProgram`] when either program is missing, [`Error::External`] when
    /// the file is not a readable video.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self> {
        let search = opts.search_path.as_deref();
        let ffmpeg = find_program("ffmpeg", "decode video files", search)?;
        let ffprobe = find_program("ffprobe", "read the size of a video file", search)?;
        let out = Command::new(&ffprobe)
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,nb_frames",
                "-of",
                "default=noprint_wrappers=1",
            ])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("cannot run", &ffprobe, e))?;
        let external = |message: String| Error::External {
            program: "ffprobe",
            path: path.to_path_buf(),
            message,
        };
        if !out.status.success() {
            return Err(external(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
        };
        let (width, height) = match (field("width="), field("height=")) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
            _ => {
                return Err(external(format!(
                    "no video stream found (ffprobe said: {:?})",
                    text.trim()
                )))
            }
        };
        let mut child = Command::new(&ffmpeg)
            .args(["-v", "error", "-nostdin", "-noautorotate", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("cannot run", &ffmpeg, e))?;
        let stdout = child.stdout.take();
        let mut err = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        Ok(FfmpegVideo {
            path: path.to_path_buf(),
            width,
            height,
            frames: field("nb_frames="),
            child: Some(child),
            stdout,
            stderr: Some(stderr),
            read: 0,
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.stdout = None;
        let status = match self.child.take() {
            Some(mut c) => c
                .wait()
                .map_err(|e| Error::io("cannot wait for ffmpeg on", &self.path, e))?,
            None => return Ok(()),
        };
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() || (self.read == 0 && !err.trim().is_empty()) {
            return Err(Error::External {
                program: "ffmpeg",
                path: self.path.clone(),
                message: format!("{status}: {}", err.trim()),
            });
        }
        if self.read == 0 {
            return Err(Error::External {
                program: "ffmpeg",
                path: self.path.clone(),
                message: "the video has no frames".into(),
            });
        }
        Ok(())
    }
}

impl Drop for FfmpegVideo {
    fn drop(&mut self) {
        self.stdout = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl FrameSource for FfmpegVideo {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn channels(&self) -> usize {
        3
    }
    fn len_hint(&self) -> Option<usize> {
        self.frames
    }
    fn describe(&self, _index: usize) -> PathBuf {
        self.path.clone()
    }
    fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let Some(out) = self.stdout.as_mut() else {
            return Ok(false);
        };
        let n = self.width * self.height * 3;
        buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            match out.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("cannot read ffmpeg output for", &self.path, e)),
            }
        }
        if got == 0 {
            self.finish()?;
            return Ok(false);
        }
        if got < n {
            self.finish()?;
            return Err(Error::External {
                program: "ffmpeg",
                path: self.path.clone(),
                message: format!("truncated frame {} ({got} of {n} bytes)", self.read + 1),
            });
        }
        self.read += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32 (IEEE) of PNG chunks.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    /// A PNG of `w`×`h` RGB pixels with one tiny (empty) IDAT chunk.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        out
    }

    #[test]
    fn decode_refuses_an_image_over_the_allocation_limit() {
        // 100 bytes claiming 12000 × 12000 RGB (432 MB, under the image crate's own
        // 512 MiB default but over MAX_DECODE_ALLOC): refused as a limit before any
        // pixel buffer is allocated.
        let bytes = png_header(12_000, 12_000);
        assert!(bytes.len() < 100);
        match decode_image(&bytes) {
            Err(image::ImageError::Limits(_)) => {}
            other => panic!("expected a limits error, got {other:?}"),
        }
    }

    #[test]
    fn decode_reads_a_small_image_and_names_a_corrupt_one() {
        // A valid 2 × 2 header with no pixel data: a decoding error, not a panic.
        assert!(decode_image(&png_header(2, 2)).is_err());
        // Not an image at all: an unknown format.
        assert!(decode_image(b"not an image").is_err());
        // A real frame decodes to its size.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3]))
            .save(&p)
            .unwrap();
        let img = read_image(&p).unwrap();
        assert_eq!((img.width(), img.height()), (3, 2));
    }
}
