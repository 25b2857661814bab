//! `gaussmix video …` wiring: masks and tracks on a small synthetic sequence, and errors.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn gaussmix() -> Command {
    Command::cargo_bin("gaussmix").unwrap()
}

/// 40 frames of 64×48 grey noise-free background with a bright square moving right.
fn sequence(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let (w, h) = (64usize, 48usize);
    for f in 0..40usize {
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let v = 60 + ((x * 3 + y * 5) % 20) as u8;
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[v, v, v]);
            }
        }
        if f >= 20 {
            let x0 = (f - 20) * 2;
            for y in 15..27 {
                for x in x0..(x0 + 12).min(w) {
                    rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[240, 240, 240]);
                }
            }
        }
        gaussmix_video_png(&dir.join(format!("in{:06}.png", f + 1)), w, h, &rgb);
    }
}

fn gaussmix_video_png(path: &Path, w: usize, h: usize, rgb: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgb).unwrap();
}

#[test]
fn subtract_and_track_a_moving_square() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("frames");
    sequence(&seq);
    let masks = dir.path().join("masks");
    gaussmix()
        .args(["video", "subtract"])
        .arg(&seq)
        .arg("-o")
        .arg(&masks)
        .arg("-q")
        .assert()
        .success();
    let n = std::fs::read_dir(&masks).unwrap().count();
    assert_eq!(n, 40);
    assert!(masks.join("bin000001.png").exists() && masks.join("bin000040.png").exists());
    // the square is foreground in a late frame
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(masks.join("bin000030.png")).unwrap(),
    ));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    assert!(buf.iter().filter(|&&v| v == 255).count() > 50);
    // an existing output is refused unless --overwrite
    gaussmix()
        .args(["video", "subtract"])
        .arg(&seq)
        .arg("-o")
        .arg(&masks)
        .arg("-q")
        .assert()
        .failure();
    gaussmix()
        .args(["video", "subtract"])
        .arg(&seq)
        .arg("-o")
        .arg(&masks)
        .args(["-q", "--overwrite", "--threads", "2"])
        .assert()
        .success();

    let text = track_csv(&seq, &dir.path().join("tracks.csv"), &[]);
    assert!(text.starts_with("frame,track_id,x,y,w,h,cx,cy"));
    let ids: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one square, one track: {ids:?}");
}

/// The CSV rows `video track` writes for the frames in `seq` (to `csv`; blobs of 20
/// pixels and more), with the extra arguments.
fn track_csv(seq: &Path, csv: &Path, extra: &[&str]) -> String {
    gaussmix()
        .args(["video", "track"])
        .arg(seq)
        .arg("-o")
        .arg(csv)
        .args(["-q", "--min-area", "20"])
        .args(extra)
        .assert()
        .success();
    std::fs::read_to_string(csv).unwrap()
}

/// Expected: `video track -o -` prints the rows the file would hold (CSV and MOT forms)
/// and creates no file named `-` (issue 17 item 1).
#[test]
fn track_rows_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("seq");
    sequence(&seq);
    for format in ["csv", "mot"] {
        let csv = dir.path().join(format!("t.{format}.csv"));
        let file = track_csv(&seq, &csv, &["--format", format]);
        assert!(file.lines().count() > 5, "{file}");
        let out = gaussmix()
            .current_dir(dir.path())
            .args(["video", "track"])
            .arg(&seq)
            .args(["-o", "-", "-q", "--min-area", "20", "--format", format])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(String::from_utf8(out).unwrap(), file);
    }
    assert!(!dir.path().join("-").exists());
}

/// Rows of `video track` (CSV) on frames where a square stands at the left in the first
/// 10 frames (learnt into the background: a ghost once it has gone) and another moves right
/// from frame 20, with the extra arguments; returns (rows on the ghost, rows on the mover).
fn ghost_rows(extra: &[&str]) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("frames");
    sequence(&seq);
    let (w, h) = (64usize, 48usize);
    for f in 0..40usize {
        let p = seq.join(format!("in{:06}.png", f + 1));
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut rgb).unwrap();
        if f < 10 {
            for y in 32..44 {
                for x in 4..16 {
                    rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[200, 30, 30]);
                }
            }
        }
        gaussmix_video_png(&p, w, h, &rgb);
    }
    let text = track_csv(&seq, &dir.path().join("tracks.csv"), extra);
    let cy: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(7).unwrap().parse().unwrap())
        .collect();
    (
        cy.iter().filter(|&&y| y > 30.0).count(),
        cy.iter().filter(|&&y| y < 30.0).count(),
    )
}

#[test]
fn track_leaves_out_ghosts_unless_asked() {
    // with the subtraction defaults' long foreground hold, the square leaves a ghost
    const SUBTRACT: [&str; 5] = [
        "--foreground-rate",
        "0.05",
        "--foreground-hold",
        "1000",
        "--displacement",
    ];
    let with = |extra: &[&'static str]| [&SUBTRACT[..], extra].concat();
    let (ghost0, moving0) = ghost_rows(&with(&["--ghost-frames", "0"]));
    assert!(ghost0 >= 20, "the scene must leave a ghost: {ghost0} rows");
    let (ghost, moving) = ghost_rows(&with(&[]));
    assert!(ghost <= 8, "{ghost} rows on the ghost");
    assert_eq!(moving, moving0, "the moving square is reported as before");
    assert!(moving > 10);
    // The opt-in colour mixture runs through the same path.
    let (_, moving_cm) = ghost_rows(&with(&["--colour-model"]));
    assert!(moving_cm > 10);
    // `video track`'s own background model (ModelParams::for_tracking) absorbs the ghost
    // sooner, ghost rule or not, and still reports the moving square
    let (ghost_t, moving_t) = ghost_rows(&["--ghost-frames", "0"]);
    assert!(
        ghost_t < ghost0 / 2,
        "{ghost_t} ghost rows against {ghost0}"
    );
    assert!(moving_t > 10);
}

#[test]
fn video_errors_are_clear_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = dir.path().join("masks");
    gaussmix()
        .args(["video", "subtract"])
        .arg(&empty)
        .arg("-o")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty"));
    assert!(!out.exists());
    gaussmix()
        .args(["video", "subtract"])
        .arg(&empty)
        .arg("-o")
        .arg(&out)
        .args(["--method", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'bogus' for '--method",
        ));
    gaussmix()
        .args(["video", "eval"])
        .arg(dir.path().join("none"))
        .arg(&empty)
        .assert()
        .failure();
    gaussmix()
        .args(["video", "track"])
        .arg(&empty)
        .arg("-o")
        .arg(dir.path().join("t.csv"))
        .args(["--annotate-range", "5,2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--annotate-range"));
}
