//! `--missing em` and `gaussmix impute`: missing cells in CSV (`NA`, `NaN`, empty), NPY
//! (NaN) and Parquet (null), the default error and its pointer to the flag, and the
//! errors for rows and columns without an observed value.

mod common;

use std::path::{Path, PathBuf};

use common::gaussmix;
use predicates::prelude::*;

/// Two clusters in three correlated columns (a fixed generator, no randomness crate).
fn rows(n: usize) -> Vec<[f64; 3]> {
    let mut u = common::uniform(12345);
    (0..n)
        .map(|i| {
            let (a, b) = (u() - 0.5, u() - 0.5);
            let c = if i % 3 == 0 { 6.0 } else { 0.0 };
            [c + 2.0 * a, c + a + b, -c + 0.5 * a - b]
        })
        .collect()
}

/// Which cells are missing: about one in six, never a whole row.
fn gap(i: usize, j: usize) -> bool {
    let h = (i * 7919 + j * 104_729) % 97;
    h < 16 && !(j == 2 && gap(i, 0) && gap(i, 1))
}

/// A CSV with header `a,b,c`; missing cells written as `spell` (cycled).
fn csv(path: &Path, n: usize, spell: &[&str], header: bool) {
    let mut t = String::new();
    if header {
        t.push_str("a,b,c\n");
    }
    let mut k = 0;
    for (i, r) in rows(n).iter().enumerate() {
        let cells: Vec<String> = (0..3)
            .map(|j| {
                if gap(i, j) {
                    k += 1;
                    spell[k % spell.len()].to_string()
                } else {
                    format!("{}", r[j])
                }
            })
            .collect();
        t.push_str(&cells.join(","));
        t.push('\n');
    }
    std::fs::write(path, t).unwrap();
}

/// The same rows as an f8 NPY file, NaN in the gaps.
fn npy(path: &Path, n: usize) {
    let mut values = Vec::with_capacity(3 * n);
    for (i, r) in rows(n).iter().enumerate() {
        for (j, &x) in r.iter().enumerate() {
            values.push(if gap(i, j) { f64::NAN } else { x });
        }
    }
    common::write_npy_f8(path, n, 3, &values, false);
}

fn fit(data: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    gaussmix()
        .arg("fit")
        .arg(data)
        .args(["-k", "2", "-q", "--seed", "1"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .assert()
}

fn means(model: &Path) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    serde_json::from_value(v["means"].clone()).unwrap()
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gaps.csv");
    csv(&p, 600, &["NA", "", "NaN"], true);
    (dir, p)
}

/// Expected: without the flag a missing cell is the readers' error (row, line, column),
/// which now points at --missing em, and nothing is written; with it the fit succeeds.
#[test]
fn default_is_an_error_pointing_at_the_flag() {
    let (dir, data) = setup();
    let out = dir.path().join("m.json");
    fit(&data, &out, &[])
        .failure()
        .code(1)
        .stderr(predicate::str::contains("missing value at row"))
        .stderr(predicate::str::contains("--missing em"));
    assert!(!out.exists());
    fit(&data, &out, &["--missing", "em"]).success();
    assert!(out.exists());
    // predict and score without the flag refuse the gaps the same way
    for cmd in ["predict", "score"] {
        gaussmix()
            .arg(cmd)
            .arg(&out)
            .arg(&data)
            .assert()
            .failure()
            .stderr(predicate::str::contains("--missing em"));
    }
}

/// Expected: `NA`, `NaN` and empty cells are all missing: the three spellings give the
/// same model file, byte for byte; a file without gaps fits the same with or without
/// the flag.
#[test]
fn every_spelling_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut models = Vec::new();
    for (name, spell) in [("na", "NA"), ("empty", ""), ("nan", "NaN")] {
        let p = d.join(format!("{name}.csv"));
        csv(&p, 400, &[spell], true);
        let m = d.join(format!("{name}.json"));
        fit(&p, &m, &["--missing", "em"]).success();
        models.push(std::fs::read(&m).unwrap());
    }
    assert_eq!(models[0], models[1]);
    assert_eq!(models[0], models[2]);
    // no gaps: the flag changes nothing
    let full = d.join("full.csv");
    let text: String = rows(400).iter().fold("a,b,c\n".into(), |s, r| {
        s + &format!("{},{},{}\n", r[0], r[1], r[2])
    });
    std::fs::write(&full, text).unwrap();
    let (a, b) = (d.join("a.json"), d.join("b.json"));
    fit(&full, &a, &[]).success();
    fit(&full, &b, &["--missing", "em"]).success();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

/// Expected: NaN in an NPY file is a gap like `NA` in the CSV of the same rows: the same
/// means; without the flag, the NPY reader's error.
#[test]
fn npy_nan_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (c, n) = (d.join("x.csv"), d.join("x.npy"));
    csv(&c, 500, &["NA"], false);
    npy(&n, 500);
    let (mc, mn) = (d.join("c.json"), d.join("n.json"));
    fit(&c, &mc, &["--missing", "em"]).success();
    fit(&n, &mn, &["--missing", "em"]).success();
    assert_eq!(means(&mc), means(&mn));
    fit(&n, &d.join("no.json"), &[])
        .failure()
        .stderr(predicate::str::contains("NaN"))
        .stderr(predicate::str::contains("--missing em"));
}

/// Expected: predict and score with --missing em give one finite value per row; the
/// probabilities sum to 1.
#[test]
fn predict_and_score_marginalise() {
    let (dir, data) = setup();
    let m = dir.path().join("m.json");
    fit(&data, &m, &["--missing", "em"]).success();
    let out = common::stdout_of(
        gaussmix()
            .args(["predict", "--missing", "em", "--proba"])
            .arg(&m)
            .arg(&data),
    );
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "p0,p1");
    assert_eq!(lines.len(), 601);
    for l in &lines[1..] {
        let s: f64 = l.split(',').map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((s - 1.0).abs() < 1e-12, "{l}");
    }
    let out = common::stdout_of(
        gaussmix()
            .args(["score", "--missing", "em"])
            .arg(&m)
            .arg(&data),
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 601);
    assert!(text
        .lines()
        .skip(1)
        .all(|l| l.parse::<f64>().unwrap().is_finite()));
}

/// Expected: impute writes the table with every gap filled and every observed cell kept;
/// a draw is reproducible for a seed and differs from the expectation; --seed without
/// --draw is a usage error.
#[test]
fn impute_fills_the_gaps() {
    let (dir, data) = setup();
    let d = dir.path();
    let m = d.join("m.json");
    fit(&data, &m, &["--missing", "em"]).success();
    let filled = d.join("filled.csv");
    gaussmix()
        .arg("impute")
        .arg(&m)
        .arg(&data)
        .arg("-o")
        .arg(&filled)
        .assert()
        .success()
        .stderr(predicate::str::contains("filled"));
    let text = std::fs::read_to_string(&filled).unwrap();
    let orig = std::fs::read_to_string(&data).unwrap();
    assert_eq!(text.lines().next(), Some("a,b,c"));
    let mut gaps = 0;
    for (f, o) in text.lines().zip(orig.lines()).skip(1) {
        for (fv, ov) in f.split(',').zip(o.split(',')) {
            let fv: f64 = fv.parse().unwrap();
            assert!(fv.is_finite());
            match ov.parse::<f64>() {
                Ok(v) if v.is_finite() => assert_eq!(fv, v),
                _ => gaps += 1,
            }
        }
    }
    assert!(gaps > 100, "{gaps}");
    let draw = |seed: &str| {
        common::stdout_of(
            gaussmix()
                .args(["impute", "--draw", "--seed", seed, "-q"])
                .arg(&m)
                .arg(&data),
        )
    };
    assert_eq!(draw("4"), draw("4"));
    assert_ne!(draw("4"), draw("5"));
    assert_ne!(String::from_utf8(draw("4")).unwrap(), text);
    gaussmix()
        .args(["impute", "--seed", "3"])
        .arg(&m)
        .arg(&data)
        .assert()
        .failure()
        .code(2);
}

/// Expected: a row without an observed value and a column without one are errors that
/// name them (row 1-based as the readers count, the column by name); ±inf stays an
/// error; nothing is written.
#[test]
fn all_missing_rows_and_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.json");
    let row = d.join("row.csv");
    std::fs::write(&row, "a,b\n1,2\n3,NA\nNA,NA\n5,6\n7,8\n").unwrap();
    fit(&row, &out, &["--missing", "em"])
        .failure()
        .stderr(predicate::str::contains("row 3 has no observed value"));
    let col = d.join("col.csv");
    std::fs::write(&col, "a,b\n1,NA\n3,NA\n4,\n5,NA\n").unwrap();
    fit(&col, &out, &["--missing", "em"])
        .failure()
        .stderr(predicate::str::contains("column 'b' has no observed value"));
    let inf = d.join("inf.csv");
    std::fs::write(&inf, "a,b\n1,NA\n3,inf\n4,5\n5,6\n").unwrap();
    fit(&inf, &out, &["--missing", "em"])
        .failure()
        .stderr(predicate::str::contains("infinite value 'inf' at row 2"));
    assert!(!out.exists());
}

/// Expected: a streamed fit with --missing em converges near the in-memory one.
#[test]
fn streaming_with_gaps() {
    let (dir, data) = setup();
    let d = dir.path();
    let (a, b) = (d.join("a.json"), d.join("b.json"));
    fit(&data, &a, &["--missing", "em", "--tol", "1e-8"]).success();
    fit(&data, &b, &["--missing", "em", "--tol", "1e-8", "--stream"]).success();
    let (ma, mb) = (means(&a), means(&b));
    for (ra, rb) in ma.iter().zip(&mb) {
        for (x, y) in ra.iter().zip(rb) {
            assert!((x - y).abs() < 1e-4, "{ma:?} vs {mb:?}");
        }
    }
}

/// Expected: a Parquet null is a gap like `NA` in the CSV of the same rows.
#[cfg(feature = "parquet")]
#[test]
fn parquet_null_is_a_gap() {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 500;
    let cols: Vec<ArrayRef> = (0..3)
        .map(|j| {
            Arc::new(Float64Array::from(
                rows(n)
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (!gap(i, j)).then_some(r[j]))
                    .collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect();
    let schema = Arc::new(Schema::new(
        ["a", "b", "c"]
            .iter()
            .map(|n| Field::new(*n, arrow_schema::DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let pq = d.join("x.parquet");
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&pq).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let c = d.join("x.csv");
    csv(&c, n, &["NA"], true);
    let (mp, mc) = (d.join("p.json"), d.join("c.json"));
    fit(&pq, &mp, &["--missing", "em"]).success();
    fit(&c, &mc, &["--missing", "em"]).success();
    assert_eq!(means(&mp), means(&mc));
    fit(&pq, &d.join("no.json"), &[])
        .failure()
        .stderr(predicate::str::contains("missing value at row"));
    let (sp, sc) = (d.join("sp.json"), d.join("sc.json"));
    fit(&pq, &sp, &["--missing", "em", "--stream"]).success();
    fit(&c, &sc, &["--missing", "em", "--stream"]).success();
    assert_eq!(means(&sp), means(&sc));
}
