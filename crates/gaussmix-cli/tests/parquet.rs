//! Parquet input (whole and streamed), output, and its errors.
#![cfg(feature = "parquet")]

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeListBuilder, Float64Builder};
use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use assert_cmd::Command;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use predicates::prelude::*;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

fn write_parquet(path: &Path, cols: Vec<(&str, ArrayRef)>, row_group: usize) {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let a: Vec<f64> = (0..n)
        .map(|i| (i % 3) as f64 * 6.0 + (i as f64 * 0.618).fract())
        .collect();
    let b: Vec<f64> = (0..n)
        .map(|i| -((i % 3) as f64) * 4.0 + (i as f64 * 0.377).fract())
        .collect();
    (a, b)
}

fn model(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn parquet_fits_like_csv_whole_and_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 3000;
    let (a, b) = data(n);
    let pq = d.join("x.parquet");
    let names: Vec<String> = (0..n).map(|i| format!("row{i}")).collect();
    write_parquet(
        &pq,
        vec![
            ("a", Arc::new(Float64Array::from(a.clone())) as ArrayRef),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            (
                "b",
                Arc::new(Float32Array::from(
                    b.iter().map(|v| *v as f32).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
        ],
        700,
    );
    let csv = d.join("x.csv");
    let text: String = a.iter().zip(&b).fold("a,b\n".into(), |s, (x, y)| {
        s + &format!("{x},{}\n", *y as f32 as f64)
    });
    std::fs::write(&csv, text).unwrap();
    let (m1, m2, m3) = (d.join("1.json"), d.join("2.json"), d.join("3.json"));
    gaussmix()
        .arg("fit")
        .arg(&pq)
        .args(["-k", "3", "-o"])
        .arg(&m1)
        .assert()
        .success()
        .stderr(predicate::str::contains("skipping column 'name'"));
    gaussmix()
        .arg("fit")
        .arg(&csv)
        .args(["-k", "3", "-q", "-o"])
        .arg(&m2)
        .assert()
        .success();
    gaussmix()
        .arg("fit")
        .arg(&pq)
        .args(["-k", "3", "-q", "--stream", "-o"])
        .arg(&m3)
        .assert()
        .success();
    assert_eq!(model(&m1)["means"], model(&m2)["means"]);
    assert_eq!(model(&m1)["feature_names"], serde_json::json!(["a", "b"]));
    // the stream samples every row for its initialisation here, so it matches too
    let (x, y) = (model(&m1), model(&m3));
    for (u, v) in x["means"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .zip(
            y["means"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap()),
        )
    {
        assert!((u.as_f64().unwrap() - v.as_f64().unwrap()).abs() < 1e-9);
    }
}

#[test]
fn fixed_size_list_column_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 600;
    let (a, b) = data(n);
    let mut lb = FixedSizeListBuilder::new(Float64Builder::new(), 2);
    for i in 0..n {
        lb.values().append_value(a[i]);
        lb.values().append_value(b[i]);
        lb.append(true);
    }
    let pq = d.join("v.parquet");
    write_parquet(
        &pq,
        vec![
            ("features", Arc::new(lb.finish()) as ArrayRef),
            (
                "w",
                Arc::new(Int64Array::from(
                    (0..n as i64).map(|i| 1 + i % 2).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
        ],
        1000,
    );
    let m = d.join("m.json");
    gaussmix()
        .arg("fit")
        .arg(&pq)
        .args(["-k", "3", "-q", "--weights", "w", "-o"])
        .arg(&m)
        .assert()
        .success();
    assert_eq!(
        model(&m)["feature_names"],
        serde_json::json!(["features[0]", "features[1]"])
    );
    gaussmix()
        .arg("fit")
        .arg(&pq)
        .args(["-k", "3", "-q", "--weights", "w", "--stream", "-o"])
        .arg(&m)
        .assert()
        .success();
}

#[test]
fn parquet_output_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = data(300);
    let pq = d.join("x.parquet");
    write_parquet(
        &pq,
        vec![
            ("a", Arc::new(Float64Array::from(a)) as ArrayRef),
            ("b", Arc::new(Float64Array::from(b)) as ArrayRef),
        ],
        1000,
    );
    let m = d.join("m.json");
    gaussmix()
        .arg("fit")
        .arg(&pq)
        .args(["-k", "2", "-q", "-o"])
        .arg(&m)
        .assert()
        .success();
    let out = d.join("labels.parquet");
    gaussmix()
        .arg("predict")
        .arg(&m)
        .arg(&pq)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300);
    assert_eq!(batches[0].schema().field(0).name(), "label");
    assert_eq!(batches[0].schema().field(0).data_type(), &DataType::UInt64);

    // a null, a truncated file, text only
    let nulls = d.join("null.parquet");
    write_parquet(
        &nulls,
        vec![(
            "a",
            Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)])) as ArrayRef,
        )],
        10,
    );
    let bad = d.join("bad.json");
    gaussmix()
        .arg("fit")
        .arg(&nulls)
        .args(["-k", "1", "-o"])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "missing value at row 2, column 'a'",
        ));
    let bytes = std::fs::read(&pq).unwrap();
    let trunc = d.join("trunc.parquet");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    gaussmix()
        .arg("fit")
        .arg(&trunc)
        .args(["-k", "1", "-o"])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains("trunc.parquet"));
    gaussmix()
        .arg("fit")
        .arg(&trunc)
        .args(["-k", "1", "--stream", "-o"])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains("trunc.parquet"));
    let text = d.join("text.parquet");
    write_parquet(
        &text,
        vec![("s", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef)],
        10,
    );
    gaussmix()
        .arg("fit")
        .arg(&text)
        .args(["-k", "1", "-o"])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no numeric columns"));
    assert!(!bad.exists());
}

#[test]
fn table_outputs_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let faithful = format!("{}/../../data/faithful.csv", env!("CARGO_MANIFEST_DIR"));
    let scores = d.join("scores.parquet");
    gaussmix()
        .args(["anomaly", &faithful, "-q", "-o"])
        .arg(&scores)
        .assert()
        .success();
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&scores).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let rows: usize = r.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 272);
    let table = d.join("table.parquet");
    let best = d.join("best.json");
    gaussmix()
        .args(["select", &faithful, "--k", "1..3", "-q", "--table"])
        .arg(&table)
        .arg("-o")
        .arg(&best)
        .assert()
        .success();
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&table).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    assert_eq!(batches[0].num_rows(), 14 * 3);
    gaussmix()
        .args(["anomaly", &faithful, "-q", "-o"])
        .arg(d.join("s.xlsx"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(".parquet"));
}
