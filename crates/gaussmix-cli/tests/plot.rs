//! `gaussmix plot`: golden-image-free checks (the PNG decodes, has the requested size and
//! is not one colour), SVG output, 1-D histograms, traces, and error paths.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

fn faithful() -> String {
    format!("{}/../../data/faithful.csv", env!("CARGO_MANIFEST_DIR"))
}

fn model(dir: &Path, k: &str, cov: &str, extra: &[&str]) -> PathBuf {
    let m = dir.join(format!("m-{k}-{cov}.json"));
    gaussmix()
        .args(["fit", &faithful(), "-k", k, "--covariance", cov, "-q"])
        .args(extra)
        .arg("-o")
        .arg(&m)
        .assert()
        .success();
    m
}

/// Decodes a PNG: (width, height, number of distinct colours).
fn decode(p: &Path) -> (u32, u32, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = bytes.chunks(px).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn png_has_the_requested_size_and_is_not_one_colour() {
    let dir = tempfile::tempdir().unwrap();
    for cov in ["full", "tied", "diag", "spherical"] {
        let m = model(dir.path(), "2", cov, &[]);
        let out = dir.path().join(format!("{cov}.png"));
        gaussmix()
            .args(["plot"])
            .arg(&m)
            .arg(faithful())
            .args(["--width", "640", "--height", "480", "-o"])
            .arg(&out)
            .assert()
            .success();
        let (w, h, colours) = decode(&out);
        assert_eq!((w, h), (640, 480));
        assert!(colours > 20, "{cov}: only {colours} colours");
    }
}

#[test]
fn svg_output_has_axis_labels_and_legend() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), "2", "full", &[]);
    let out = dir.path().join("f.svg");
    gaussmix()
        .args(["plot"])
        .arg(&m)
        .arg(faithful())
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&out).unwrap();
    for s in ["<svg", "eruptions", "waiting", "component 0", "component 1"] {
        assert!(svg.contains(s), "svg lacks {s}");
    }
}

#[test]
fn one_dimension_draws_a_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let m1 = dir.path().join("w.json");
    gaussmix()
        .args([
            "fit",
            &faithful(),
            "--columns",
            "waiting",
            "-k",
            "2",
            "-q",
            "-o",
        ])
        .arg(&m1)
        .assert()
        .success();
    let out = dir.path().join("h.svg");
    gaussmix()
        .args(["plot"])
        .arg(&m1)
        .arg(faithful())
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(
        svg.contains("mixture density") && svg.contains("histogram") && svg.contains("waiting")
    );
    // a marginal of a 2-D model with --dims i
    let m2 = model(dir.path(), "2", "full", &[]);
    let out2 = dir.path().join("h2.png");
    gaussmix()
        .args(["plot"])
        .arg(&m2)
        .arg(faithful())
        .args(["--dims", "1", "-o"])
        .arg(&out2)
        .assert()
        .success();
    assert_eq!(decode(&out2).0, 800);
}

#[test]
fn trace_draws_one_panel_per_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), "2", "full", &[]);
    for init in ["kmeans", "spread", "random"] {
        let out = dir.path().join(format!("trace-{init}.png"));
        gaussmix()
            .args(["plot"])
            .arg(&m)
            .arg(faithful())
            .args(["--trace", "--init", init, "-o"])
            .arg(&out)
            .assert()
            .success();
        let (w, h, colours) = decode(&out);
        assert_eq!((w, h), (4 * 380, 420));
        assert!(colours > 20);
    }
    let out = dir.path().join("trace.svg");
    gaussmix()
        .args(["plot"])
        .arg(&m)
        .arg(faithful())
        .args(["--trace", "--iterations", "0,3", "-o"])
        .arg(&out)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&out).unwrap();
    // panels are titled by iteration (not "L = 3", which reads as a log-likelihood)
    assert!(svg.contains("initialisation") && svg.contains("iteration 3"));
    assert!(!svg.contains("L = 3"));
    // a key for every mark: components (solid 1σ), dashed 2σ ellipses, means (×), points
    for key in [
        "component 0",
        "1σ ellipse (solid), 2σ (dashed)",
        "× component mean",
        "rows, coloured by responsibility",
    ] {
        assert!(svg.contains(key), "no key '{key}' in the trace");
    }
}

fn plot_fails(m: &Path, data: &str, extra: &[&str], out: &str, message: &str) {
    gaussmix()
        .args(["plot"])
        .arg(m)
        .arg(data)
        .args(extra)
        .args(["-o", out])
        .assert()
        .failure()
        .stderr(predicate::str::contains(message));
    assert!(!Path::new(out).exists());
}

#[test]
fn plot_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), "2", "full", &[]);
    let out = dir.path().join("x.png");
    let o = out.to_str().unwrap();
    plot_fails(
        &m,
        &faithful(),
        &["--dims", "0,5"],
        o,
        "--dims 5 is out of range",
    );
    plot_fails(&m, &faithful(), &["--dims", "0,1,1"], o, "one or two");
    plot_fails(&m, &faithful(), &["--dims", "1,1"], o, "same feature twice");
    plot_fails(
        &m,
        &faithful(),
        &["--width", "2"],
        o,
        "between 16 and 16384",
    );
    plot_fails(
        &m,
        &faithful(),
        &[],
        dir.path().join("x.jpg").to_str().unwrap(),
        "unsupported picture extension",
    );
    plot_fails(&m, &faithful(), &["--trace", "--init", "magic"], o, "init");
    // a model whose dimension differs from the data
    let m1 = dir.path().join("one.json");
    gaussmix()
        .args([
            "fit",
            &faithful(),
            "--columns",
            "waiting",
            "-k",
            "1",
            "-q",
            "-o",
        ])
        .arg(&m1)
        .assert()
        .success();
    let three = dir.path().join("three.csv");
    std::fs::write(&three, "a,b,c\n1,2,3\n2,3,4\n3,4,6\n").unwrap();
    plot_fails(&m1, three.to_str().unwrap(), &[], o, "dimensions differ");
    // a corrupt model file
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format_version\": 1, \"n_comp").unwrap();
    plot_fails(&bad, &faithful(), &[], o, "not a valid gaussmix model");
}
