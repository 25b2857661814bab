//! Delimited text as people, R and pandas write it.
//!
//! - The delimiter is sniffed from the first lines: comma, tab or semicolon (then a
//!   decimal comma `1,5` is accepted too, as R's `write.csv2` writes it), or runs of
//!   whitespace (`numpy.savetxt`'s default). Lines starting with `#` are comments.
//! - A header is optional: a first row made only of numbers and missing values is data,
//!   and the columns are named `x0, x1, ...`. Header names may be quoted.
//! - An unnamed first column (empty header cell, as R's `write.csv` and pandas'
//!   `to_csv` write it) holds row names and is skipped; so is the first column when the
//!   header has one field fewer than the rows (R's `write.table`).
//! - Text columns are skipped with a note, unless chosen with `--columns`.
//! - Missing (`NA`, `NaN`, empty, ...) and infinite values are errors naming the data row
//!   (1-based), the line of the file and the column.
//! - A UTF-8 byte-order mark and `\r\n` line endings are fine.

use std::io::{BufRead, BufReader, Read};

use ::csv::{ByteRecord, ReaderBuilder};
use anyhow::{anyhow, bail, Result};
use ndarray::{Array1, Array2};

use super::table::{self, Dataset, Kind, Problem, ReadOptions, Rows, Schema, Table};

/// How many bytes are looked at to sniff the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    /// One byte: `,`, `\t` or `;`.
    Byte(u8),
    /// Runs of spaces and tabs.
    Whitespace,
}

/// What one cell holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A finite number.
    Number(f64),
    /// Empty, `NA`, `NaN` and the like.
    Missing,
    /// `inf`, `-Inf`, or a number too large for f64.
    Infinite,
    /// Anything else.
    Text,
}

/// Spellings of a missing value (besides the empty cell and what parses as NaN).
const MISSING: &[&str] = &[
    "NA", "N/A", "n/a", "na", "<NA>", "null", "NULL", "Null", "None", "none", "nan", "NaN", "NAN",
    "-nan", "-NaN", "#N/A",
];

/// Classifies one cell. `decimal_comma`: also accept `1,5` for 1.5.
pub fn parse_cell(raw: &[u8], decimal_comma: bool) -> (Cell, f64) {
    let Ok(s) = std::str::from_utf8(raw) else {
        return (Cell::Text, f64::NAN);
    };
    let s = s.trim();
    let parsed = match s.parse::<f64>() {
        Ok(v) => Some(v),
        Err(_) if s.is_empty() || MISSING.contains(&s) => return (Cell::Missing, f64::NAN),
        Err(_) if decimal_comma && s.contains(',') && !s.contains('.') => {
            s.replace(',', ".").parse::<f64>().ok()
        }
        Err(_) => None,
    };
    match parsed {
        Some(v) if v.is_finite() => (Cell::Number(v), v),
        Some(v) if v.is_nan() => (Cell::Missing, f64::NAN),
        Some(v) => (Cell::Infinite, v),
        None => (Cell::Text, f64::NAN),
    }
}

/// Counts `d` outside double quotes in `line`.
fn count_outside_quotes(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

/// Guesses the delimiter from the start of the file. `complete`: `prefix` is the whole
/// file (so its last line is whole).
pub fn sniff_delimiter(prefix: &[u8], complete: bool, default: u8) -> Delim {
    let mut lines: Vec<&[u8]> = prefix.split(|&b| b == b'\n').collect();
    if !complete && lines.len() > 1 {
        lines.pop();
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .take(20)
        .collect();
    if lines.is_empty() {
        return Delim::Byte(default);
    }
    let candidates = [b',', b'\t', b';'];
    let mut best: Option<(u8, usize)> = None;
    for &d in &candidates {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        if counts[0] > 0
            && counts.iter().all(|&c| c == counts[0])
            && best.is_none_or(|(_, n)| counts[0] > n)
        {
            best = Some((d, counts[0]));
        }
    }
    if let Some((d, _)) = best {
        return Delim::Byte(d);
    }
    // Nothing consistent (ragged rows, which the reader reports): the most frequent
    // candidate on the first line, among those the later lines use too. One that only the
    // first line has is part of a header name of a single-column file (`a;b` over rows of
    // plain numbers).
    for &d in &candidates {
        let n = count_outside_quotes(lines[0], d);
        let later = lines.len() == 1 || lines[1..].iter().any(|l| count_outside_quotes(l, d) > 0);
        if n > 0 && later && best.is_none_or(|(_, m)| n > m) {
            best = Some((d, n));
        }
    }
    if let Some((d, _)) = best {
        return Delim::Byte(d);
    }
    // Whitespace: the same number of fields on every line, but the first line may have
    // one fewer (R's write.table header, without a cell for the row names).
    let words: Vec<usize> = lines.iter().map(|l| count_whitespace_fields(l)).collect();
    let w = *words.get(1).unwrap_or(&words[0]);
    if w > 1 && (words[0] == w || words[0] + 1 == w) && words[1..].iter().all(|&x| x == w) {
        return Delim::Whitespace;
    }
    Delim::Byte(default)
}

/// Splits a line on runs of whitespace; a double-quoted field may hold spaces (`""` is a
/// quote inside it).
fn split_whitespace_fields(line: &[u8], mut field: impl FnMut(&[u8])) {
    let mut i = 0;
    let mut buf = Vec::new();
    while i < line.len() {
        if line[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if line[i] == b'"' {
            buf.clear();
            i += 1;
            while i < line.len() {
                if line[i] == b'"' {
                    if line.get(i + 1) == Some(&b'"') {
                        buf.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                buf.push(line[i]);
                i += 1;
            }
            field(&buf);
        } else {
            let start = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            field(&line[start..i]);
        }
    }
}

fn count_whitespace_fields(line: &[u8]) -> usize {
    let mut n = 0;
    split_whitespace_fields(line, |_| n += 1);
    n
}

/// Line numbers from byte offsets: the csv crate's own line count is off after `\r\n`,
/// blank and comment lines, so the reader is wrapped to note where each newline is.
#[derive(Debug, Default)]
struct NewlineLog {
    /// Offsets of newlines read but not yet passed by a record.
    pending: std::collections::VecDeque<u64>,
    /// Bytes read so far.
    read: u64,
    /// Newlines already passed.
    passed: u64,
}

impl NewlineLog {
    /// The 1-based line of the byte at `offset` (offsets must not decrease).
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&o| o < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A reader that logs newline offsets into a shared [`NewlineLog`].
struct LineCounting<R> {
    inner: R,
    log: std::sync::Arc<std::sync::Mutex<NewlineLog>>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let base = log.read;
        log.pending.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| base + i as u64),
        );
        log.read += n as u64;
        Ok(n)
    }
}

/// A source of records with their line numbers.
enum Records<R: Read> {
    Csv {
        reader: ::csv::Reader<LineCounting<R>>,
        log: std::sync::Arc<std::sync::Mutex<NewlineLog>>,
    },
    Whitespace {
        reader: BufReader<R>,
        line: u64,
        buf: Vec<u8>,
    },
}

impl<R: Read> Records<R> {
    /// Reads the next record into `rec`; returns its (1-based) line, or `None` at the end.
    fn next(&mut self, file: &str, rec: &mut ByteRecord) -> Result<Option<u64>> {
        match self {
            Records::Csv { reader, log } => {
                if !reader
                    .read_byte_record(rec)
                    .map_err(|e| csv_error(file, &e))?
                {
                    return Ok(None);
                }
                // The record's own start position is not reliable (it points before
                // skipped blank and comment lines), but the reader's position after it is:
                // the record ends on the line of its last byte, and starts as many lines
                // earlier as its quoted fields hold newlines.
                let end = reader.position().byte();
                let inner: u64 = rec
                    .iter()
                    .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
                    .sum();
                let last = log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .line_of(end.saturating_sub(1));
                Ok(Some(last.saturating_sub(inner).max(1)))
            }
            Records::Whitespace { reader, line, buf } => loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', buf)
                    .map_err(|e| anyhow!("{file}: cannot read: {e}"))?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                let l = buf.trim_ascii();
                if l.is_empty() || l.starts_with(b"#") {
                    continue;
                }
                rec.clear();
                split_whitespace_fields(l, |f| rec.push_field(f));
                return Ok(Some(*line));
            },
        }
    }
}

fn csv_error(file: &str, e: &::csv::Error) -> anyhow::Error {
    anyhow!("{file}: cannot read: {e}")
}

/// A problem cell of a column.
#[derive(Debug, Clone)]
struct Bad {
    /// 0-based data row.
    row: usize,
    line: u64,
    value: String,
}

/// What was seen in one column.
#[derive(Debug, Clone)]
struct ColStat {
    numbers: usize,
    first_text: Option<Bad>,
    first_missing: Option<Bad>,
    first_infinite: Option<Bad>,
    row_numbers_1: bool,
    row_numbers_0: bool,
}

impl ColStat {
    fn new() -> ColStat {
        ColStat {
            numbers: 0,
            first_text: None,
            first_missing: None,
            first_infinite: None,
            row_numbers_1: true,
            row_numbers_0: true,
        }
    }

    /// A column of text: no number at all and some text.
    fn is_text(&self) -> bool {
        self.numbers == 0 && self.first_text.is_some()
    }

    /// The first unusable cell, in reading order.
    fn first_bad(&self) -> Option<table::Bad> {
        [
            (&self.first_text, Problem::Text),
            (&self.first_missing, Problem::Missing),
            (&self.first_infinite, Problem::Infinite),
        ]
        .into_iter()
        .filter(|(_, p)| !(*p == Problem::Missing && table::missing_allowed()))
        .filter_map(|(b, p)| b.as_ref().map(|b| (b, p)))
        .min_by_key(|(b, _)| b.row)
        .map(|(b, p)| table::Bad {
            row: b.row,
            line: Some(b.line),
            value: b.value.clone(),
            problem: p,
        })
    }
}

/// A reader after sniffing: the sniffed prefix, then the rest.
type Sniffed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// The records of a delimited file opened for streaming.
type FileRecords = Records<Sniffed<BufReader<std::fs::File>>>;

/// What a scan tells of the columns: the schema, each column's first bad cell, the
/// reading notes, and the index of the first field that is a column.
type Scanned = (Schema, Vec<Option<table::Bad>>, Vec<String>, usize);

/// The records of delimited text, sniffed: `file` names it in messages;
/// `default_delim` is used when sniffing finds nothing (a single column). Returns the
/// records and whether a decimal comma is accepted.
fn open_records<R: Read>(
    file: &str,
    mut reader: R,
    default_delim: u8,
) -> Result<(Records<Sniffed<R>>, bool)> {
    let mut prefix = Vec::new();
    (&mut reader)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| anyhow!("{file}: cannot read: {e}"))?;
    let complete = prefix.len() < SNIFF_BYTES;
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        prefix.drain(..3);
    }
    let delim = sniff_delimiter(&prefix, complete, default_delim);
    let stream = std::io::Cursor::new(prefix).chain(reader);
    let records = match delim {
        Delim::Byte(d) => {
            let log = std::sync::Arc::new(std::sync::Mutex::new(NewlineLog::default()));
            let counting = LineCounting {
                inner: stream,
                log: log.clone(),
            };
            Records::Csv {
                reader: ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(d)
                    .comment(Some(b'#'))
                    .from_reader(counting),
                log,
            }
        }
        Delim::Whitespace => Records::Whitespace {
            reader: BufReader::new(stream),
            line: 0,
            buf: Vec::new(),
        },
    };
    Ok((records, delim == Delim::Byte(b';')))
}

/// Reads delimited text from `reader` into a [`Dataset`]. `file` names it in messages;
/// `default_delim` is used when sniffing finds nothing (a single column).
///
/// # Errors
/// As [`read_csv_table`] and [`Table::into_dataset`].
pub fn read_csv(
    file: &str,
    reader: impl Read,
    default_delim: u8,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset> {
    read_csv_table(file, reader, default_delim)?.into_dataset(opts, notes)
}

/// Reads delimited text from `reader` into a [`Table`] of every column (row names
/// dropped).
///
/// # Errors
/// An unreadable or empty file, a ragged row.
pub fn read_csv_table(file: &str, reader: impl Read, default_delim: u8) -> Result<Table> {
    let (mut records, decimal_comma) = open_records(file, reader, default_delim)?;
    let (layout, mut scan) = Scan::all(file, &mut records, decimal_comma, true)?;
    let (schema, bad, notes, first_data) = scan.schema(file, &layout)?;
    let nrows = scan.lines.len();
    let values = Array2::from_shape_vec((nrows, layout.ncols), std::mem::take(&mut scan.values))
        .map_err(|e| anyhow!("{file}: internal shape error: {e}"))?;
    let values = if first_data > 0 {
        values.slice_move(ndarray::s![.., first_data..])
    } else {
        values
    };
    Ok(Table {
        schema,
        values,
        bad,
        rows: Rows::Lines(scan.lines),
        labels: None,
        notes,
    })
}

/// Whether a record is one blank field (a line of spaces).
fn is_blank(rec: &ByteRecord) -> bool {
    rec.len() == 1 && rec[0].trim_ascii().is_empty()
}

/// The shape of a delimited file, from its first two records: the column names, and
/// whether there is a header.
#[derive(Debug, Clone)]
struct Layout {
    /// Every field's name (an empty name for row names).
    names: Vec<String>,
    ncols: usize,
    has_header: bool,
    /// What a ragged row is compared with, for messages.
    expected: String,
    /// An unnamed first column, which may hold row names.
    index_candidate: bool,
}

impl Layout {
    /// Reads the first two records; returns the layout and the data records among them
    /// (with their lines).
    fn read<R: Read>(
        file: &str,
        records: &mut Records<R>,
        decimal_comma: bool,
    ) -> Result<(Layout, Vec<(ByteRecord, u64)>)> {
        let mut first = ByteRecord::new();
        let Some(first_line) = next_nonblank(file, records, &mut first)? else {
            bail!("{file}: no data rows (the file is empty)");
        };
        let mut second = ByteRecord::new();
        let second_line = next_nonblank(file, records, &mut second)?;
        let first_cells: Vec<Cell> = first
            .iter()
            .map(|f| parse_cell(f, decimal_comma).0)
            .collect();
        let has_header = if !first_cells.contains(&Cell::Text) {
            false
        } else if !first_cells.iter().any(|c| matches!(c, Cell::Number(_))) {
            true
        } else {
            // Numbers and text on the first row: a header if some column is text there
            // and a number on the next row (otherwise it is a row of data with text
            // columns).
            match second_line {
                None => true,
                Some(_) => first_cells.iter().enumerate().any(|(j, c)| {
                    *c == Cell::Text
                        && second.get(j).is_some_and(|f| {
                            matches!(parse_cell(f, decimal_comma).0, Cell::Number(_))
                        })
                }),
            }
        };
        let mut names: Vec<String>;
        let header_line;
        if has_header {
            names = first
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect();
            header_line = Some(first_line);
            // R's write.table: the header has no cell for the row names.
            if second_line.is_some() && second.len() == names.len() + 1 {
                names.insert(0, String::new());
            }
        } else {
            names = (0..first.len()).map(|j| format!("x{j}")).collect();
            header_line = None;
        }
        let ncols = names.len();
        let expected = match (header_line, names.len() > first.len()) {
            (Some(h), false) => format!("the header (line {h}) has {ncols}"),
            (Some(h), true) => format!(
                "the header (line {h}) has {} and the rows have row names before them",
                ncols - 1
            ),
            (None, _) => format!("the first row (line {first_line}) has {ncols}"),
        };
        let index_candidate = has_header && ncols > 1 && names[0].is_empty();
        let mut data = Vec::new();
        if !has_header {
            data.push((first, first_line));
        }
        if let Some(l) = second_line {
            data.push((second, l));
        }
        Ok((
            Layout {
                names,
                ncols,
                has_header,
                expected,
                index_candidate,
            },
            data,
        ))
    }

    /// Checks a data record's width.
    fn check_width(&self, file: &str, r: &ByteRecord, line: u64) -> Result<()> {
        if r.len() != self.ncols {
            bail!(
                "{file}: line {line} has {} fields, but {}",
                r.len(),
                self.expected
            );
        }
        Ok(())
    }
}

/// What was seen in the columns, and (optionally) the values.
struct Scan {
    stats: Vec<ColStat>,
    keep: bool,
    values: Vec<f64>,
    lines: Vec<u64>,
    nrows: usize,
}

impl Scan {
    fn new(ncols: usize, keep: bool) -> Scan {
        Scan {
            stats: vec![ColStat::new(); ncols],
            keep,
            values: Vec::new(),
            lines: Vec::new(),
            nrows: 0,
        }
    }

    /// Reads every record: the layout, and what was seen (the values too with `keep`).
    fn all<R: Read>(
        file: &str,
        records: &mut Records<R>,
        decimal_comma: bool,
        keep: bool,
    ) -> Result<(Layout, Scan)> {
        let (layout, first) = Layout::read(file, records, decimal_comma)?;
        let mut scan = Scan::new(layout.ncols, keep);
        for (r, line) in &first {
            scan.push(file, &layout, r, *line, decimal_comma)?;
        }
        let mut rec = ByteRecord::new();
        while let Some(line) = next_nonblank(file, records, &mut rec)? {
            scan.push(file, &layout, &rec, line, decimal_comma)?;
        }
        Ok((layout, scan))
    }

    fn push(
        &mut self,
        file: &str,
        layout: &Layout,
        r: &ByteRecord,
        line: u64,
        decimal_comma: bool,
    ) -> Result<()> {
        layout.check_width(file, r, line)?;
        let row = self.nrows;
        for (j, f) in r.iter().enumerate() {
            let (cell, v) = parse_cell(f, decimal_comma);
            let st = &mut self.stats[j];
            let slot = match cell {
                Cell::Number(_) => {
                    st.numbers += 1;
                    None
                }
                Cell::Missing => Some(&mut st.first_missing),
                Cell::Infinite => Some(&mut st.first_infinite),
                Cell::Text => Some(&mut st.first_text),
            };
            if let Some(slot @ None) = slot {
                *slot = Some(Bad {
                    row,
                    line,
                    value: String::from_utf8_lossy(f).trim().to_string(),
                });
            }
            st.row_numbers_1 &= v == (row + 1) as f64;
            st.row_numbers_0 &= v == row as f64;
            if self.keep {
                self.values.push(v);
            }
        }
        if self.keep {
            self.lines.push(line);
        }
        self.nrows += 1;
        Ok(())
    }

    /// The columns that can be chosen (all but the row names), their kinds and first
    /// bad cells, the reading notes, and the index of the first such field.
    fn schema(&self, file: &str, layout: &Layout) -> Result<Scanned> {
        if self.nrows == 0 {
            bail!("{file}: no data rows (only a header)");
        }
        let mut notes = Vec::new();
        let first_data = if layout.index_candidate {
            let st = &self.stats[0];
            let row_numbers = st.numbers == self.nrows && (st.row_numbers_1 || st.row_numbers_0);
            if !row_numbers {
                notes.push("skipping the unnamed first column (row names)".to_string());
            }
            1
        } else {
            0
        };
        let cols = first_data..layout.ncols;
        let names: Vec<String> = cols
            .clone()
            .enumerate()
            .map(|(k, j)| {
                if layout.names[j].is_empty() {
                    format!("x{k}")
                } else {
                    layout.names[j].clone()
                }
            })
            .collect();
        let kinds = cols
            .clone()
            .map(|j| {
                if self.stats[j].is_text() {
                    Kind::Text
                } else {
                    Kind::Number
                }
            })
            .collect();
        let bad = cols.map(|j| self.stats[j].first_bad()).collect();
        let schema = Schema {
            source: file.to_string(),
            names,
            kinds,
            named: layout.has_header,
            groups: Vec::new(),
        };
        Ok((schema, bad, notes, first_data))
    }
}

/// A delimited text file streamed in chunks of rows, read again for every pass: one
/// scan at opening learns the columns (kinds, the first bad cell of each, so the errors
/// are those of the in-memory reader) without keeping any value; memory is bounded by
/// the chunk.
pub struct CsvSource {
    path: String,
    default_delim: u8,
    layout: Layout,
    decimal_comma: bool,
    /// Field index of each feature, and of the weights.
    features: Vec<usize>,
    weights: Option<usize>,
    names: Vec<String>,
    n_rows: usize,
    chunk_rows: usize,
    records: Option<FileRecords>,
    pending: Vec<(ByteRecord, u64)>,
    row: usize,
    rec: ByteRecord,
}

impl CsvSource {
    /// Opens `path`, scans it once, and chooses its columns as `opts` says.
    ///
    /// # Errors
    /// As the in-memory reader: an unreadable or empty file, a ragged row, a bad cell in
    /// a chosen column, bad column choices. Notes go to `notes`.
    pub fn open(
        path: &str,
        opts: &ReadOptions,
        chunk_rows: usize,
        notes: &mut Vec<String>,
    ) -> Result<CsvSource> {
        let default_delim = if path.to_ascii_lowercase().ends_with(".tsv") {
            b'\t'
        } else {
            b','
        };
        let (mut records, decimal_comma) = Self::records(path, default_delim)?;
        let (layout, scan) = Scan::all(path, &mut records, decimal_comma, false)?;
        let (schema, bad, read_notes, first_data) = scan.schema(path, &layout)?;
        notes.extend(read_notes);
        let sel = schema.select(opts)?;
        notes.extend(schema.skipped_notes(&sel));
        table::check_cells(&schema, &bad, &Rows::Lines(Vec::new()), &sel)?;
        if let Some(j) = sel.weights {
            table::check_weight_cells(&schema, &bad, &Rows::Lines(Vec::new()), j)?;
        }
        Ok(CsvSource {
            path: path.to_string(),
            default_delim,
            layout,
            decimal_comma,
            features: sel.features.iter().map(|&k| k + first_data).collect(),
            weights: sel.weights.map(|k| k + first_data),
            names: sel
                .features
                .iter()
                .map(|&k| schema.names[k].clone())
                .collect(),
            n_rows: scan.nrows,
            chunk_rows: chunk_rows.max(1),
            records: None,
            pending: Vec::new(),
            row: 0,
            rec: ByteRecord::new(),
        })
    }

    fn records(path: &str, default_delim: u8) -> Result<(FileRecords, bool)> {
        let file = std::fs::File::open(path).map_err(|e| anyhow!("cannot open {path}: {e}"))?;
        open_records(path, BufReader::new(file), default_delim)
    }

    /// Feature names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Data rows in the file.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn value(&self, rec: &ByteRecord, j: usize, line: u64, what: &str) -> Result<f64> {
        match parse_cell(&rec[j], self.decimal_comma) {
            (Cell::Number(v), _) => Ok(v),
            (Cell::Missing, _) if table::missing_allowed() => Ok(f64::NAN),
            _ => bail!(
                "{}: {what} '{}' at row {} (line {line}), column '{}' (did the file change while the fit ran?)",
                self.path,
                String::from_utf8_lossy(&rec[j]).trim(),
                self.row + 1,
                self.layout.names[j]
            ),
        }
    }

    fn chunk(&mut self) -> Result<Option<gaussmix::Chunk>> {
        let Some(mut records) = self.records.take() else {
            return Ok(None);
        };
        let r = self.fill(&mut records);
        if matches!(r, Ok(Some(_))) {
            self.records = Some(records);
        }
        r
    }

    fn fill(&mut self, records: &mut FileRecords) -> Result<Option<gaussmix::Chunk>> {
        let d = self.features.len();
        let mut x = Vec::with_capacity(self.chunk_rows * d);
        let mut w = Vec::new();
        let mut n = 0;
        while n < self.chunk_rows {
            let (rec, line) = if let Some(p) = self.pending.pop() {
                p
            } else {
                match next_nonblank(&self.path, records, &mut self.rec)? {
                    Some(line) => (std::mem::take(&mut self.rec), line),
                    None => break,
                }
            };
            self.layout.check_width(&self.path, &rec, line)?;
            for &j in &self.features {
                x.push(self.value(&rec, j, line, "unusable value")?);
            }
            if let Some(j) = self.weights {
                let v = self.value(&rec, j, line, "unusable weight")?;
                if v < 0.0 {
                    bail!(
                        "{}: negative weight {v} at row {} (line {line}), column '{}'",
                        self.path,
                        self.row + 1,
                        self.layout.names[j]
                    );
                }
                w.push(v);
            }
            self.rec = rec;
            self.row += 1;
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        let x = Array2::from_shape_vec((n, d), x)
            .map_err(|e| anyhow!("{}: internal shape error: {e}", self.path))?;
        let weights = self.weights.map(|_| Array1::from(w));
        Ok(Some(gaussmix::Chunk { x, weights }))
    }
}

impl gaussmix::RowSource for CsvSource {
    fn n_features(&self) -> usize {
        self.features.len()
    }

    fn reset(&mut self) -> gaussmix::Result<()> {
        let err = |e: anyhow::Error| gaussmix::GmmError::Source {
            reason: format!("{e:#}"),
        };
        let (mut records, _) = Self::records(&self.path, self.default_delim).map_err(err)?;
        let (_, mut first) =
            Layout::read(&self.path, &mut records, self.decimal_comma).map_err(err)?;
        first.reverse(); // popped from the back
        self.pending = first;
        self.records = Some(records);
        self.row = 0;
        Ok(())
    }

    fn next_chunk(&mut self) -> gaussmix::Result<Option<gaussmix::Chunk>> {
        self.chunk().map_err(|e| gaussmix::GmmError::Source {
            reason: format!("{e:#}"),
        })
    }
}

/// The next record that is not a blank line.
fn next_nonblank<R: Read>(
    file: &str,
    records: &mut Records<R>,
    rec: &mut ByteRecord,
) -> Result<Option<u64>> {
    loop {
        match records.next(file, rec)? {
            Some(_) if is_blank(rec) => continue,
            other => return Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_dataset_notes;
    use super::*;
    use ndarray::array;

    const FAITHFUL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/faithful.csv");
    const IRIS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/iris.csv");

    fn read(text: &str, opts: &ReadOptions) -> Result<(Dataset, Vec<String>)> {
        read_bytes(text.as_bytes(), opts)
    }

    fn read_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<(Dataset, Vec<String>)> {
        let mut notes = Vec::new();
        let d = read_csv("t.csv", bytes, b',', opts, &mut notes)?;
        Ok((d, notes))
    }

    fn ok(text: &str) -> Dataset {
        read(text, &ReadOptions::default()).unwrap().0
    }

    fn err(text: &str) -> String {
        err_with(text, &ReadOptions::default())
    }

    fn err_with(text: &str, opts: &ReadOptions) -> String {
        format!("{:#}", read(text, opts).unwrap_err())
    }

    fn cols(v: &[&str]) -> ReadOptions {
        ReadOptions {
            columns: Some(v.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn weights(w: &str) -> ReadOptions {
        ReadOptions {
            weights: Some(w.to_string()),
            ..Default::default()
        }
    }

    fn names(d: &Dataset) -> Vec<&str> {
        d.feature_names.iter().map(|s| s.as_str()).collect()
    }

    #[test]
    fn faithful_as_r_writes_it() {
        let mut notes = Vec::new();
        let d = read_dataset_notes(FAITHFUL, &ReadOptions::default(), &mut notes).unwrap();
        assert_eq!(d.x.dim(), (272, 2));
        assert_eq!(names(&d), ["eruptions", "waiting"]);
        assert_eq!(d.x.row(0), array![3.6, 79.0]);
        assert_eq!(d.x.row(271), array![4.467, 74.0]);
        assert!(d.x.is_standard_layout());
        assert!(d.weights.is_none() && d.labels.is_none());
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn faithful_columns_and_weights() {
        let mut notes = Vec::new();
        let d = read_dataset_notes(FAITHFUL, &cols(&["waiting"]), &mut notes).unwrap();
        assert_eq!(d.x.dim(), (272, 1));
        assert_eq!(d.x[[0, 0]], 79.0);
        // Indices count the columns after the row-name column.
        let d = read_dataset_notes(FAITHFUL, &cols(&["1", "0"]), &mut notes).unwrap();
        assert_eq!(names(&d), ["waiting", "eruptions"]);
        let d = read_dataset_notes(FAITHFUL, &weights("eruptions"), &mut notes).unwrap();
        assert_eq!(names(&d), ["waiting"]);
        assert_eq!(d.weights.as_ref().unwrap()[0], 3.6);
        assert_eq!(d.weights.as_ref().unwrap().len(), 272);
    }

    #[test]
    fn iris_skips_species_with_a_note() {
        let mut notes = Vec::new();
        let d = read_dataset_notes(IRIS, &ReadOptions::default(), &mut notes).unwrap();
        assert_eq!(d.x.dim(), (150, 4));
        assert_eq!(
            names(&d),
            ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
        );
        assert_eq!(d.x.row(0), array![5.1, 3.5, 1.4, 0.2]);
        assert_eq!(d.x.row(149), array![5.9, 3.0, 5.1, 1.8]);
        assert_eq!(
            notes,
            ["skipping text column 'Species' (use --columns to choose columns)"]
        );
        // Quiet: read_dataset prints nothing, and the data is the same.
        let quiet = ReadOptions {
            quiet: true,
            ..Default::default()
        };
        assert_eq!(super::super::read_dataset(IRIS, &quiet).unwrap().x, d.x);
    }

    #[test]
    fn iris_chosen_columns() {
        let mut notes = Vec::new();
        let d =
            read_dataset_notes(IRIS, &cols(&["Petal.Width", "Sepal.Length"]), &mut notes).unwrap();
        assert_eq!(names(&d), ["Petal.Width", "Sepal.Length"]);
        assert_eq!(d.x.row(0), array![0.2, 5.1]);
        assert!(notes.is_empty(), "chosen columns: no note: {notes:?}");
        let e = read_dataset_notes(IRIS, &cols(&["Sepal.Length", "Species"]), &mut notes)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("{IRIS}: column 'Species' is not numeric: 'setosa' at row 1 (line 2)")
        );
        let e = read_dataset_notes(IRIS, &cols(&["4"]), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 'Species' is not numeric"), "{e}");
        let e = read_dataset_notes(IRIS, &cols(&["Sepal.Length", "petal"]), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "no column 'petal' (from --columns); the columns are: Sepal.Length, Sepal.Width, Petal.Length, Petal.Width, Species"
            ),
            "{e}"
        );
        let e = read_dataset_notes(IRIS, &weights("Species"), &mut notes)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("weights column 'Species' is not numeric: 'setosa' at row 1 (line 2)"),
            "{e}"
        );
    }

    #[test]
    fn no_header_means_x_names() {
        let d = ok("1,2\n3,4\n");
        assert_eq!(names(&d), ["x0", "x1"]);
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        // Missing values on the first row do not make it a header.
        let e = err("1,NA\n3,4\n");
        assert_eq!(e, "t.csv: missing value at row 1 (line 1), column 'x1'");
        // A data row with a text column (iris without header) is data, not a header.
        let (d, notes) = read("5.1,setosa\n4.9,setosa\n", &ReadOptions::default()).unwrap();
        assert_eq!(names(&d), ["x0"]);
        assert_eq!(d.x, array![[5.1], [4.9]]);
        assert_eq!(
            notes,
            ["skipping text column 'x1' (use --columns to choose columns)"]
        );
        // Index selection without header.
        let (d, _) = read("1,2,3\n4,5,6\n", &cols(&["2", "x0"])).unwrap();
        assert_eq!(d.x, array![[3.0, 1.0], [6.0, 4.0]]);
    }

    #[test]
    fn quoted_header_crlf_and_bom() {
        let d = ok("\u{feff}\"a\",\"b c\"\r\n1,2\r\n3,4\r\n");
        assert_eq!(names(&d), ["a", "b c"]);
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        // Line numbers count correctly with \r\n.
        let e = err("\u{feff}\"a\",\"b\"\r\n1,2\r\n3,\r\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 3), column 'b'");
        // Header of one column that starts right after the BOM.
        let d = ok("\u{feff}w\n1\n2\n");
        assert_eq!(names(&d), ["w"]);
    }

    #[test]
    fn index_columns_are_skipped() {
        // R write.csv
        let (d, notes) = read(
            "\"\",\"a\",\"b\"\n\"1\",1.5,2\n\"2\",3,4\n",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(names(&d), ["a", "b"]);
        assert_eq!(d.x, array![[1.5, 2.0], [3.0, 4.0]]);
        assert!(notes.is_empty());
        // pandas to_csv: 0-based index, empty header cell.
        let (d, notes) = read(",a,b\n0,1,2\n1,3,4\n", &ReadOptions::default()).unwrap();
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        assert!(notes.is_empty());
        // Row names that are not row numbers: skipped with a note.
        let (d, notes) = read(
            ",mpg,cyl\nMazda RX4,21,6\nDatsun 710,22.8,4\n",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(names(&d), ["mpg", "cyl"]);
        assert_eq!(d.x, array![[21.0, 6.0], [22.8, 4.0]]);
        assert_eq!(notes, ["skipping the unnamed first column (row names)"]);
        let (d, notes) = read(",a\n5,1\n7,3\n", &ReadOptions::default()).unwrap();
        assert_eq!(d.x, array![[1.0], [3.0]]);
        assert_eq!(notes.len(), 1);
        // R write.table: the header has no cell for the row names.
        let d = ok("\"a\" \"b\"\n\"1\" 1 2\n\"2\" 3 4\n");
        assert_eq!(names(&d), ["a", "b"]);
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        // An unnamed column elsewhere is data, named by its position.
        let d = ok("a,,c\n1,2,3\n");
        assert_eq!(names(&d), ["a", "x1", "c"]);
    }

    #[test]
    fn missing_and_infinite_values() {
        let head = "\"\",\"eruptions\",\"waiting\"\n\"1\",3.6,79\n\"2\",1.8,54\n";
        for bad in ["NA", "", "NaN", "nan", "  ", "\"\"", "null", "N/A"] {
            let e = err(&format!("{head}\"3\",3.3,{bad}\n\"4\",2.2,62\n"));
            assert_eq!(
                e, "t.csv: missing value at row 3 (line 4), column 'waiting'",
                "{bad:?}"
            );
        }
        for bad in ["inf", "-inf", "Inf", "-Inf", "Infinity", "1e400"] {
            let e = err(&format!("{head}\"3\",3.3,{bad}\n"));
            assert_eq!(
                e,
                format!("t.csv: infinite value '{bad}' at row 3 (line 4), column 'waiting'")
            );
        }
        // The first bad cell in reading order is reported.
        let e = err("a,b\n1,2\n3,NA\nNA,5\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 3), column 'b'");
        let e = err("a,b\n1,2\nNA,inf\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 3), column 'a'");
        // A missing value in an unchosen column is fine.
        let (d, _) = read("a,b\n1,NA\n3,4\n", &cols(&["a"])).unwrap();
        assert_eq!(d.x, array![[1.0], [3.0]]);
        // An all-missing column is an error, not a text column.
        let e = err("a,b\n1,NA\n3,NA\n");
        assert_eq!(e, "t.csv: missing value at row 1 (line 2), column 'b'");
    }

    #[test]
    fn non_numeric_values() {
        let e = err("a,b\n1,2\n3,4\n5,3..6\n");
        assert_eq!(
            e,
            "t.csv: non-numeric value '3..6' at row 3 (line 4), column 'b' (use --columns to choose columns)"
        );
        let e = err_with("a,b\n1,2\n3,x\n", &cols(&["b"]));
        assert_eq!(
            e,
            "t.csv: non-numeric value 'x' at row 2 (line 3), column 'b'"
        );
        // Bytes that are not UTF-8 are text.
        let (d, notes) =
            read_bytes(b"a,b\n1,caf\xe9\n2,th\xe9\n", &ReadOptions::default()).unwrap();
        assert_eq!(d.x, array![[1.0], [2.0]]);
        assert_eq!(notes.len(), 1);
        let e = err("name,city\nbob,paris\nann,rome\n");
        assert_eq!(e, "t.csv: no numeric columns (text columns: name, city)");
    }

    #[test]
    fn ragged_rows() {
        let e = err("a,b\n1,2\n3\n");
        assert_eq!(
            e,
            "t.csv: line 3 has 1 fields, but the header (line 1) has 2"
        );
        let e = err("a,b\n1,2\n3,4,5\n");
        assert_eq!(
            e,
            "t.csv: line 3 has 3 fields, but the header (line 1) has 2"
        );
        let e = err("1,2\n3,4\n5,6,7\n");
        assert_eq!(
            e,
            "t.csv: line 3 has 3 fields, but the first row (line 1) has 2"
        );
        let e = err("a,b\nr1,1,2\nr2,3\n");
        assert_eq!(
            e,
            "t.csv: line 3 has 2 fields, but the header (line 1) has 2 and the rows have row names before them"
        );
        let e = err("# comment\n\na,b\n1,2\n3,4,5\n");
        assert_eq!(
            e,
            "t.csv: line 5 has 3 fields, but the header (line 3) has 2"
        );
    }

    #[test]
    fn empty_and_header_only() {
        assert_eq!(err(""), "t.csv: no data rows (the file is empty)");
        assert_eq!(err("\n\n"), "t.csv: no data rows (the file is empty)");
        assert_eq!(err("\u{feff}"), "t.csv: no data rows (the file is empty)");
        assert_eq!(
            err("# only a comment\n"),
            "t.csv: no data rows (the file is empty)"
        );
        assert_eq!(
            err("\"a\",\"b\"\r\n"),
            "t.csv: no data rows (only a header)"
        );
        assert_eq!(err("a,b"), "t.csv: no data rows (only a header)");
        assert_eq!(err("\"\",\"a\"\n"), "t.csv: no data rows (only a header)");
    }

    #[test]
    fn blank_lines_and_comments() {
        let d = ok("# made by hand\na,b\n\n1,2\n   \n# more\n3,4\n\n");
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        let e = err("# made by hand\na,b\n\n1,2\n# more\n3,NA\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 6), column 'b'");
        // A quoted field spanning lines: the row's line is where it starts.
        let e = err("a,\"b\nc\"\n1,2\nNA,4\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 4), column 'a'");
    }

    #[test]
    fn delimiters_are_sniffed() {
        let d = ok("a\tb\n1.5\t2\n3\t4\n");
        assert_eq!(d.x, array![[1.5, 2.0], [3.0, 4.0]]);
        assert_eq!(names(&d), ["a", "b"]);
        // Semicolons, with decimal commas as R's write.csv2 writes them.
        let d = ok("\"\";\"a\";\"b\"\n\"1\";1,5;2\n\"2\";3;4,25\n");
        assert_eq!(names(&d), ["a", "b"]);
        assert_eq!(d.x, array![[1.5, 2.0], [3.0, 4.25]]);
        // Commas inside quotes do not count.
        let d = ok("\"a,1\";\"b,2\"\n1;2\n");
        assert_eq!(names(&d), ["a,1", "b,2"]);
        // numpy.savetxt's default: whitespace.
        let d = ok("3.600000000000000089e+00 7.900000000000000000e+01\n1.8 54\n");
        assert_eq!(d.x, array![[3.6, 79.0], [1.8, 54.0]]);
        let d = ok("# x y\n  1   2\n 3    4\n");
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        let e = err("a b\n1 2\n3 NA\n");
        assert_eq!(e, "t.csv: missing value at row 2 (line 3), column 'b'");
        // One column.
        let d = ok("w\n1\n2\n");
        assert_eq!(d.x, array![[1.0], [2.0]]);
        // A tab default for .tsv with one column changes nothing; a comma file is still
        // read as commas when the default is tab.
        let mut notes = Vec::new();
        let d = read_csv(
            "t.tsv",
            &b"a,b\n1,2\n"[..],
            b'\t',
            &ReadOptions::default(),
            &mut notes,
        )
        .unwrap();
        assert_eq!(d.x, array![[1.0, 2.0]]);
        assert_eq!(sniff_delimiter(b"", true, b'\t'), Delim::Byte(b'\t'));
        assert_eq!(
            sniff_delimiter(b"a;b,c\n1;2,3\n", true, b','),
            Delim::Byte(b',')
        );
        assert_eq!(
            sniff_delimiter(b"a;b;c\n1;2,5;3\n", true, b','),
            Delim::Byte(b';')
        );
    }

    #[test]
    fn long_file_beyond_the_sniffed_prefix() {
        let mut s = String::from("\"\",\"a\",\"b\"\n");
        for i in 1..=20_000 {
            s.push_str(&format!("\"{i}\",{},{}\n", i as f64 * 0.5, i % 7));
        }
        assert!(s.len() > SNIFF_BYTES);
        let d = ok(&s);
        assert_eq!(d.x.dim(), (20_000, 2));
        assert_eq!(d.x.row(19_999), array![10_000.0, (20_000 % 7) as f64]);
        s.push_str("\"20001\",1,\n");
        assert_eq!(
            err(&s),
            "t.csv: missing value at row 20001 (line 20002), column 'b'"
        );
    }

    #[test]
    fn weights_column() {
        let (d, _) = read("a,w,b\n1,0.5,2\n3,0,4\n", &weights("w")).unwrap();
        assert_eq!(names(&d), ["a", "b"]);
        assert_eq!(d.x, array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(d.weights.unwrap(), array![0.5, 0.0]);
        // With --columns: the weights column stays out of the features.
        let opts = ReadOptions {
            columns: Some(vec!["b".into()]),
            weights: Some("1".into()),
            ..Default::default()
        };
        let (d, _) = read("a,w,b\n1,0.5,2\n3,1,4\n", &opts).unwrap();
        assert_eq!(d.x, array![[2.0], [4.0]]);
        assert_eq!(d.weights.unwrap(), array![0.5, 1.0]);
        assert_eq!(
            err_with("a,w\n1,0.5\n3,-2\n", &weights("w")),
            "t.csv: negative weight -2 at row 2 (line 3), column 'w'"
        );
        assert_eq!(
            err_with("a,w\n1,0\n3,0\n", &weights("w")),
            "t.csv: all weights in column 'w' are zero"
        );
        assert_eq!(
            err_with("a,w\n1,1\n3,NA\n", &weights("w")),
            "t.csv: missing value at row 2 (line 3), column 'w'"
        );
        assert_eq!(
            err_with("a,w\n1,1\n3,inf\n", &weights("w")),
            "t.csv: non-finite weight inf at row 2 (line 3), column 'w'"
        );
        assert_eq!(
            err_with("a,w\n1,1\n3,x\n", &weights("w")),
            "t.csv: weights column 'w' is not numeric: 'x' at row 2 (line 3)"
        );
        assert_eq!(
            err_with("w\n1\n3\n", &weights("w")),
            "t.csv: no feature columns left after taking out the weights"
        );
        assert_eq!(
            err_with("a,w\n1,1\n", &weights("v")),
            "t.csv: no column 'v' (from --weights); the columns are: a, w"
        );
    }

    #[test]
    fn cells() {
        assert_eq!(parse_cell(b" 3.5 ", false), (Cell::Number(3.5), 3.5));
        assert_eq!(parse_cell(b"-1e-3", false).0, Cell::Number(-1e-3));
        assert_eq!(parse_cell(b"+2", false).0, Cell::Number(2.0));
        assert_eq!(parse_cell(b"1,5", false).0, Cell::Text);
        assert_eq!(parse_cell(b"1,5", true).0, Cell::Number(1.5));
        assert_eq!(parse_cell(b"1,000.5", true).0, Cell::Text);
        assert_eq!(parse_cell(b"NA", false).0, Cell::Missing);
        assert_eq!(parse_cell(b"-inf", false).0, Cell::Infinite);
        assert_eq!(parse_cell(b"abc", false).0, Cell::Text);
        assert_eq!(parse_cell(b"\xff", false).0, Cell::Text);
    }
}
