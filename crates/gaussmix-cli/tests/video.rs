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

    let csv = dir.path().join("tracks.csv");
    gaussmix()
        .args(["video", "track"])
        .arg(&seq)
        .arg("-o")
        .arg(&csv)
        .args(["-q", "--min-area", "20"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("frame,track_id,x,y,w,h,cx,cy"));
    let ids: std::collections::BTreeSet<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one square, one track: {ids:?}");
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
        .failure()
        .stderr(predicate::str::contains("unknown --method"));
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
