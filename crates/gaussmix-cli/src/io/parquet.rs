//! Parquet input (feature `parquet`): numeric columns, or a fixed-size-list column of
//! numbers expanded into one feature per element, read through Arrow record batches —
//! whole, or in chunks for streaming fits.

use std::fs::File;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema as ArrowSchema};
use ndarray::{Array1, Array2};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use super::table::{check_weights, Bad, Dataset, Kind, Problem, ReadOptions, Rows, Schema, Table};

/// Where each column of the [`Schema`] of a Parquet file comes from: an Arrow column,
/// and the element of a fixed-size list (`None` for a scalar column).
type Origins = Vec<(usize, Option<usize>)>;

fn numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Boolean
    )
}

/// The columns of a Parquet file as a [`Schema`]: numeric columns as they are, a
/// fixed-size list of numbers expanded into `name[0]`, `name[1]`, … (chosen together by
/// `name`), anything else an unsupported column (skipped with a note).
pub fn schema_of(path: &str, schema: &ArrowSchema) -> (Schema, Origins) {
    let mut s = Schema {
        source: path.to_string(),
        names: Vec::new(),
        kinds: Vec::new(),
        named: true,
        groups: Vec::new(),
    };
    let mut origins = Vec::new();
    for (j, f) in schema.fields().iter().enumerate() {
        match f.data_type() {
            t if numeric(t) => {
                s.names.push(f.name().clone());
                s.kinds.push(Kind::Number);
                origins.push((j, None));
            }
            DataType::FixedSizeList(c, w) if numeric(c.data_type()) && *w > 0 => {
                let start = s.names.len();
                for i in 0..*w as usize {
                    s.names.push(format!("{}[{i}]", f.name()));
                    s.kinds.push(Kind::Number);
                    origins.push((j, Some(i)));
                }
                s.groups.push((f.name().clone(), start..s.names.len()));
            }
            t => {
                s.names.push(f.name().clone());
                s.kinds.push(Kind::Unsupported(t.to_string()));
                origins.push((j, None));
            }
        }
    }
    (s, origins)
}

/// Appends the values of a numeric array (as f64) to `out` (nulls as NaN).
fn push_values(path: &str, a: &dyn Array, name: &str, out: &mut Vec<f64>) -> Result<()> {
    macro_rules! prim {
        ($t:ty) => {
            out.extend(a.as_primitive::<$t>().values().iter().map(|v| *v as f64))
        };
    }
    let start = out.len();
    match a.data_type() {
        DataType::Float64 => prim!(Float64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => out.extend(
            a.as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|v| v.to_f64()),
        ),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Boolean => {
            out.extend(
                a.as_boolean()
                    .iter()
                    .map(|v| if v == Some(true) { 1.0 } else { 0.0 }),
            )
        }
        t => bail!("{path}: column '{name}' has unsupported type {t}"),
    }
    if a.null_count() > 0 {
        for i in 0..a.len() {
            if a.is_null(i) {
                out[start + i] = f64::NAN;
            }
        }
    }
    Ok(())
}

/// One schema column of a record batch as f64 values, and the first null row.
fn column_values(
    path: &str,
    batch: &RecordBatch,
    (j, elem): (usize, Option<usize>),
    name: &str,
) -> Result<(Vec<f64>, Option<usize>)> {
    let col: &ArrayRef = batch.column(j);
    let n = batch.num_rows();
    let mut vals = Vec::with_capacity(n);
    match elem {
        None => {
            push_values(path, col.as_ref(), name, &mut vals)?;
            let null = (col.null_count() > 0)
                .then(|| (0..n).find(|&r| col.is_null(r)))
                .flatten();
            if null.is_some() {
                // a null is a missing value (NaN), whatever the buffer holds under it
                for (r, v) in vals.iter_mut().enumerate() {
                    if col.is_null(r) {
                        *v = f64::NAN;
                    }
                }
            }
            Ok((vals, null))
        }
        Some(i) => {
            let list = col.as_fixed_size_list();
            let w = list.value_length() as usize;
            let child = list.values().slice(list.offset() * w, n * w);
            let mut all = Vec::with_capacity(n * w);
            push_values(path, child.as_ref(), name, &mut all)?;
            let mut null = None;
            for r in 0..n {
                let v = if list.is_null(r) || child.is_null(r * w + i) {
                    null = null.or(Some(r));
                    f64::NAN
                } else {
                    all[r * w + i]
                };
                vals.push(v);
            }
            Ok((vals, null))
        }
    }
}

fn builder<R: ChunkReader + 'static>(
    path: &str,
    r: R,
) -> Result<ParquetRecordBatchReaderBuilder<R>> {
    ParquetRecordBatchReaderBuilder::try_new(r)
        .map_err(|e| anyhow!("{path}: not a readable Parquet file: {e}"))
}

/// Reads a whole Parquet file (or in-memory bytes) into a data set.
///
/// # Errors
/// As [`read_parquet_table`] and [`Table::into_dataset`].
pub fn read_parquet<R: ChunkReader + 'static>(
    path: &str,
    r: R,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    read_parquet_table(path, r)?.into_dataset(opts, notes)
}

/// Reads a whole Parquet file (or in-memory bytes) into a [`Table`]: every numeric
/// column (lists expanded), nulls and non-finite values noted per column.
///
/// # Errors
/// Not a Parquet file, corrupt or truncated data, no rows.
pub fn read_parquet_table<R: ChunkReader + 'static>(path: &str, r: R) -> Result<Table> {
    let b = builder(path, r)?;
    let (schema, origins) = schema_of(path, b.schema());
    let reader = b
        .with_batch_size(65_536)
        .build()
        .map_err(|e| anyhow!("{path}: {e}"))?;
    let c = schema.len();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); c];
    let mut bad: Vec<Option<Bad>> = vec![None; c];
    let mut row = 0;
    for batch in reader {
        let batch = batch.map_err(|e| anyhow!("{path}: corrupt or truncated Parquet data: {e}"))?;
        let n = batch.num_rows();
        for (k, &origin) in origins.iter().enumerate() {
            if schema.kinds[k] != Kind::Number {
                cols[k].extend(std::iter::repeat_n(f64::NAN, n));
                continue;
            }
            let (vals, null) = column_values(path, &batch, origin, &schema.names[k])?;
            if bad[k].is_none() {
                let gaps = super::table::missing_allowed();
                let first = vals.iter().position(|v| {
                    if gaps {
                        v.is_infinite()
                    } else {
                        !v.is_finite()
                    }
                });
                let null = null.filter(|_| !gaps);
                bad[k] = match (null, first) {
                    (Some(r), Some(f)) if r <= f => Some(Bad {
                        row: row + r,
                        line: None,
                        value: "null".into(),
                        problem: Problem::Missing,
                    }),
                    (_, Some(f)) => Some(Bad {
                        row: row + f,
                        line: None,
                        value: vals[f].to_string(),
                        problem: Problem::NonFinite(vals[f]),
                    }),
                    _ => None,
                };
            }
            cols[k].extend(vals);
        }
        row += n;
    }
    if row == 0 {
        bail!("{path}: no data rows");
    }
    let data: Vec<f64> = cols.into_iter().flatten().collect();
    use ndarray::ShapeBuilder;
    let values = Array2::from_shape_vec((row, c).f(), data)
        .map_err(|e| anyhow!("{path}: internal shape error: {e}"))?;
    Ok(Table {
        schema,
        values,
        bad,
        rows: Rows::Records,
        labels: None,
        notes: Vec::new(),
    })
}

/// A Parquet file streamed in record batches, re-opened for every pass.
pub struct ParquetSource {
    path: String,
    /// Origin and name of each chosen feature.
    features: Vec<((usize, Option<usize>), String)>,
    weights: Option<((usize, Option<usize>), String)>,
    batch_rows: usize,
    reader: Option<ParquetRecordBatchReader>,
    row: usize,
    /// The file's length when opened: a shorter file on a later pass was truncated.
    len: u64,
}

impl ParquetSource {
    /// Opens `path` and chooses its columns as `opts` says (notes on stderr unless
    /// `opts.quiet`).
    ///
    /// # Errors
    /// An unreadable file, or bad column choices.
    pub fn open(path: &str, opts: &ReadOptions, batch_rows: usize) -> Result<ParquetSource> {
        let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot stat {path}"))?
            .len();
        let (schema, origins) = schema_of(path, builder(path, file)?.schema());
        let sel = schema.select(opts)?;
        if !opts.quiet {
            for n in schema.skipped_notes(&sel) {
                eprintln!("note: {n}");
            }
        }
        let named = |k: usize| (origins[k], schema.names[k].clone());
        Ok(ParquetSource {
            path: path.to_string(),
            features: sel.features.iter().map(|&k| named(k)).collect(),
            weights: sel.weights.map(named),
            batch_rows,
            reader: None,
            row: 0,
            len,
        })
    }

    /// Feature names.
    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(|(_, n)| n.clone()).collect()
    }

    /// One record batch as rows and weights, every value checked.
    fn convert(&self, batch: &RecordBatch) -> Result<(Array2<f64>, Option<Array1<f64>>)> {
        let path = &self.path;
        let n = batch.num_rows();
        let mut x = Array2::zeros((n, self.features.len()));
        for (f, (origin, name)) in self.features.iter().enumerate() {
            let (vals, null) = column_values(path, batch, *origin, name)?;
            let gaps = super::table::missing_allowed();
            if let Some(r) = null.filter(|_| !gaps) {
                bail!(
                    "{path}: missing value at row {}, column '{name}'",
                    self.row + r + 1
                );
            }
            let unusable = |v: &f64| {
                if gaps {
                    v.is_infinite()
                } else {
                    !v.is_finite()
                }
            };
            if let Some(r) = vals.iter().position(unusable) {
                bail!(
                    "{path}: non-finite value ({}) at row {}, column '{name}'",
                    vals[r],
                    self.row + r + 1
                );
            }
            x.column_mut(f).assign(&Array1::from(vals));
        }
        let weights = match &self.weights {
            Some((origin, name)) => {
                let (vals, null) = column_values(path, batch, *origin, name)?;
                if let Some(r) = null {
                    bail!(
                        "{path}: missing value at row {}, column '{name}'",
                        self.row + r + 1
                    );
                }
                let row0 = self.row;
                check_weights(path, name, &vals, |i| format!("row {}", row0 + i + 1)).or_else(
                    |e| {
                        // a chunk of zero weights is fine; the library checks the total
                        if vals.iter().all(|&v| v == 0.0) {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    },
                )?;
                Some(Array1::from(vals))
            }
            None => None,
        };
        Ok((x, weights))
    }
}

impl gaussmix::RowSource for ParquetSource {
    fn n_features(&self) -> usize {
        self.features.len()
    }
    fn reset(&mut self) -> gaussmix::Result<()> {
        let err = |e: anyhow::Error| gaussmix::GmmError::Source {
            reason: format!("{e:#}"),
        };
        let file = File::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path))
            .map_err(err)?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot stat {}", self.path))
            .map_err(err)?
            .len();
        if len < self.len {
            return Err(err(anyhow!(
                "{}: the file is now {len} bytes, shorter than the {} it had (truncated while the fit ran?)",
                self.path,
                self.len
            )));
        }
        let b = builder(&self.path, file).map_err(err)?;
        self.reader = Some(
            b.with_batch_size(self.batch_rows)
                .build()
                .map_err(|e| err(anyhow!("{}: {e}", self.path)))?,
        );
        self.row = 0;
        Ok(())
    }
    fn next_chunk(&mut self) -> gaussmix::Result<Option<gaussmix::Chunk>> {
        let err = |e: anyhow::Error| gaussmix::GmmError::Source {
            reason: format!("{e:#}"),
        };
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        match reader.next() {
            None => Ok(None),
            Some(Err(e)) => Err(err(anyhow!(
                "{}: corrupt or truncated Parquet data: {e}",
                self.path
            ))),
            Some(Ok(batch)) => {
                let (x, weights) = self.convert(&batch).map_err(err)?;
                self.row += x.nrows();
                Ok(Some(gaussmix::Chunk { x, weights }))
            }
        }
    }
}
