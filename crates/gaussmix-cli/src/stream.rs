//! Row sources that stream files from disk in chunks, for fits on data larger than
//! memory: every EM iteration reads the file once, so memory is bounded by the chunk.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use anyhow::{anyhow, bail, Context, Result};
use gaussmix::{Chunk, GmmError, RowSource, STREAM_CHUNK_MULTIPLE};
use ndarray::Array2;

use crate::io::npy;

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

/// Bytes of memory the kernel says are available (MemAvailable), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
