//! The one reader interface: every format yields a [`Table`] of named columns (or, for
//! streaming, its [`Schema`]), and the columns are chosen once, here
//! ([`Schema::select`], [`Table::into_dataset`]), whatever the format.
//!
//! A table keeps every column the file has, with its kind (numbers, text, an
//! unsupported type) and its first unusable cell, so that a missing value in a column
//! nobody chose is not an error, and an error names the file, the row and the column.
//!
//! The format readers use this module and nothing else of [`crate::io`]; `io/mod.rs`
//! picks the reader (so the module graph of `io` has no circle).

use std::ops::Range;

use anyhow::{anyhow, bail, Result};
use ndarray::{Array1, Array2, Axis};

static MISSING_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets missing cells through as NaN for the rest of the process (`--missing em`): empty
/// and `NA`-like cells of text files, nulls and NaN of NPY, NPZ and Parquet files are then
/// not errors (text in a numeric column and infinities still are); the library decides
/// what a NaN means.
pub fn allow_missing(on: bool) {
    MISSING_ALLOWED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`allow_missing`] is on.
pub fn missing_allowed() -> bool {
    MISSING_ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
}

/// How to read a data file: which columns, which weights, which array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Feature columns in the order wanted, by header name, or by 0-based index when no
    /// header name matches. `None`: every numeric column (text columns are skipped with a
    /// note on stderr).
    pub columns: Option<Vec<String>>,
    /// A column (name or 0-based index) taken out of the features and used as sample
    /// weights: finite, ≥ 0 and not all zero.
    pub weights: Option<String>,
    /// The array of an NPZ file holding the features (default `X`). An error for other
    /// formats.
    pub array: Option<String>,
    /// Do not print notes (skipped text columns, ignored labels) on stderr.
    pub quiet: bool,
}

/// A data set read from a file: an N × D matrix of finite numbers and what goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The features, N rows × D columns, all finite, standard (C) layout.
    pub x: Array2<f64>,
    /// One name per column of `x`: the header names, or `x0, x1, ...` when the file has
    /// none (NPY, NPZ, CSV without header).
    pub feature_names: Vec<String>,
    /// Sample weights from `--weights`: N finite values ≥ 0, not all zero.
    pub weights: Option<Array1<f64>>,
    /// The NPZ array `y`, when present and of length N (anomaly labels and the like).
    pub labels: Option<Array1<f64>>,
}

impl Dataset {
    /// Number of rows N.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    /// Number of feature columns D.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }
}

/// `a, b, c`, shortened when long.
pub fn list_names(names: &[String]) -> String {
    const MAX: usize = 20;
    let shown: Vec<String> = names
        .iter()
        .take(MAX)
        .map(|n| {
            if n.is_empty() {
                "''".to_string()
            } else {
                n.clone()
            }
        })
        .collect();
    let mut s = shown.join(", ");
    if names.len() > MAX {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}

/// Checks sample weights: finite, ≥ 0, not all zero. `at(i)` describes row `i` for
/// messages (e.g. `row 3 (line 4)`).
pub fn check_weights(
    file: &str,
    column: &str,
    w: &[f64],
    at: impl Fn(usize) -> String,
) -> Result<()> {
    for (i, &v) in w.iter().enumerate() {
        if !v.is_finite() {
            bail!(
                "{file}: non-finite weight {v} at {}, column '{column}'",
                at(i)
            );
        }
        if v < 0.0 {
            bail!(
                "{file}: negative weight {v} at {}, column '{column}'",
                at(i)
            );
        }
    }
    if w.iter().all(|&v| v == 0.0) {
        bail!("{file}: all weights in column '{column}' are zero");
    }
    Ok(())
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Numbers (possibly with some bad cells).
    Number,
    /// Text only (a CSV column without a single number): skipped unless chosen.
    Text,
    /// A type that cannot be a feature (a Parquet string column, ...), named.
    Unsupported(String),
}

/// Why a cell cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Empty, `NA`, a null.
    Missing,
    /// `inf` written as text.
    Infinite,
    /// Text in a column of numbers.
    Text,
    /// A NaN or infinite number in binary data.
    NonFinite(f64),
}

/// The first unusable cell of a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Bad {
    /// 0-based data row.
    pub row: usize,
    /// The line of the file, for text.
    pub line: Option<u64>,
    /// The cell as written.
    pub value: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// How rows and columns are named in messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// Text: `row 3 (line 4), column 'b'` (1-based rows, the file's line of each row).
    Lines(Vec<u64>),
    /// An array: `row 2, column 1 (0-based)`.
    Array,
    /// Records: `row 3, column 'b'` (1-based).
    Records,
}

impl Rows {
    /// `row …` for a bad cell (its own line when known).
    fn at_bad(&self, b: &Bad) -> String {
        match b.line {
            Some(l) => format!("row {} (line {l})", b.row + 1),
            None => self.at(b.row),
        }
    }

    /// `row …` for 0-based data row `r`.
    pub fn at(&self, r: usize) -> String {
        match self {
            Rows::Lines(lines) => match lines.get(r) {
                Some(l) => format!("row {} (line {l})", r + 1),
                None => format!("row {}", r + 1),
            },
            Rows::Array => format!("row {r}"),
            Rows::Records => format!("row {}", r + 1),
        }
    }

    fn column(&self, j: usize, name: &str) -> String {
        match self {
            Rows::Array => format!("column {j} (0-based)"),
            _ => format!("column '{name}'"),
        }
    }

    fn weight_at(&self, r: usize) -> String {
        match self {
            Rows::Array => format!("row {r} (0-based)"),
            _ => self.at(r),
        }
    }
}

/// The columns of a file, before any value is used.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The file (or `file: array 'X'`), for messages.
    pub source: String,
    /// One name per column: the file's, or `x0, x1, …` when it has none.
    pub names: Vec<String>,
    /// One kind per column.
    pub kinds: Vec<Kind>,
    /// Whether the names come from the file (a header, a schema) rather than positions.
    pub named: bool,
    /// Groups of columns chosen together by one name: a Parquet fixed-size-list column
    /// `emb` expanded into `emb[0]`, `emb[1]`, ….
    pub groups: Vec<(String, Range<usize>)>,
}

/// Which columns are features and which one holds weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Feature columns, in output order.
    pub features: Vec<usize>,
    /// The weights column.
    pub weights: Option<usize>,
    /// Whether the features were named in `--columns` (else: every numeric column).
    pub explicit: bool,
}

impl Schema {
    /// A schema of `d` numeric columns named `x0, x1, …` (an array).
    pub fn array(source: &str, d: usize) -> Schema {
        Schema {
            source: source.to_string(),
            names: (0..d).map(|j| format!("x{j}")).collect(),
            kinds: vec![Kind::Number; d],
            named: false,
            groups: Vec::new(),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there is no column.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The columns one `--columns` item names: a column by name, a group by name, or a
    /// column by 0-based index when no name matches.
    ///
    /// # Errors
    /// An empty, ambiguous or unknown name, or an index out of range.
    pub fn resolve(&self, spec: &str, what: &str) -> Result<Vec<usize>> {
        let file = &self.source;
        let t = spec.trim();
        if t.is_empty() {
            bail!("{file}: empty column name in {what}");
        }
        let hits: Vec<usize> = (0..self.len()).filter(|&i| self.names[i] == t).collect();
        match hits.len() {
            1 => return Ok(hits),
            0 => {}
            _ => bail!(
                "{file}: column name '{t}' in {what} is ambiguous: it names columns {} (0-based)",
                hits.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        if let Some((_, r)) = self.groups.iter().find(|(g, _)| g == t) {
            return Ok(r.clone().collect());
        }
        if let Ok(i) = t.parse::<usize>() {
            if i < self.len() {
                return Ok(vec![i]);
            }
            bail!(
                "{file}: column index {i} in {what} is out of range: the file has {} columns ({})",
                self.len(),
                list_names(&self.names)
            );
        }
        bail!(
            "{file}: no column '{t}' (from {what}); the columns are: {}",
            list_names(&self.names)
        )
    }

    /// Resolves `--columns` and `--weights` (once, for every format). Without
    /// `--columns` the features are every numeric column less the weights column.
    ///
    /// # Errors
    /// Unknown or ambiguous names, a column chosen twice or as both feature and weights,
    /// a chosen column of an unsupported type, weights that are not one numeric column.
    pub fn select(&self, opts: &ReadOptions) -> Result<Selection> {
        let file = &self.source;
        let weights = match &opts.weights {
            Some(w) => {
                let cols = self.resolve(w, "--weights")?;
                let [j] = cols[..] else {
                    bail!(
                        "{file}: --weights '{w}' names {} columns; weights are one column",
                        cols.len()
                    );
                };
                if let Kind::Unsupported(t) = &self.kinds[j] {
                    bail!(
                        "{file}: --weights column '{}' has type {t}, not a number",
                        self.names[j]
                    );
                }
                Some(j)
            }
            None => None,
        };
        let (features, explicit) = match &opts.columns {
            Some(cols) => {
                if cols.is_empty() {
                    bail!("{file}: --columns names no column");
                }
                let mut idx = Vec::with_capacity(cols.len());
                for c in cols {
                    for i in self.resolve(c, "--columns")? {
                        if idx.contains(&i) {
                            bail!(
                                "{file}: column '{}' is chosen twice in --columns",
                                self.names[i]
                            );
                        }
                        if Some(i) == weights {
                            bail!(
                                "{file}: column '{}' cannot be both a feature (--columns) and the weights (--weights)",
                                self.names[i]
                            );
                        }
                        if let Kind::Unsupported(t) = &self.kinds[i] {
                            bail!(
                                "{file}: column '{}' has type {t}, not a number or a fixed-size list of numbers",
                                self.names[i]
                            );
                        }
                        idx.push(i);
                    }
                }
                (idx, true)
            }
            None => (
                (0..self.len())
                    .filter(|&i| Some(i) != weights && self.kinds[i] == Kind::Number)
                    .collect(),
                false,
            ),
        };
        if features.is_empty() {
            let other: Vec<String> = (0..self.len())
                .filter(|&i| self.kinds[i] != Kind::Number)
                .map(|i| self.names[i].clone())
                .collect();
            if other.is_empty() {
                bail!("{file}: no feature columns left after taking out the weights");
            }
            bail!(
                "{file}: no numeric columns (text columns: {})",
                list_names(&other)
            );
        }
        Ok(Selection {
            features,
            weights,
            explicit,
        })
    }

    /// The notes for columns an automatic choice left out.
    pub fn skipped_notes(&self, sel: &Selection) -> Vec<String> {
        if sel.explicit {
            return Vec::new();
        }
        (0..self.len())
            .filter(|&i| Some(i) != sel.weights)
            .filter_map(|i| match &self.kinds[i] {
                Kind::Number => None,
                Kind::Text => Some(format!(
                    "skipping text column '{}' (use --columns to choose columns)",
                    self.names[i]
                )),
                Kind::Unsupported(t) => Some(format!(
                    "skipping column '{}' of type {t} (use --columns to choose columns)",
                    self.names[i]
                )),
            })
            .collect()
    }
}

/// A whole file as columns: what every reader returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The columns.
    pub schema: Schema,
    /// N × C values, one column per schema column (NaN where a cell is unusable or the
    /// column is not numeric); any memory layout.
    pub values: Array2<f64>,
    /// The first unusable cell of each column, in reading order.
    pub bad: Vec<Option<Bad>>,
    /// How rows are named in messages.
    pub rows: Rows,
    /// An NPZ array `y` of one value per row, when present.
    pub labels: Option<Array1<f64>>,
    /// Notes from reading (row names skipped, labels ignored); printed with the
    /// selection's notes.
    pub notes: Vec<String>,
}

impl Table {
    /// A table of a whole numeric array (NPY, an NPZ member): columns `x0, x1, …`, the
    /// first NaN or infinity of each column found by one scan.
    ///
    /// # Errors
    /// An array without rows or columns.
    pub fn from_array(
        source: &str,
        values: Array2<f64>,
        labels: Option<Array1<f64>>,
    ) -> Result<Table> {
        let (n, d) = values.dim();
        if n == 0 {
            bail!("{source}: no data rows (shape {n} × {d})");
        }
        if d == 0 {
            bail!("{source}: no columns (shape {n} × 0)");
        }
        let gaps = missing_allowed();
        let bad = values
            .axis_iter(Axis(1))
            .map(|c| {
                let unusable = |v: &f64| {
                    if gaps {
                        v.is_infinite()
                    } else {
                        !v.is_finite()
                    }
                };
                c.iter().position(unusable).map(|r| Bad {
                    row: r,
                    line: None,
                    value: c[r].to_string(),
                    problem: Problem::NonFinite(c[r]),
                })
            })
            .collect();
        Ok(Table {
            schema: Schema::array(source, d),
            values,
            bad,
            rows: Rows::Array,
            labels,
            notes: Vec::new(),
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.nrows()
    }

    /// Chooses the columns as `opts` says and builds the data set: every chosen value
    /// finite, weights checked. The table's notes and the selection's go to `notes`.
    ///
    /// # Errors
    /// As [`Schema::select`]; an unusable cell in a chosen column (the first in reading
    /// order, named by row and column); bad weights.
    pub fn into_dataset(self, opts: &ReadOptions, notes: &mut Vec<String>) -> Result<Dataset> {
        notes.extend(self.notes.iter().cloned());
        let sel = self.schema.select(opts)?;
        notes.extend(self.schema.skipped_notes(&sel));
        check_cells(&self.schema, &self.bad, &self.rows, &sel)?;
        let weights = match sel.weights {
            Some(j) => {
                check_weight_cells(&self.schema, &self.bad, &self.rows, j)?;
                let w = self.values.column(j).to_vec();
                check_weights(&self.schema.source, &self.schema.names[j], &w, |i| {
                    self.rows.weight_at(i)
                })?;
                Some(Array1::from(w))
            }
            None => None,
        };
        let identity = sel.features.len() == self.schema.len()
            && sel.features.iter().enumerate().all(|(i, &j)| i == j);
        let feature_names = sel
            .features
            .iter()
            .map(|&j| self.schema.names[j].clone())
            .collect();
        let mut x = if identity {
            self.values
        } else {
            self.values.select(Axis(1), &sel.features)
        };
        if !x.is_standard_layout() {
            x = x.as_standard_layout().into_owned();
        }
        Ok(Dataset {
            x,
            feature_names,
            weights,
            labels: self.labels,
        })
    }
}

/// The error for the unusable cell `b` of column `j`.
fn cell_error(schema: &Schema, rows: &Rows, j: usize, b: &Bad, explicit: bool) -> anyhow::Error {
    let (file, name) = (&schema.source, &schema.names[j]);
    let at = rows.at_bad(b);
    let col = rows.column(j, name);
    let v = &b.value;
    match &b.problem {
        Problem::Missing => anyhow!("{file}: missing value at {at}, {col}"),
        Problem::Infinite => anyhow!("{file}: infinite value '{v}' at {at}, {col}"),
        Problem::NonFinite(x) => anyhow!("{file}: non-finite value ({x}) at {at}, {col}"),
        Problem::Text if schema.kinds[j] == Kind::Text => {
            anyhow!("{file}: column '{name}' is not numeric: '{v}' at {at}")
        }
        Problem::Text => anyhow!(
            "{file}: non-numeric value '{v}' at {at}, {col}{}",
            if explicit {
                ""
            } else {
                " (use --columns to choose columns)"
            }
        ),
    }
}

/// Checks that no chosen feature column has an unusable cell: the error names the first
/// in reading order.
///
/// # Errors
/// That cell, by file, row (and line) and column.
pub fn check_cells(
    schema: &Schema,
    bad: &[Option<Bad>],
    rows: &Rows,
    sel: &Selection,
) -> Result<()> {
    let first = sel
        .features
        .iter()
        .filter_map(|&j| bad[j].as_ref().map(|b| (b.row, j, b)))
        .min_by_key(|&(r, j, _)| (r, j));
    match first {
        Some((_, j, b)) => Err(cell_error(schema, rows, j, b, sel.explicit)),
        None => Ok(()),
    }
}

/// Checks the weights column `j` for text and missing cells (non-finite and negative
/// weights are named by [`check_weights`] with the values).
///
/// # Errors
/// The first such cell.
pub fn check_weight_cells(
    schema: &Schema,
    bad: &[Option<Bad>],
    rows: &Rows,
    j: usize,
) -> Result<()> {
    if let Some(b) = &bad[j] {
        match b.problem {
            Problem::Text => bail!(
                "{}: weights column '{}' is not numeric: '{}' at {}",
                schema.source,
                schema.names[j],
                b.value,
                rows.at_bad(b)
            ),
            Problem::Missing => return Err(cell_error(schema, rows, j, b, true)),
            Problem::Infinite | Problem::NonFinite(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn schema(names: &[&str], kinds: Vec<Kind>) -> Schema {
        Schema {
            source: "f".into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            kinds,
            named: true,
            groups: Vec::new(),
        }
    }

    #[test]
    fn groups_resolve_as_a_whole() {
        let mut s = schema(
            &["id", "emb[0]", "emb[1]", "name"],
            vec![
                Kind::Number,
                Kind::Number,
                Kind::Number,
                Kind::Unsupported("Utf8".into()),
            ],
        );
        s.groups.push(("emb".into(), 1..3));
        assert_eq!(s.resolve("emb", "--columns").unwrap(), vec![1, 2]);
        assert_eq!(s.resolve("emb[1]", "--columns").unwrap(), vec![2]);
        let opts = ReadOptions {
            columns: Some(vec!["emb".into()]),
            ..Default::default()
        };
        assert_eq!(s.select(&opts).unwrap().features, vec![1, 2]);
        let opts = ReadOptions {
            columns: Some(vec!["name".into()]),
            ..Default::default()
        };
        let e = s.select(&opts).unwrap_err().to_string();
        assert!(e.contains("has type Utf8"), "{e}");
        let opts = ReadOptions {
            weights: Some("emb".into()),
            ..Default::default()
        };
        assert!(s
            .select(&opts)
            .unwrap_err()
            .to_string()
            .contains("2 columns"));
        let sel = s.select(&ReadOptions::default()).unwrap();
        assert_eq!(sel.features, vec![0, 1, 2]);
        assert_eq!(
            s.skipped_notes(&sel),
            ["skipping column 'name' of type Utf8 (use --columns to choose columns)"]
        );
    }

    /// Expected: the first bad cell in reading order among the chosen columns; bad cells
    /// elsewhere do not matter.
    #[test]
    fn bad_cells_only_in_chosen_columns() {
        let t = Table {
            schema: schema(&["a", "b", "c"], vec![Kind::Number; 3]),
            values: array![[1.0, f64::NAN, 3.0], [4.0, 5.0, f64::NAN]],
            bad: vec![
                None,
                Some(Bad {
                    row: 0,
                    line: Some(2),
                    value: "NA".into(),
                    problem: Problem::Missing,
                }),
                Some(Bad {
                    row: 1,
                    line: Some(3),
                    value: "x".into(),
                    problem: Problem::Text,
                }),
            ],
            rows: Rows::Lines(vec![2, 3]),
            labels: None,
            notes: Vec::new(),
        };
        let mut notes = Vec::new();
        let e = t
            .clone()
            .into_dataset(&ReadOptions::default(), &mut notes)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f: missing value at row 1 (line 2), column 'b'");
        let opts = ReadOptions {
            columns: Some(vec!["c".into(), "a".into()]),
            ..Default::default()
        };
        let e = t
            .clone()
            .into_dataset(&opts, &mut notes)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f: non-numeric value 'x' at row 2 (line 3), column 'c'");
        let opts = ReadOptions {
            columns: Some(vec!["a".into()]),
            ..Default::default()
        };
        let d = t.into_dataset(&opts, &mut notes).unwrap();
        assert_eq!(d.x, array![[1.0], [4.0]]);
    }
}
