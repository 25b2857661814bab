//! Row sources that stream files from disk in chunks, for fits on data larger than
//! memory: every EM iteration reads the file once, so memory is bounded by the chunk.
//! NPY here; CSV ([`crate::io::csv::CsvSource`]) and Parquet
//! ([`crate::io::parquet::ParquetSource`]) next to their readers.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use anyhow::{anyhow, bail, Context, Result};
use gaussmix::{Chunk, GmmError, RowSource, STREAM_CHUNK_MULTIPLE};
use ndarray::Array2;

use crate::io::{npy, ReadOptions};

/// Rows per chunk: a multiple of the kernels' block size, so a streamed fit equals an
/// in-memory fit bit for bit.
pub const CHUNK_ROWS: usize = 32 * STREAM_CHUNK_MULTIPLE;

/// An NPY file (C or Fortran order, any supported dtype) read in row chunks.
pub struct NpySource {
    name: String,
    file: File,
    header: npy::Header,
    n: usize,
    d: usize,
    columns: Vec<usize>,
    pos: usize,
    chunk_rows: usize,
    buf: Vec<u8>,
    vals: Vec<f64>,
}

impl NpySource {
    /// Opens `path`, checks the header and that the file holds all the data it claims.
    /// `columns` selects features by index (all when `None`).
    pub fn open(path: &str, columns: Option<&[usize]>, chunk_rows: usize) -> Result<NpySource> {
        let mut file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        let header = npy::read_header(path, &mut file)?;
        let (n, d) = match header.shape[..] {
            [n] => (n, 1),
            [n, d] => (n, d),
            _ => bail!(
                "{path}: array has {} dimensions; expected 1 or 2",
                header.shape.len()
            ),
        };
        if d == 0 {
            // Otherwise n empty rows are streamed: a hang for a header claiming 2**62 rows.
            bail!("{path}: the array has no columns (shape {n} × 0)");
        }
        if n == 0 {
            // Checked before the column list (0..d) is built: a header claiming 0 × 2**64-1
            // overflowed its capacity.
            bail!("{path}: no data rows (shape 0 × {d})");
        }
        let need = (n as u128) * (d as u128) * (header.dtype.size() as u128);
        let len = file
            .metadata()
            .with_context(|| format!("cannot stat {path}"))?
            .len();
        let have = len.saturating_sub(header.data_offset) as u128;
        if have != need {
            bail!("{path}: header says {n}×{d} of {} ({need} bytes) but {have} bytes follow the header (truncated or corrupt)", header.descr);
        }
        let columns = match columns {
            Some(c) => {
                if let Some(bad) = c.iter().find(|&&j| j >= d) {
                    bail!("{path}: column {bad} does not exist (the array has {d} columns)");
                }
                c.to_vec()
            }
            None => (0..d).collect(),
        };
        Ok(NpySource {
            name: path.to_string(),
            file,
            header,
            n,
            d,
            columns,
            pos: 0,
            chunk_rows: chunk_rows.max(1),
            buf: Vec::new(),
            vals: Vec::new(),
        })
    }

    /// Rows in the file.
    pub fn n_rows(&self) -> usize {
        self.n
    }

    fn read_exact_at(&mut self, offset: u64, len: usize) -> Result<()> {
        self.buf.resize(len, 0);
        self.file
            .seek(SeekFrom::Start(offset))
            .with_context(|| format!("{}: cannot seek", self.name))?;
        self.file.read_exact(&mut self.buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                anyhow!(
                    "{}: the file ended early (was it truncated while the fit ran?)",
                    self.name
                )
            } else {
                anyhow!("{}: read failed: {e}", self.name)
            }
        })
    }

    fn chunk(&mut self) -> Result<Option<Chunk>> {
        if self.pos >= self.n {
            return Ok(None);
        }
        let (r0, r1) = (self.pos, (self.pos + self.chunk_rows).min(self.n));
        let rows = r1 - r0;
        let size = self.header.dtype.size();
        let k = self.columns.len();
        let mut x = Array2::zeros((rows, k));
        let base = self.header.data_offset;
        if self.header.fortran_order || self.d == 1 {
            for (c, &j) in self.columns.clone().iter().enumerate() {
                self.read_exact_at(base + ((j * self.n + r0) * size) as u64, rows * size)?;
                self.vals.clear();
                self.header.dtype.convert(&self.buf, &mut self.vals);
                for (r, v) in self.vals.iter().enumerate() {
                    x[[r, c]] = *v;
                }
            }
        } else {
            self.read_exact_at(base + (r0 * self.d * size) as u64, rows * self.d * size)?;
            self.vals.clear();
            self.header.dtype.convert(&self.buf, &mut self.vals);
            for r in 0..rows {
                for (c, &j) in self.columns.iter().enumerate() {
                    x[[r, c]] = self.vals[r * self.d + j];
                }
            }
        }
        self.pos = r1;
        Ok(Some(Chunk { x, weights: None }))
    }
}

impl RowSource for NpySource {
    fn n_features(&self) -> usize {
        self.columns.len()
    }
    fn reset(&mut self) -> gaussmix::Result<()> {
        // the file must still hold what the header promised
        let len = self
            .file
            .metadata()
            .map_err(|e| GmmError::Source {
                reason: format!("{}: {e}", self.name),
            })?
            .len();
        let need = self.header.data_offset + (self.n * self.d * self.header.dtype.size()) as u64;
        if len < need {
            return Err(GmmError::Source { reason: format!("{}: the file is now {len} bytes, shorter than the {need} it had (truncated while the fit ran?)", self.name) });
        }
        self.pos = 0;
        Ok(())
    }
    fn next_chunk(&mut self) -> gaussmix::Result<Option<Chunk>> {
        self.chunk().map_err(|e| GmmError::Source {
            reason: format!("{e:#}"),
        })
    }
}

/// A row source that stops with [`GmmError::Interrupted`] once `flag` is set (Ctrl-C):
/// checked before every chunk, so a streamed fit stops within one chunk.
pub struct Interruptible {
    inner: Box<dyn RowSource + Send>,
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Interruptible {
    /// Wraps `inner`.
    pub fn new(
        inner: Box<dyn RowSource + Send>,
        flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        Interruptible { inner, flag }
    }

    fn check(&self) -> gaussmix::Result<()> {
        if self.flag.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(GmmError::Interrupted);
        }
        Ok(())
    }
}

impl RowSource for Interruptible {
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    fn reset(&mut self) -> gaussmix::Result<()> {
        self.check()?;
        self.inner.reset()
    }
    fn next_chunk(&mut self) -> gaussmix::Result<Option<Chunk>> {
        self.check()?;
        self.inner.next_chunk()
    }
}

/// A file opened for a streaming fit.
pub struct Opened {
    /// The rows, chunk by chunk.
    pub source: Box<dyn RowSource + Send>,
    /// One name per feature.
    pub names: Vec<String>,
    /// What is streamed, for the progress note.
    pub description: String,
}

/// Whether a path names a format that can be streamed (CSV, NPY, Parquet).
pub fn streamable(path: &str) -> bool {
    matches!(
        crate::io::Format::from_path(path),
        Ok(crate::io::Format::Csv | crate::io::Format::Npy)
    ) || (cfg!(feature = "parquet")
        && matches!(
            crate::io::Format::from_path(path),
            Ok(crate::io::Format::Parquet)
        ))
}

/// Whether `fit` streams `path`: asked for (`forced`), or a streamable file larger than
/// half the available memory ([`available_memory`]).
///
/// # Errors
/// `--stream` on standard input or an unstreamable format (a usage error), or a file
/// that cannot be read.
pub fn should_stream(path: &str, forced: bool) -> Result<bool> {
    if path == "-" {
        if forced {
            return Err(crate::exit::usage(
                "--stream reads a file again on every iteration; standard input cannot be read twice (write it to a file, or drop --stream)",
            ));
        }
        return Ok(false);
    }
    if !streamable(path) {
        if forced {
            return Err(crate::exit::usage(format!(
                "--stream reads CSV, NPY and Parquet files; {path} is none of them (convert it, or drop --stream)"
            )));
        }
        return Ok(false);
    }
    if forced {
        return Ok(true);
    }
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {path}"))?
        .len();
    Ok(available_memory().is_some_and(|avail| size > avail / 2))
}

/// Opens `path` for a streaming fit, its columns chosen as `opts` says (the same rules
/// as the in-memory readers: [`crate::io::Schema::select`]).
///
/// # Errors
/// An unreadable file, bad column choices, `--weights` for an NPY file.
pub fn open(path: &str, opts: &ReadOptions) -> Result<Opened> {
    let note = |notes: Vec<String>| {
        if !opts.quiet {
            for n in notes {
                eprintln!("note: {n}");
            }
        }
    };
    match crate::io::Format::from_path(path)? {
        crate::io::Format::Npy => {
            if opts.weights.is_some() {
                return Err(crate::exit::usage(
                    "--weights names a column of a table; NPY files have none (drop --weights)",
                ));
            }
            let mut file = File::open(path).with_context(|| format!("cannot open {path}"))?;
            let header = npy::read_header(path, &mut file)?;
            let d = match header.shape[..] {
                [_] => 1,
                [_, d] => d,
                _ => bail!(
                    "{path}: array has {} dimensions; expected 1 or 2",
                    header.shape.len()
                ),
            };
            let schema = crate::io::Schema::array(path, d);
            let sel = schema.select(opts)?;
            let src = NpySource::open(path, Some(&sel.features), CHUNK_ROWS)?;
            let names = sel
                .features
                .iter()
                .map(|&j| schema.names[j].clone())
                .collect();
            let description = format!(
                "{path} ({} rows) in chunks of {CHUNK_ROWS} rows",
                src.n_rows()
            );
            Ok(Opened {
                source: Box::new(src),
                names,
                description,
            })
        }
        crate::io::Format::Csv => {
            let mut notes = Vec::new();
            let src = crate::io::csv::CsvSource::open(path, opts, CHUNK_ROWS, &mut notes)?;
            note(notes);
            let names = src.names().to_vec();
            let description = format!(
                "{path} ({} rows, read again on every iteration) in chunks of {CHUNK_ROWS} rows",
                src.n_rows()
            );
            Ok(Opened {
                source: Box::new(src),
                names,
                description,
            })
        }
        #[cfg(feature = "parquet")]
        crate::io::Format::Parquet => {
            let src = crate::io::parquet::ParquetSource::open(path, opts, CHUNK_ROWS)?;
            let names = src.names();
            Ok(Opened {
                source: Box::new(src),
                names,
                description: format!("{path} in batches of {CHUNK_ROWS} rows"),
            })
        }
        other => bail!("{path}: {other:?} files cannot be streamed (use CSV, NPY or Parquet)"),
    }
}

/// The folder of the cgroup (v2) file system; `GAUSSMIX_CGROUP_ROOT` replaces it (for
/// tests).
fn cgroup_root() -> std::path::PathBuf {
    std::env::var_os("GAUSSMIX_CGROUP_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/sys/fs/cgroup"))
}

/// Bytes of memory this process may still use: the kernel's MemAvailable, lowered to
/// what the container's memory limit leaves (cgroup v2 `memory.max − memory.current`,
/// or v1 `memory.limit_in_bytes − memory.usage_in_bytes`), if known.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let root = cgroup_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
    // v2: the process's own cgroup (as /proc/self/cgroup names it), then the root
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("0::")
                    .map(|p| p.trim_start_matches('/').to_string())
            })
        })
        .filter(|p| !p.is_empty());
    let mut limit = None;
    for dir in own.iter().map(String::as_str).chain([""]) {
        let join = |f: &str| {
            if dir.is_empty() {
                f.to_string()
            } else {
                format!("{dir}/{f}")
            }
        };
        if let Some(m) = cgroup_left(read(&join("memory.max")), read(&join("memory.current"))) {
            limit = Some(m);
            break;
        }
    }
    if limit.is_none() {
        limit = cgroup_left(
            read("memory/memory.limit_in_bytes"),
            read("memory/memory.usage_in_bytes"),
        );
    }
    combine_memory(meminfo.as_deref(), limit)
}

/// Bytes a cgroup limit leaves (`max − current`, `None` without a limit: `max`, or v1's
/// "unlimited" value of about 2^63).
fn cgroup_left(max: Option<String>, current: Option<String>) -> Option<u64> {
    let max = max?.trim().parse::<u64>().ok()?;
    if max >= 1 << 60 {
        return None;
    }
    let used = current
        .and_then(|c| c.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(used))
}

/// The smaller of MemAvailable (from `/proc/meminfo` text) and a cgroup's room.
fn combine_memory(meminfo: Option<&str>, cgroup: Option<u64>) -> Option<u64> {
    let avail = meminfo.and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    match (avail, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_limits_lower_the_available_memory() {
        let meminfo = "MemTotal: 100 kB\nMemAvailable:   2000 kB\n";
        assert_eq!(combine_memory(Some(meminfo), None), Some(2_048_000));
        assert_eq!(combine_memory(Some(meminfo), Some(1000)), Some(1000));
        assert_eq!(combine_memory(None, Some(1000)), Some(1000));
        assert_eq!(combine_memory(None, None), None);
        assert_eq!(cgroup_left(Some("max\n".into()), Some("5".into())), None);
        assert_eq!(
            cgroup_left(Some("1000\n".into()), Some("300\n".into())),
            Some(700)
        );
        assert_eq!(cgroup_left(Some("1000".into()), None), Some(1000));
        assert_eq!(cgroup_left(Some("9223372036854771712".into()), None), None);
        assert_eq!(cgroup_left(Some("10".into()), Some("30".into())), Some(0));
    }
}
