//! `gaussmix fit --online` and `gaussmix update`: batches from a CSV or NPY file and from
//! standard input, the saved online state, and bad input (a clear error, nothing written).

mod common;

use std::path::Path;

use common::gaussmix;
use predicates::prelude::*;

/// Two clusters in two columns, interleaved (a fixed generator, no randomness crate).
fn rows(n: usize) -> Vec<[f64; 2]> {
    let mut u = common::uniform(777);
    (0..n)
        .map(|i| {
            let (a, b) = (u() - 0.5, u() - 0.5);
            let c = if i % 3 == 0 { 8.0 } else { 0.0 };
            [c + 2.0 * a, c + a + b]
        })
        .collect()
}

fn csv_text(n: usize) -> String {
    let mut t = String::from("a,b\n");
    for r in rows(n) {
        t.push_str(&format!("{},{}\n", r[0], r[1]));
    }
    t
}

fn npy(path: &Path, n: usize) {
    let values: Vec<f64> = rows(n).into_iter().flatten().collect();
    common::write_npy_f8(path, n, 2, &values, false);
}

/// `gaussmix fit -k 2 --online --batch-size BATCH`, more arguments to follow.
fn online(batch: usize) -> assert_cmd::Command {
    let mut c = gaussmix();
    c.args(["fit", "-k", "2", "--online", "--batch-size"])
        .arg(batch.to_string());
    c
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mean_score(model: &Path, data: &Path) -> f64 {
    let out = gaussmix()
        .arg("score")
        .arg(model)
        .arg(data)
        .arg("--mean")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn online_fit_from_a_file_and_from_stdin_agree_and_match_the_batch_fit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.csv"), csv_text(6000)).unwrap();
    online(1000)
        .args(["-o"])
        .arg(d.join("on.json"))
        .arg(d.join("x.csv"))
        .assert()
        .success()
        .stderr(predicate::str::contains("6 batches"));
    online(1000)
        .args(["-", "-o"])
        .arg(d.join("stdin.json"))
        .write_stdin(csv_text(6000))
        .assert()
        .success();
    // the same batches, whether streamed from disk or read line by line from stdin
    assert_eq!(json(&d.join("on.json")), json(&d.join("stdin.json")));
    let m = json(&d.join("on.json"));
    assert_eq!(m["online"]["t"], 6);
    assert_eq!(m["feature_names"], serde_json::json!(["a", "b"]));
    gaussmix()
        .args(["fit", "-k", "2", "-q", "-o"])
        .arg(d.join("batch.json"))
        .arg(d.join("x.csv"))
        .assert()
        .success();
    let (on, batch) = (
        mean_score(&d.join("on.json"), &d.join("x.csv")),
        mean_score(&d.join("batch.json"), &d.join("x.csv")),
    );
    // two clusters far apart: after 6000 rows the online fit is within Monte Carlo
    // error (O(1/√rows) per parameter) of the batch maximum
    assert!(
        batch - on < 1e-2 && batch >= on - 1e-3,
        "online {on}, batch {batch}"
    );
}

#[test]
fn npy_batches_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    npy(&d.join("x.npy"), 4000);
    online(500)
        .args(["--passes", "2"])
        .args(["--step-decay", "0.8", "--step-offset", "1", "--json", "-o"])
        .arg(d.join("on.json"))
        .arg(d.join("x.npy"))
        .assert()
        .success()
        .stdout(predicate::str::contains("\"batches\": 16"));
    let m = json(&d.join("on.json"));
    assert_eq!(m["online"]["step"]["decay"], 0.8);
    assert_eq!(m["online"]["rows_seen"], 8000);
}

#[test]
fn update_continues_the_schedule_and_reads_plain_models() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = csv_text(3000);
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(d.join("first.csv"), lines[..2001].join("\n") + "\n").unwrap();
    let mut rest = vec![lines[0]];
    rest.extend(&lines[2001..]);
    std::fs::write(d.join("rest.csv"), rest.join("\n") + "\n").unwrap();
    online(1000)
        .args(["-q", "-o"])
        .arg(d.join("m.json"))
        .arg(d.join("first.csv"))
        .assert()
        .success();
    gaussmix()
        .arg("update")
        .arg(d.join("m.json"))
        .arg(d.join("rest.csv"))
        .arg("-o")
        .arg(d.join("up.json"))
        .assert()
        .success()
        .stderr(predicate::str::contains("3 in all"));
    assert_eq!(json(&d.join("up.json"))["online"]["t"], 3);
    // the same as fitting the three batches in one go
    online(1000)
        .args(["-q", "-o"])
        .arg(d.join("all.json"))
        .arg(d.join("x.csv"))
        .write_stdin("")
        .assert()
        .failure();
    std::fs::write(d.join("x.csv"), &text).unwrap();
    online(1000)
        .args(["-q", "-o"])
        .arg(d.join("all.json"))
        .arg(d.join("x.csv"))
        .assert()
        .success();
    assert_eq!(json(&d.join("up.json")), json(&d.join("all.json")));
    // without -o the model is replaced in place; a plain model starts a schedule
    gaussmix()
        .args(["fit", "-k", "2", "-q", "-o"])
        .arg(d.join("plain.json"))
        .arg(d.join("first.csv"))
        .assert()
        .success();
    gaussmix()
        .arg("update")
        .arg(d.join("plain.json"))
        .arg(d.join("rest.csv"))
        .arg("-q")
        .assert()
        .success();
    let p = json(&d.join("plain.json"));
    assert_eq!(p["online"]["t"], 1);
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.csv"), csv_text(2000)).unwrap();
    gaussmix()
        .args(["fit", "-k", "2", "--online", "-q", "-o"])
        .arg(d.join("m.json"))
        .arg(d.join("x.csv"))
        .assert()
        .success();
    let before = std::fs::read(d.join("m.json")).unwrap();
    // a width other than the model's names both
    std::fs::write(d.join("wide.csv"), "a,b,c\n1,2,3\n4,5,6\n").unwrap();
    gaussmix()
        .arg("update")
        .arg(d.join("m.json"))
        .arg(d.join("wide.csv"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("expected 2 columns")
                .and(predicate::str::contains("got 3 columns")),
        );
    assert_eq!(std::fs::read(d.join("m.json")).unwrap(), before);
    // a missing value, without --missing em
    std::fs::write(d.join("gap.csv"), "a,b\n1,2\nNA,5\n3,1\n").unwrap();
    gaussmix()
        .arg("update")
        .arg(d.join("m.json"))
        .arg(d.join("gap.csv"))
        .assert()
        .code(1);
    assert_eq!(std::fs::read(d.join("m.json")).unwrap(), before);
    // with it, fine
    gaussmix()
        .arg("update")
        .arg(d.join("m.json"))
        .arg(d.join("gap.csv"))
        .args(["--missing", "em", "-q", "-o"])
        .arg(d.join("gap.json"))
        .assert()
        .success();
    // out-of-range steps and sizes are usage errors
    for bad in [
        vec!["--step-decay", "0.5"],
        vec!["--step-offset", "-1"],
        vec!["--step-size", "0"],
        vec!["--batch-size", "0"],
    ] {
        gaussmix()
            .args(["fit", "-k", "2", "--online", "-o"])
            .arg(d.join("bad.json"))
            .arg(d.join("x.csv"))
            .args(&bad)
            .assert()
            .code(2);
        assert!(!d.join("bad.json").exists(), "{bad:?}");
    }
    // --passes on standard input, an empty input, a corrupt model
    gaussmix()
        .args(["fit", "-k", "2", "--online", "--passes", "2", "-", "-o"])
        .arg(d.join("bad.json"))
        .write_stdin(csv_text(100))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "standard input cannot be read twice",
        ));
    gaussmix()
        .args(["fit", "-k", "2", "--online", "-", "-o"])
        .arg(d.join("bad.json"))
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no data"));
    std::fs::write(d.join("corrupt.json"), "{\"online\": 3}").unwrap();
    gaussmix()
        .arg("update")
        .arg(d.join("corrupt.json"))
        .arg(d.join("x.csv"))
        .arg("-o")
        .arg(d.join("bad.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a valid gaussmix model"));
    assert!(!d.join("bad.json").exists());
    // --online with --stream is a usage error
    gaussmix()
        .args(["fit", "-k", "2", "--online", "--stream", "-o"])
        .arg(d.join("bad.json"))
        .arg(d.join("x.csv"))
        .assert()
        .code(2);
}
