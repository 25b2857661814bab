//! Parquet input (feature `parquet`): numeric columns, or a fixed-size-list column of
//! numbers expanded into one feature per element, read through Arrow record batches —
//! whole, or in chunks for streaming fits.

use std::fs::File;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use ndarray::{Array1, Array2};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use super::{resolve_column, Dataset, ReadOptions};

/// Which Arrow columns become features, and how wide each is.
#[derive(Debug, Clone)]
pub struct Plan {
    /// (column index, width): width 1 for a scalar, w for a fixed-size list.
    cols: Vec<(usize, usize)>,
    /// One name per feature.
    pub names: Vec<String>,
    /// Column index of the weights.
    weights: Option<usize>,
}

impl Plan {
    /// Number of features.
    pub fn width(&self) -> usize {
        self.names.len()
    }
}

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

/// Width of a usable column: 1 for numbers, w for `FixedSizeList<number, w>`.
fn usable(t: &DataType) -> Option<usize> {
    match t {
        t if numeric(t) => Some(1),
        DataType::FixedSizeList(f, w) if numeric(f.data_type()) && *w > 0 => Some(*w as usize),
        _ => None,
    }
}

/// Chooses the feature columns as the options say.
pub fn plan(
    path: &str,
    schema: &Schema,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Plan> {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let weights = match &opts.weights {
        Some(w) => {
            let j = resolve_column(path, w, &names, "--weights")?;
            if !numeric(schema.field(j).data_type()) {
                bail!(
                    "{path}: --weights column '{}' has type {}, not a number",
                    names[j],
                    schema.field(j).data_type()
                );
            }
            Some(j)
        }
        None => None,
    };
    let chosen: Vec<usize> = match &opts.columns {
        Some(cols) => {
            let mut v = Vec::new();
            for c in cols {
                let j = resolve_column(path, c, &names, "--columns")?;
                if usable(schema.field(j).data_type()).is_none() {
                    bail!("{path}: column '{}' has type {}, not a number or a fixed-size list of numbers", names[j], schema.field(j).data_type());
                }
                if Some(j) == weights {
                    bail!(
                        "{path}: column '{}' cannot be both a feature and the --weights column",
                        names[j]
                    );
                }
                if v.contains(&j) {
                    bail!("{path}: column '{}' is chosen twice in --columns", names[j]);
                }
                v.push(j);
            }
            v
        }
        None => {
            let mut v = Vec::new();
            for (j, f) in schema.fields().iter().enumerate() {
                if Some(j) == weights {
                    continue;
                }
                if usable(f.data_type()).is_some() {
                    v.push(j);
                } else {
                    notes.push(format!(
                        "skipping column '{}' of type {} (use --columns to choose columns)",
                        f.name(),
                        f.data_type()
                    ));
                }
            }
            v
        }
    };
    if chosen.is_empty() {
        bail!("{path}: no numeric columns to use");
    }
    let mut cols = Vec::new();
    let mut feat = Vec::new();
    for j in chosen {
        let w = usable(schema.field(j).data_type()).expect("checked");
        cols.push((j, w));
        if w == 1 {
            feat.push(names[j].clone());
        } else {
            feat.extend((0..w).map(|i| format!("{}[{i}]", names[j])));
        }
    }
    Ok(Plan {
        cols,
        names: feat,
        weights,
    })
}

/// Appends the values of a numeric array (as f64) to `out`, erroring on nulls.
fn push_values(
    path: &str,
    a: &dyn Array,
    name: &str,
    row0: usize,
    out: &mut Vec<f64>,
) -> Result<()> {
    if a.null_count() > 0 {
        let r = (0..a.len()).find(|&i| a.is_null(i)).expect("a null");
        bail!(
            "{path}: missing value at row {}, column '{name}'",
            row0 + r + 1
        );
    }
    macro_rules! prim {
        ($t:ty) => {
            out.extend(a.as_primitive::<$t>().values().iter().map(|v| *v as f64))
        };
    }
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
    Ok(())
}

/// Converts one record batch into rows (`x`, row-major, `plan.width()` per row) and
/// weights, checking for missing and non-finite values. `row0` is the batch's first row.
pub fn convert(
    path: &str,
    batch: &RecordBatch,
    plan: &Plan,
    row0: usize,
) -> Result<(Array2<f64>, Option<Array1<f64>>)> {
    let n = batch.num_rows();
    let d = plan.width();
    let mut x = Array2::zeros((n, d));
    let mut f = 0;
    let mut vals = Vec::new();
    for &(j, w) in &plan.cols {
        let col: &ArrayRef = batch.column(j);
        let name = batch.schema().field(j).name().clone();
        vals.clear();
        if w == 1 {
            push_values(path, col.as_ref(), &name, row0, &mut vals)?;
            for (r, v) in vals.iter().enumerate() {
                x[[r, f]] = *v;
            }
        } else {
            let list = col.as_fixed_size_list();
            if list.null_count() > 0 {
                let r = (0..n).find(|&i| list.is_null(i)).expect("a null");
                bail!(
                    "{path}: missing value at row {}, column '{name}'",
                    row0 + r + 1
                );
            }
            let child = list.values().slice(list.offset() * w, n * w);
            push_values(path, child.as_ref(), &name, row0, &mut vals)?;
            for r in 0..n {
                for i in 0..w {
                    x[[r, f + i]] = vals[r * w + i];
                }
            }
        }
        f += w;
    }
    for (r, row) in x.rows().into_iter().enumerate() {
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            bail!(
                "{path}: non-finite value {} at row {}, column '{}'",
                row[c],
                row0 + r + 1,
                plan.names[c]
            );
        }
    }
    let weights = match plan.weights {
        Some(j) => {
            vals.clear();
            let name = batch.schema().field(j).name().clone();
            push_values(path, batch.column(j).as_ref(), &name, row0, &mut vals)?;
            if let Some(r) = vals.iter().position(|v| !v.is_finite() || *v < 0.0) {
                bail!(
                    "{path}: weight {} at row {}, column '{name}' is not a finite number ≥ 0",
                    vals[r],
                    row0 + r + 1
                );
            }
            Some(Array1::from(vals.clone()))
        }
        None => None,
    };
    Ok((x, weights))
}

fn builder<R: ChunkReader + 'static>(
    path: &str,
    r: R,
) -> Result<ParquetRecordBatchReaderBuilder<R>> {
    ParquetRecordBatchReaderBuilder::try_new(r)
        .map_err(|e| anyhow!("{path}: not a readable Parquet file: {e}"))
}

/// Reads a whole Parquet file (or in-memory bytes) into a data set.
pub fn read_parquet<R: ChunkReader + 'static>(
    path: &str,
    r: R,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    let b = builder(path, r)?;
    let plan = plan(path, b.schema(), opts, notes)?;
    let reader = b
        .with_batch_size(65_536)
        .build()
        .map_err(|e| anyhow!("{path}: {e}"))?;
    let mut xs = Vec::new();
    let mut ws = Vec::new();
    let mut row = 0;
    for batch in reader {
        let batch = batch.map_err(|e| anyhow!("{path}: corrupt or truncated Parquet data: {e}"))?;
        let (x, w) = convert(path, &batch, &plan, row)?;
        row += x.nrows();
        xs.push(x);
        if let Some(w) = w {
            ws.push(w);
        }
    }
    if row == 0 {
        bail!("{path}: no data rows");
    }
    let views: Vec<_> = xs.iter().map(|a| a.view()).collect();
    let x = ndarray::concatenate(ndarray::Axis(0), &views)?;
    let weights = if plan.weights.is_some() {
        let views: Vec<_> = ws.iter().map(|a| a.view()).collect();
        let w = ndarray::concatenate(ndarray::Axis(0), &views)?;
        if w.sum() <= 0.0 {
            bail!("{path}: all sample weights are zero");
        }
        Some(w)
    } else {
        None
    };
    Ok(Dataset {
        x,
        feature_names: plan.names,
        weights,
        labels: None,
    })
}

/// A Parquet file streamed in record batches, re-opened for every pass.
pub struct ParquetSource {
    path: String,
    plan: Plan,
    batch_rows: usize,
    reader: Option<ParquetRecordBatchReader>,
    row: usize,
    /// The file's length when opened: a shorter file on a later pass was truncated.
    len: u64,
}

impl ParquetSource {
    /// Opens `path` and plans its columns as `opts` says.
    pub fn open(path: &str, opts: &ReadOptions, batch_rows: usize) -> Result<ParquetSource> {
        let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot stat {path}"))?
            .len();
        let mut notes = Vec::new();
        let plan = plan(path, builder(path, file)?.schema(), opts, &mut notes)?;
        if !opts.quiet {
            for n in notes {
                eprintln!("note: {n}");
            }
        }
        Ok(ParquetSource {
            path: path.to_string(),
            plan,
            batch_rows,
            reader: None,
            row: 0,
            len,
        })
    }

    /// Feature names.
    pub fn names(&self) -> &[String] {
        &self.plan.names
    }
}

impl gaussmix::RowSource for ParquetSource {
    fn n_features(&self) -> usize {
        self.plan.width()
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
                let (x, weights) =
                    convert(&self.path, &batch, &self.plan, self.row).map_err(err)?;
                self.row += x.nrows();
                Ok(Some(gaussmix::Chunk { x, weights }))
            }
        }
    }
}

/// Writes the columns as a Parquet file (Float64 and UInt64 columns, zstd-compressed),
/// atomically: a failure leaves no file and never damages an existing one.
///
/// # Errors
/// No columns, columns of different lengths, or a write failure.
pub fn write_parquet(path: &str, columns: &[super::Column<'_>]) -> Result<()> {
    use arrow_array::{Float64Array, UInt64Array};
    use arrow_schema::Field;
    use std::sync::Arc;

    let Some(first) = columns.first() else {
        bail!("cannot write {path}: no columns to write");
    };
    let n = first.len();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in columns {
        if c.len() != n {
            bail!(
                "cannot write {path}: column '{}' has {} rows but column '{}' has {n}",
                c.name(),
                c.len(),
                first.name()
            );
        }
        match c {
            super::Column::Float { name, values } => {
                fields.push(Field::new(*name, DataType::Float64, false));
                arrays.push(Arc::new(Float64Array::from_iter_values(
                    values.iter().copied(),
                )));
            }
            super::Column::Label { name, values } => {
                fields.push(Field::new(*name, DataType::UInt64, false));
                arrays.push(Arc::new(UInt64Array::from_iter_values(
                    values.iter().map(|v| *v as u64),
                )));
            }
        }
    }
    write_batch(path, Arc::new(Schema::new(fields)), arrays)
}

/// Writes a table of text cells as Parquet: a column whose every cell parses as a number
/// becomes Float64, the others Utf8.
///
/// # Errors
/// A write failure; no file is left behind.
pub fn write_text_parquet(path: &str, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    use arrow_array::{Float64Array, StringArray};
    use arrow_schema::Field;
    use std::sync::Arc;
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (j, name) in header.iter().enumerate() {
        let nums: Option<Vec<f64>> = rows
            .iter()
            .map(|r| r[j].trim().parse::<f64>().ok())
            .collect();
        match nums {
            Some(v) if !rows.is_empty() => {
                fields.push(Field::new(*name, DataType::Float64, false));
                arrays.push(Arc::new(Float64Array::from(v)));
            }
            _ => {
                fields.push(Field::new(*name, DataType::Utf8, false));
                arrays.push(Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r[j].as_str()),
                )));
            }
        }
    }
    write_batch(path, Arc::new(Schema::new(fields)), arrays)
}

fn write_batch(path: &str, schema: std::sync::Arc<Schema>, arrays: Vec<ArrayRef>) -> Result<()> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    if path == "-" {
        bail!("Parquet output needs a file name, not standard output");
    }
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| anyhow!("cannot write {path}: {e}"))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, Some(props))
        .map_err(|e| anyhow!("cannot write {path}: {e}"))?;
    writer
        .write(&batch)
        .map_err(|e| anyhow!("cannot write {path}: {e}"))?;
    writer
        .close()
        .map_err(|e| anyhow!("cannot write {path}: {e}"))?;
    super::write_atomic(std::path::Path::new(path), |w| Ok(w.write_all(&buf)?))
}
