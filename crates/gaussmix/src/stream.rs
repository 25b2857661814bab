//! Streaming fits: rows arrive in chunks from a [`RowSource`] that can be read again for
//! every EM iteration, so data larger than memory can be fitted with memory bounded by
//! the chunk size.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{GmmError, Result};
use crate::validate::{check_finite, check_weights};

/// Chunks that are multiples of this many rows keep a streaming fit bit-identical to an
/// in-memory fit (it is the fixed block size of the kernels).
pub const STREAM_CHUNK_MULTIPLE: usize = crate::par::BLOCK_ROWS;

/// One chunk of rows, with optional per-row weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Rows × features.
    pub x: Array2<f64>,
    /// One non-negative weight per row, if the data are weighted.
    pub weights: Option<Array1<f64>>,
}

/// A re-readable source of rows in chunks (a file read block by block, a database
/// cursor, …).
pub trait RowSource {
    /// Number of features (columns) of every chunk.
    fn n_features(&self) -> usize;
    /// Rewinds to the first row; called before every pass.
    ///
    /// # Errors
    /// [`GmmError::Source`] when the source cannot be rewound.
    fn reset(&mut self) -> Result<()>;
    /// The next chunk of the current pass, or `None` at its end.
    ///
    /// # Errors
    /// [`GmmError::Source`] when reading fails.
    fn next_chunk(&mut self) -> Result<Option<Chunk>>;
}

/// An in-memory array served in chunks (for tests and for callers who hold the data but
/// want the streaming code path).
#[derive(Debug, Clone)]
pub struct ArraySource<'a> {
    x: ArrayView2<'a, f64>,
    weights: Option<ArrayView1<'a, f64>>,
    chunk_rows: usize,
    pos: usize,
}

impl<'a> ArraySource<'a> {
    /// Serves `x` (and `weights`) in chunks of `chunk_rows` rows (at least 1).
    pub fn new(
        x: ArrayView2<'a, f64>,
        weights: Option<ArrayView1<'a, f64>>,
        chunk_rows: usize,
    ) -> Self {
        ArraySource {
            x,
            weights,
            chunk_rows: chunk_rows.max(1),
            pos: 0,
        }
    }
}

impl RowSource for ArraySource<'_> {
    fn n_features(&self) -> usize {
        self.x.ncols()
    }
    fn reset(&mut self) -> Result<()> {
        self.pos = 0;
        Ok(())
    }
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.pos >= self.x.nrows() {
            return Ok(None);
        }
        let end = (self.pos + self.chunk_rows).min(self.x.nrows());
        let c = Chunk {
            x: self.x.slice(ndarray::s![self.pos..end, ..]).to_owned(),
            weights: self
                .weights
                .map(|w| w.slice(ndarray::s![self.pos..end]).to_owned()),
        };
        self.pos = end;
        Ok(Some(c))
    }
}

/// Checks a chunk's width, values and weights; rows are named by stream position.
pub(crate) fn check_chunk(c: &Chunk, d: usize, first_row: usize) -> Result<()> {
    if c.x.ncols() != d {
        return Err(GmmError::ShapeMismatch {
            what: format!("chunk at row {first_row}"),
            expected: format!("{d} columns"),
            got: format!("{} columns", c.x.ncols()),
        });
    }
    check_finite(c.x.view(), first_row)?;
    if let Some(w) = &c.weights {
        check_weights(w.view(), c.x.nrows()).map_err(|e| match e {
            GmmError::InvalidWeights { reason } => GmmError::InvalidWeights {
                reason: format!("{reason} (chunk starting at row {first_row})"),
            },
            other => other,
        })?;
    }
    Ok(())
}

/// Uniform reservoir sample of rows (Algorithm R), weights kept alongside.
pub(crate) struct Reservoir {
    cap: usize,
    d: usize,
    seen: usize,
    rows: Vec<f64>,
    weights: Vec<f64>,
    weighted: bool,
}

impl Reservoir {
    pub(crate) fn new(cap: usize, d: usize) -> Self {
        Reservoir {
            cap,
            d,
            seen: 0,
            rows: Vec::new(),
            weights: Vec::new(),
            weighted: false,
        }
    }

    pub(crate) fn offer(
        &mut self,
        x: ArrayView2<f64>,
        w: Option<ArrayView1<f64>>,
        rng: &mut ChaCha8Rng,
    ) {
        self.weighted |= w.is_some();
        for (i, row) in x.rows().into_iter().enumerate() {
            let wi = w.map_or(1.0, |w| w[i]);
            let len = self.rows.len() / self.d.max(1);
            if len < self.cap {
                self.rows.extend(row.iter());
                self.weights.push(wi);
            } else if self.cap > 0 {
                let j = rng.random_range(0..=self.seen);
                if j < self.cap {
                    self.rows[j * self.d..(j + 1) * self.d]
                        .iter_mut()
                        .zip(row.iter())
                        .for_each(|(a, b)| *a = *b);
                    self.weights[j] = wi;
                }
            }
            self.seen += 1;
        }
    }

    pub(crate) fn into_parts(self) -> (Array2<f64>, Option<Array1<f64>>) {
        let n = self.weights.len();
        let x = Array2::from_shape_vec((n, self.d), self.rows).expect("n×d");
        (
            x,
            if self.weighted {
                Some(Array1::from(self.weights))
            } else {
                None
            },
        )
    }
}
