//! Writing results: CSV tables of float and label columns, and atomic file writes.
//!
//! A file is written to a temporary file in the target's directory, flushed and synced,
//! then renamed over the target: a failure leaves no file behind and never damages an
//! existing one. `-` writes to standard output.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use ndarray::{ArrayView1, ArrayView2};

use crate::interrupt;

/// One column of an output table.
#[derive(Debug, Clone)]
pub enum Column<'a> {
    /// Floating-point values (written in the shortest form that reads back exactly).
    Float {
        /// Header name.
        name: &'a str,
        /// One value per row.
        values: ArrayView1<'a, f64>,
    },
    /// Integer labels (component indices and the like).
    Label {
        /// Header name.
        name: &'a str,
        /// One value per row.
        values: &'a [usize],
    },
}

impl Column<'_> {
    pub fn name(&self) -> &str {
        match self {
            Column::Float { name, .. } | Column::Label { name, .. } => name,
        }
    }

    /// Number of values (rows) in the column.
    pub fn len(&self) -> usize {
        match self {
            Column::Float { values, .. } => values.len(),
            Column::Label { values, .. } => values.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The directory a path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks, before long work, that `path` can be written: `-` (stdout) always can;
/// otherwise the directory must exist and take a new file, and `path` must not be a
/// directory. An existing device or pipe (`/dev/null`, `/dev/stdout`) is written in
/// place and not probed.
///
/// # Errors
/// A missing or read-only directory, or a path that is a directory, named in the message.
pub fn check_output_path(path: &str) -> Result<()> {
    if path == "-" {
        return Ok(());
    }
    if path.is_empty() {
        bail!("the output path is empty");
    }
    let p = Path::new(path);
    if p.is_dir() {
        bail!("cannot write {path}: it is a directory");
    }
    if is_special(p) {
        return Ok(());
    }
    let target = resolve_link(p);
    let dir = parent_dir(&target);
    check_dir(path, &dir)?;
    tempfile::NamedTempFile::new_in(&dir)
        .map(drop)
        .map_err(|e| {
            anyhow!(
                "cannot write {path}: cannot create a file in directory {}: {}",
                dir.display(),
                describe_io(&e)
            )
        })
}

fn check_dir(path: &str, dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("cannot write {path}: {} is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "cannot write {path}: directory {} does not exist",
                dir.display()
            )
        }
        Err(e) => bail!(
            "cannot write {path}: cannot reach directory {}: {e}",
            dir.display()
        ),
    }
}

/// Whether `path` exists and is neither a regular file nor a directory (a device such as
/// `/dev/null` or `/dev/full`, a named pipe, a socket): such a target is written in place,
/// never replaced by a renamed file.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// The file a symbolic link points to (so that writing through a link replaces the
/// file, not the link); other paths, and dangling links, as they are.
fn resolve_link(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// The hint for the I/O error behind an error, looking through anyhow contexts and CSV
/// errors.
fn chain_hint(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return hint(io);
        }
        match c.downcast_ref::<::csv::Error>().map(|ce| ce.kind()) {
            Some(::csv::ErrorKind::Io(io)) => hint(io),
            _ => None,
        }
    })
}

/// Plain words for the write failures a user can act on, before the system's message.
fn hint(e: &std::io::Error) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull => Some("the disk is full (no space left on device)"),
        K::QuotaExceeded => Some("the disk quota is exceeded"),
        K::ReadOnlyFilesystem => Some("the file system is read-only"),
        K::PermissionDenied => Some("permission denied"),
        K::FileTooLarge => Some("the file is too large for the file system"),
        _ => None,
    }
}

/// An I/O error with its hint, if any: `the disk is full (…): No space left on device (os error 28)`.
fn describe_io(e: &std::io::Error) -> String {
    match hint(e) {
        Some(h) => format!("{h}: {e}"),
        None => e.to_string(),
    }
}

/// An error from writing `path`, with its hint: the message names the path.
fn write_error(shown: &str, what: &str, e: anyhow::Error) -> anyhow::Error {
    let sep = if what.is_empty() { "" } else { ": " };
    match chain_hint(&e) {
        Some(h) => anyhow!("cannot write {shown}: {what}{sep}{h}: {e:#}"),
        None => anyhow!("cannot write {shown}: {what}{sep}{e:#}"),
    }
}

/// A temporary file in the list of unfinished outputs
/// ([`crate::interrupt::temps`]): removed (and taken off the list) when dropped,
/// unless it was renamed into place.
struct Staged {
    tmp: Option<tempfile::NamedTempFile>,
}

impl Staged {
    fn new_in(dir: &Path) -> std::io::Result<Staged> {
        let mut list = interrupt::temps();
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        interrupt::register_temp(&mut list, tmp.path());
        Ok(Staged { tmp: Some(tmp) })
    }

    fn file(&self) -> &std::fs::File {
        self.tmp.as_ref().expect("staged").as_file()
    }

    /// Renames the file to `path`, unless an interrupt has arrived.
    fn persist(mut self, path: &Path, even_if_interrupted: bool) -> Result<()> {
        let mut list = interrupt::temps();
        let tmp = self.tmp.take().expect("staged");
        let staged = tmp.path().to_path_buf();
        if interrupt::interrupted() && !even_if_interrupted {
            drop(tmp);
            interrupt::unregister_temp(&mut list, &staged);
            bail!("interrupted");
        }
        let r = tmp.persist(path);
        interrupt::unregister_temp(&mut list, &staged);
        // On failure the temporary file comes back in the error and is removed here.
        r.map(drop).map_err(|e| {
            anyhow!(
                "cannot rename the temporary file into place: {}",
                describe_io(&e.error)
            )
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let mut list = interrupt::temps();
            let p = tmp.path().to_path_buf();
            drop(tmp);
            interrupt::unregister_temp(&mut list, &p);
        }
    }
}

/// Writes a file atomically: `f` writes into a temporary file in the same directory,
/// which is flushed, synced (`fsync`) and then renamed over `path`, and the directory is
/// synced after the rename, so that the new file survives a crash. If `f` or any step
/// fails, or an interrupt ([`crate::interrupt`]) has arrived, the temporary file is
/// removed and an existing `path` is left as it was.
///
/// A new file gets mode 0644; a replaced file keeps its permissions (Unix). A symbolic
/// link is followed (the file it points to is replaced). A device or pipe (`/dev/null`,
/// `/dev/full`) is written in place, and its write errors reported.
///
/// # Errors
/// A missing or read-only directory, a full disk, an I/O error, or `f`'s own error; the
/// message names `path`, and says in plain words when the disk is full, the file system
/// read-only or permission denied.
pub fn write_atomic(path: &Path, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_atomic_when(path, f, false)
}

/// [`write_atomic`] that completes after an interrupt has arrived: for what an
/// interrupted command leaves on purpose (a fit's checkpoint). A second interrupt still
/// ends the process at once, and the temporary file is removed.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_atomic_even_if_interrupted(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    write_atomic_when(path, f, true)
}

fn write_atomic_when(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
    even_if_interrupted: bool,
) -> Result<()> {
    let shown = path.display().to_string();
    if path.as_os_str().is_empty() {
        bail!("the output path is empty");
    }
    if path.is_dir() {
        bail!("cannot write {shown}: it is a directory");
    }
    if is_special(path) {
        return write_in_place(path, &shown, f);
    }
    let target = resolve_link(path);
    let dir = parent_dir(&target);
    check_dir(&shown, &dir)?;
    let staged = Staged::new_in(&dir).map_err(|e| {
        anyhow!(
            "cannot write {shown}: cannot create a file in directory {}: {}",
            dir.display(),
            describe_io(&e)
        )
    })?;
    let mut w = BufWriter::new(staged.file());
    f(&mut w).map_err(|e| write_error(&shown, "", e))?;
    w.flush()
        .map_err(|e| write_error(&shown, "", anyhow::Error::from(e)))?;
    drop(w);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = match std::fs::metadata(&target) {
            Ok(m) => m.permissions(),
            Err(_) => std::fs::Permissions::from_mode(0o644),
        };
        staged
            .file()
            .set_permissions(perms)
            .map_err(|e| write_error(&shown, "cannot set permissions", e.into()))?;
    }
    staged
        .file()
        .sync_all()
        .map_err(|e| write_error(&shown, "sync failed", e.into()))?;
    staged
        .persist(&target, even_if_interrupted)
        .map_err(|e| anyhow!("cannot write {shown}: {e:#}"))?;
    // The rename itself is durable once the directory is synced (best effort: some file
    // systems cannot sync a directory).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes straight into an existing device or pipe.
fn write_in_place(
    path: &Path,
    shown: &str,
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if interrupt::interrupted() {
        bail!("cannot write {shown}: interrupted");
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| anyhow!("cannot write {shown}: {}", describe_io(&e)))?;
    let mut w = BufWriter::new(file);
    f(&mut w).map_err(|e| write_error(shown, "", e))?;
    w.flush()
        .map_err(|e| write_error(shown, "", anyhow::Error::from(e)))?;
    Ok(())
}

/// Writes to `path` with [`write_atomic`], or to standard output when `path` is `-`
/// (a closed pipe, as with `| head`, is not an error).
///
/// # Errors
/// As [`write_atomic`].
pub fn write_output(path: &str, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if path != "-" {
        return write_atomic(Path::new(path), f);
    }
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    let r = f(&mut w).and_then(|()| w.flush().map_err(anyhow::Error::from));
    match r {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        r => r.map_err(|e| match chain_hint(&e) {
            Some(h) => anyhow!("cannot write to standard output: {h}: {e:#}"),
            None => anyhow!("cannot write to standard output: {e:#}"),
        }),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<::csv::Error>().is_some_and(|ce| {
                matches!(ce.kind(), ::csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// Tab for `.tsv`, comma otherwise.
fn delimiter_for(path: &str) -> u8 {
    if path.to_ascii_lowercase().ends_with(".tsv") {
        b'\t'
    } else {
        b','
    }
}

/// Writes the columns as a CSV table with a header row to `path` (`-` = stdout; a `.tsv`
/// file is tab-separated; a `.parquet` file is Parquet). Floats are written in the shortest form that reads back to the
/// same f64 (`0.1`, `1e-7`, `NaN`, `inf`), labels as integers.
///
/// # Errors
/// No columns, columns of different lengths, or a write failure; no file is left behind.
pub fn write_columns(path: &str, columns: &[Column<'_>]) -> Result<()> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".parquet") || lower.ends_with(".parq") {
        #[cfg(feature = "parquet")]
        return write_parquet(path, columns);
        #[cfg(not(feature = "parquet"))]
        bail!("{path}: this gaussmix was built without Parquet support (feature `parquet`)");
    }
    let Some(first) = columns.first() else {
        bail!("cannot write {path}: no columns to write");
    };
    let n = first.len();
    if let Some(c) = columns.iter().find(|c| c.len() != n) {
        bail!(
            "cannot write {path}: column '{}' has {} rows but column '{}' has {n}",
            c.name(),
            c.len(),
            first.name()
        );
    }
    let delim = delimiter_for(path);
    write_output(path, |w| {
        let mut out = ::csv::WriterBuilder::new().delimiter(delim).from_writer(w);
        out.write_record(columns.iter().map(|c| c.name()))?;
        let mut cells: Vec<String> = vec![String::new(); columns.len()];
        for i in 0..n {
            for (cell, c) in cells.iter_mut().zip(columns) {
                cell.clear();
                match c {
                    Column::Float { values, .. } => write!(cell, "{:?}", values[i])?,
                    Column::Label { values, .. } => write!(cell, "{}", values[i])?,
                }
            }
            out.write_record(&cells)?;
        }
        out.flush()?;
        Ok(())
    })
}

/// Writes an N × D matrix as CSV under a header of D names (`-` = stdout).
///
/// # Errors
/// A header whose length is not D, or a write failure; no file is left behind.
pub fn write_csv(path: &str, header: &[String], rows: ArrayView2<f64>) -> Result<()> {
    write_csv_with_labels_opt(path, header, rows, None)
}

/// Writes one column of labels under the header `name` (`predict`'s output).
///
/// # Errors
/// A write failure; no file is left behind.
pub fn write_labels(path: &str, name: &str, labels: &[usize]) -> Result<()> {
    write_columns(
        path,
        &[Column::Label {
            name,
            values: labels,
        }],
    )
}

/// Writes an N × D matrix followed by one integer column of N labels (`sample`'s output:
/// D coordinates and a `component` column). `header` has D + 1 names, the last for the
/// labels.
///
/// # Errors
/// A header whose length is not D + 1, labels of a length other than N, or a write
/// failure; no file is left behind.
pub fn write_csv_with_labels(
    path: &str,
    header: &[String],
    rows: ArrayView2<f64>,
    labels: &[usize],
) -> Result<()> {
    write_csv_with_labels_opt(path, header, rows, Some(labels))
}

fn write_csv_with_labels_opt(
    path: &str,
    header: &[String],
    rows: ArrayView2<f64>,
    labels: Option<&[usize]>,
) -> Result<()> {
    let want = rows.ncols() + usize::from(labels.is_some());
    if header.len() != want {
        bail!(
            "cannot write {path}: {} header names for {} columns",
            header.len(),
            want
        );
    }
    let mut cols: Vec<Column<'_>> = rows
        .columns()
        .into_iter()
        .zip(header)
        .map(|(values, name)| Column::Float { name, values })
        .collect();
    if let Some(values) = labels {
        cols.push(Column::Label {
            name: &header[want - 1],
            values,
        });
    }
    if cols.is_empty() {
        bail!("cannot write {path}: no columns to write");
    }
    write_columns(path, &cols)
}

/// The Parquet writers (feature `parquet`), here with the other writers so that no
/// reader module is needed to write.
#[cfg(feature = "parquet")]
mod parquet_out {
    use anyhow::{anyhow, bail, Result};
    use arrow_array::{ArrayRef, RecordBatch};
    use arrow_schema::{DataType, Schema as ArrowSchema};

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
        write_batch(path, Arc::new(ArrowSchema::new(fields)), arrays)
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
        write_batch(path, Arc::new(ArrowSchema::new(fields)), arrays)
    }

    fn write_batch(
        path: &str,
        schema: std::sync::Arc<ArrowSchema>,
        arrays: Vec<ArrayRef>,
    ) -> Result<()> {
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
}

#[cfg(feature = "parquet")]
pub use parquet_out::{write_parquet, write_text_parquet};

#[cfg(test)]
mod tests {
    use super::super::{read_dataset, ReadOptions};
    use super::*;
    use ndarray::array;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Files in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// A directory new files cannot be created in: a 0555 directory, or /sys when we are
    /// root (root ignores the mode bits).
    fn read_only_dir(tmp: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let d = tmp.join("ro");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o555)).unwrap();
        if tempfile::NamedTempFile::new_in(&d).is_ok() {
            PathBuf::from("/sys")
        } else {
            d
        }
    }

    #[test]
    fn csv_table_contents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        let ps = p.to_str().unwrap();
        let x = array![[0.1, 1e-7], [3.0, -2.5e300], [f64::NAN, f64::INFINITY]];
        write_csv(ps, &s(&["a", "b,c"]), x.view()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "a,\"b,c\"\n0.1,1e-7\n3.0,-2.5e300\nNaN,inf\n"
        );
        write_labels(ps, "label", &[0, 2, 1]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "label\n0\n2\n1\n");
        write_csv_with_labels(
            ps,
            &s(&["x0", "x1", "component"]),
            x.slice(ndarray::s![..2, ..]),
            &[1, 0],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "x0,x1,component\n0.1,1e-7,1\n3.0,-2.5e300,0\n"
        );
        // A .tsv is tab-separated.
        let t = dir.path().join("out.tsv");
        write_csv(
            t.to_str().unwrap(),
            &s(&["a", "b"]),
            array![[1.0, 2.0]].view(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "a\tb\n1.0\t2.0\n");
        // The general form: floats and labels in any order.
        let v = array![0.5, 1.5];
        write_columns(
            ps,
            &[
                Column::Label {
                    name: "id",
                    values: &[7, 8],
                },
                Column::Float {
                    name: "p",
                    values: v.view(),
                },
            ],
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "id,p\n7,0.5\n8,1.5\n");
        // Zero rows: just the header.
        write_labels(ps, "label", &[]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "label\n");
        assert_eq!(listing(dir.path()), ["out.csv", "out.tsv"]);
    }

    #[test]
    fn written_csv_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("round.csv");
        let ps = p.to_str().unwrap();
        let x = array![
            [0.1, 1.0 / 3.0, -1e-300],
            [1e9 + 0.123456789, 2.0f64.sqrt(), 123456789.0]
        ];
        write_csv(ps, &s(&["a", "b", "c"]), x.view()).unwrap();
        let d = read_dataset(ps, &ReadOptions::default()).unwrap();
        assert_eq!(d.x, x);
        assert_eq!(d.feature_names, s(&["a", "b", "c"]));
    }

    #[test]
    fn shape_errors_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        let ps = p.to_str().unwrap();
        let x = array![[1.0, 2.0]];
        let e = write_csv(ps, &s(&["a"]), x.view()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("cannot write {ps}: 1 header names for 2 columns")
        );
        let e = write_csv_with_labels(ps, &s(&["a", "b"]), x.view(), &[0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 header names for 3 columns"), "{e}");
        let e = write_csv_with_labels(ps, &s(&["a", "b", "k"]), x.view(), &[0, 1])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("cannot write {ps}: column 'k' has 2 rows but column 'a' has 1")
        );
        let e = write_columns(ps, &[]).unwrap_err().to_string();
        assert!(e.contains("no columns to write"), "{e}");
        let empty = ndarray::Array2::<f64>::zeros((3, 0));
        let e = write_csv(ps, &[], empty.view()).unwrap_err().to_string();
        assert!(e.contains("no columns to write"), "{e}");
        assert!(listing(dir.path()).is_empty());
    }

    #[test]
    fn atomic_write_replaces_or_leaves_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        write_atomic(&p, |w| {
            w.write_all(b"first\n")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "first\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        // A failure half-way leaves the old file as it was, and no temporary file.
        let e = write_atomic(&p, |w| {
            w.write_all(b"half of the sec")?;
            bail!("the model went away")
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!("cannot write {}: the model went away", p.display())
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "first\n");
        assert_eq!(listing(dir.path()), ["model.json"]);
        // A failure on a new file leaves nothing.
        let q = dir.path().join("new.csv");
        assert!(write_atomic(&q, |_| bail!("no")).is_err());
        assert_eq!(listing(dir.path()), ["model.json"]);
        // Replacing keeps the old file's permissions.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&p, |w| Ok(w.write_all(b"second\n")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A bare file name goes to the current directory; not exercised here so that
        // tests do not write into the source tree.
        assert_eq!(parent_dir(Path::new("x.csv")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/x.csv")), PathBuf::from("a"));
    }

    #[test]
    fn bad_output_places() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.csv");
        let e = write_atomic(&missing, |_| Ok(())).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "cannot write {}: directory {} does not exist",
                missing.display(),
                dir.path().join("no/such/dir").display()
            )
        );
        let ms = missing.to_str().unwrap();
        let e = check_output_path(ms).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = write_csv(ms, &s(&["a"]), array![[1.0]].view())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("cannot write {ms}: directory")),
            "{e}"
        );

        let e = write_atomic(dir.path(), |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("it is a directory"), "{e}");
        let e = check_output_path(dir.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("it is a directory"), "{e}");

        // A file where a directory should be.
        let f = dir.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let under = f.join("out.csv");
        let e = write_atomic(&under, |_| Ok(())).unwrap_err().to_string();
        assert!(e.contains("is not a directory"), "{e}");

        let ro = read_only_dir(dir.path());
        let target = ro.join("out.csv");
        let e = write_atomic(&target, |_| Ok(())).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "cannot write {}: cannot create a file in directory {}",
                target.display(),
                ro.display()
            )),
            "{e}"
        );
        assert!(e.contains("denied") || e.contains("Read-only"), "{e}");
        let e = check_output_path(target.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot create a file in directory"), "{e}");
        assert!(!target.exists());

        let e = check_output_path("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    /// Expected: writing through a symbolic link replaces the file it points to and
    /// keeps the link; writing to /dev/null succeeds and leaves it a device; /dev/full
    /// fails with "the disk is full".
    #[test]
    fn links_and_devices() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["link.json", "real.json"]);
        check_output_path(link.to_str().unwrap()).unwrap();

        write_atomic(Path::new("/dev/null"), |w| Ok(w.write_all(b"x")?)).unwrap();
        check_output_path("/dev/null").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        if Path::new("/dev/full").exists() {
            let e = write_atomic(Path::new("/dev/full"), |w| Ok(w.write_all(b"x")?))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("cannot write /dev/full: the disk is full"),
                "{e}"
            );
        }
    }

    #[test]
    fn check_output_path_ok() {
        let dir = tempfile::tempdir().unwrap();
        check_output_path("-").unwrap();
        let p = dir.path().join("m.json");
        check_output_path(p.to_str().unwrap()).unwrap();
        assert!(listing(dir.path()).is_empty(), "the probe file is removed");
        std::fs::write(&p, b"old").unwrap();
        check_output_path(p.to_str().unwrap()).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let e = anyhow!(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(&e));
        let e: anyhow::Error =
            ::csv::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).into();
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow!("other")));
    }
}
