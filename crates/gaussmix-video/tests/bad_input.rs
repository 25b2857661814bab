//! Bad input gets a clear error and leaves no output behind; video through ffmpeg.

use gaussmix_video::source::{self, SourceOptions};
use gaussmix_video::{subtract, track, Error, SubtractOptions, TrackOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A frame with a textured background and a bright square at `x`.
fn frame(w: u32, h: u32, x: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |i, j| {
        if (x..x + 8).contains(&i) && (8..16).contains(&j) {
            image::Rgb([250, 30, 30])
        } else {
            let v = (40 + (i * 7 + j * 13) % 150) as u8;
            image::Rgb([v, v / 2 + 20, 255 - v])
        }
    })
}

/// A folder of `n` PNG frames `in000001.png`…
fn frames_dir(dir: &Path, n: u32, w: u32, h: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for t in 0..n {
        frame(w, h, 2 + 2 * t)
            .save(dir.join(format!("in{:06}.png", t + 1)))
            .unwrap();
    }
}

/// Everything in `dir` (names), to check that nothing was left behind.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn run_subtract(input: &Path, out: &Path) -> Result<usize, Error> {
    subtract(input, out, &SubtractOptions::default(), &mut |_, _| {}).map(|r| r.frames)
}

#[test]
fn good_folder_writes_numbered_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("seq");
    frames_dir(&input.join("input"), 12, 40, 24);
    let out = tmp.path().join("out/masks");
    let mut calls = Vec::new();
    let r = subtract(&input, &out, &SubtractOptions::default(), &mut |d, t| {
        calls.push((d, t))
    })
    .unwrap();
    assert_eq!((r.frames, r.width, r.height, r.channels), (12, 40, 24, 3));
    assert_eq!(calls.last(), Some(&(12, 12)));
    let names = listing(&out);
    assert_eq!(names.len(), 12);
    assert_eq!(names[0], "bin000001.png");
    assert_eq!(names[11], "bin000012.png");
    let m = image::open(out.join("bin000012.png")).unwrap();
    assert_eq!(m.color(), image::ColorType::L8);
    let m = m.into_luma8();
    assert!(m.pixels().all(|p| [0, 127, 255].contains(&p.0[0])));
    assert!(
        m.pixels().any(|p| p.0[0] == 255),
        "the moving square is foreground"
    );
    assert_eq!(
        listing(tmp.path()),
        vec!["out", "seq"],
        "no temporary leftovers"
    );

    // Existing non-empty output: an error without overwrite, replaced with it.
    let e = run_subtract(&input, &out).unwrap_err();
    assert!(matches!(e, Error::OutputExists(_)), "{e}");
    let opts = SubtractOptions {
        overwrite: true,
        threads: 2,
        ..SubtractOptions::default()
    };
    assert_eq!(
        subtract(&input, &out, &opts, &mut |_, _| {})
            .unwrap()
            .frames,
        12
    );
    assert_eq!(listing(&out).len(), 12);
    assert_eq!(listing(tmp.path()), vec!["out", "seq"]);
}

#[test]
fn grey_frames_give_a_grey_model() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("grey");
    std::fs::create_dir(&input).unwrap();
    for t in 0..5u32 {
        image::DynamicImage::ImageRgb8(frame(32, 16, 2 * t))
            .into_luma8()
            .save(input.join(format!("f{t}.png")))
            .unwrap();
    }
    let r = subtract(
        &input,
        &tmp.path().join("m"),
        &SubtractOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!((r.frames, r.channels), (5, 1));
}

fn assert_no_output(tmp: &Path, expected: &[&str]) {
    assert_eq!(
        listing(tmp),
        expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "leftovers after a failure"
    );
}

#[test]
fn folder_without_images() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("empty");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("notes.txt"), "no frames here").unwrap();
    let e = run_subtract(&input, &tmp.path().join("a/b/out")).unwrap_err();
    assert!(matches!(e, Error::NoFrames(_)), "{e}");
    assert!(
        e.to_string().contains("no images") && e.to_string().contains("empty"),
        "{e}"
    );
    assert_no_output(tmp.path(), &["empty"]);
}

#[test]
fn missing_input() {
    let tmp = tempfile::tempdir().unwrap();
    let e = run_subtract(&tmp.path().join("nope"), &tmp.path().join("out")).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    assert_no_output(tmp.path(), &[]);
}

#[test]
fn frames_of_different_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("seq");
    frames_dir(&input, 6, 40, 24);
    frame(48, 24, 0).save(input.join("in000004.png")).unwrap();
    let e = run_subtract(&input, &tmp.path().join("parent/out")).unwrap_err();
    match &e {
        Error::FrameSize {
            index,
            path,
            got_width,
            ..
        } => {
            assert_eq!((*index, *got_width), (4, 48));
            assert!(path.ends_with("in000004.png"));
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string().contains("in000004.png") && e.to_string().contains("48x24"),
        "{e}"
    );
    assert_no_output(tmp.path(), &["seq"]);
}

#[test]
fn corrupt_and_truncated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("seq");
    frames_dir(&input, 6, 40, 24);
    std::fs::write(input.join("in000003.png"), b"this is not an image").unwrap();
    let e = run_subtract(&input, &tmp.path().join("out")).unwrap_err();
    assert!(
        matches!(e, Error::Decode { .. }) && e.to_string().contains("in000003.png"),
        "{e}"
    );
    assert_no_output(tmp.path(), &["seq"]);

    // A PNG cut in half, in the middle of the sequence.
    frames_dir(&input, 6, 40, 24);
    let bytes = std::fs::read(input.join("in000005.png")).unwrap();
    std::fs::write(input.join("in000005.png"), &bytes[..bytes.len() / 2]).unwrap();
    let e = run_subtract(&input, &tmp.path().join("out")).unwrap_err();
    assert!(e.to_string().contains("in000005.png"), "{e}");
    assert_no_output(tmp.path(), &["seq"]);

    // A corrupt first frame fails before anything is created.
    std::fs::write(input.join("in000001.png"), b"\x89PNG\r\n\x1a\n garbage").unwrap();
    let e = run_subtract(&input, &tmp.path().join("out")).unwrap_err();
    assert!(e.to_string().contains("in000001.png"), "{e}");
    assert_no_output(tmp.path(), &["seq"]);
}

#[test]
fn bad_options_are_rejected_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("seq");
    frames_dir(&input, 3, 16, 16);
    let mut opts = SubtractOptions::default();
    opts.model.n_mixtures = 0;
    let e = subtract(&input, &tmp.path().join("out"), &opts, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidParam {
                name: "n_mixtures",
                ..
            }
        ),
        "{e}"
    );
    assert_no_output(tmp.path(), &["seq"]);
}

#[test]
fn missing_ffmpeg_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("clip.mp4");
    std::fs::write(&video, b"not really a video").unwrap();
    let empty_path = tmp.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap();
    let so = SourceOptions {
        search_path: Some(empty_path.clone().into_os_string()),
    };
    let e = source::open(&video, &so)
        .err()
        .expect("no ffmpeg on this PATH");
    assert!(
        matches!(
            e,
            Error::MissingProgram {
                program: "ffmpeg",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("`ffmpeg` was not found"), "{e}");
    let opts = SubtractOptions {
        source: so.clone(),
        ..SubtractOptions::default()
    };
    let e = subtract(&video, &tmp.path().join("out"), &opts, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, Error::MissingProgram { .. }), "{e}");
    // Asking for an annotated video without ffmpeg fails before any work.
    let input = tmp.path().join("seq");
    frames_dir(&input, 3, 16, 16);
    let topts = TrackOptions {
        subtract: opts,
        annotate: Some(tmp.path().join("boxes.mp4")),
        csv: Some(tmp.path().join("tracks.csv")),
        ..TrackOptions::default()
    };
    let e = track(&input, &topts, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingProgram {
                program: "ffmpeg",
                ..
            }
        ),
        "{e}"
    );
    assert_no_output(tmp.path(), &["bin", "clip.mp4", "seq"]);
}

fn ffmpeg() -> Option<PathBuf> {
    match source::find_program("ffmpeg", "tests", None) {
        Ok(p) if source::find_program("ffprobe", "tests", None).is_ok() => Some(p),
        _ => {
            eprintln!("note: ffmpeg/ffprobe not installed, skipping the video test");
            None
        }
    }
}

#[test]
fn video_through_ffmpeg() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    frames_dir(&frames, 20, 64, 48);
    let video = tmp.path().join("clip.mkv");
    let st = Command::new(&ffmpeg)
        .args(["-v", "error", "-y", "-framerate", "10", "-i"])
        .arg(frames.join("in%06d.png"))
        .args(["-c:v", "ffv1"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(st.success());
    let out = tmp.path().join("masks");
    let r = subtract(&video, &out, &SubtractOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!((r.frames, r.width, r.height, r.channels), (20, 64, 48, 3));
    assert_eq!(listing(&out).len(), 20);
    // Lossless video: the same masks as from the frames themselves.
    let out2 = tmp.path().join("masks2");
    subtract(&frames, &out2, &SubtractOptions::default(), &mut |_, _| {}).unwrap();
    for i in 1..=20 {
        let n = format!("bin{i:06}.png");
        assert_eq!(
            image::open(out.join(&n)).unwrap().into_luma8(),
            image::open(out2.join(&n)).unwrap().into_luma8(),
            "{n}"
        );
    }
    // Tracking with an annotated video and a CSV.
    let topts = TrackOptions {
        annotate: Some(tmp.path().join("annotated/boxes.mp4")),
        csv: Some(tmp.path().join("tracks.csv")),
        ..TrackOptions::default()
    };
    let rep = track(&video, &topts, &mut |_, _| {}).unwrap();
    assert_eq!(rep.frames, 20);
    let csv = std::fs::read_to_string(tmp.path().join("tracks.csv")).unwrap();
    assert!(csv.starts_with("frame,track_id,x,y,w,h,cx,cy\n"));
    assert_eq!(csv.lines().count(), rep.rows.len() + 1);
    assert!(
        std::fs::metadata(tmp.path().join("annotated/boxes.mp4"))
            .unwrap()
            .len()
            > 0
    );
    // A file that is not a video: ffprobe's complaint, nothing written.
    let e = run_subtract(&tmp.path().join("tracks.csv"), &tmp.path().join("m3")).unwrap_err();
    assert!(
        matches!(e, Error::External { .. }) && e.to_string().contains("tracks.csv"),
        "{e}"
    );
    assert!(!tmp.path().join("m3").exists());
}

#[test]
fn track_writes_annotated_pngs_and_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("seq");
    frames_dir(&input, 25, 80, 32);
    let opts = TrackOptions {
        annotate: Some(tmp.path().join("ann")),
        annotate_range: Some((5, 9)),
        csv: Some(tmp.path().join("t.csv")),
        tracker: gaussmix_video::TrackerOptions {
            min_area: 10,
            ..Default::default()
        },
        ..TrackOptions::default()
    };
    let rep = track(&input, &opts, &mut |_, _| {}).unwrap();
    assert_eq!(
        listing(&tmp.path().join("ann")),
        (5..=9)
            .map(|i| format!("frame{i:06}.png"))
            .collect::<Vec<_>>()
    );
    assert_eq!(rep.tracks, 1, "{:?}", rep.rows);
    // The model needs a few frames (and the tracker three hits) before the square shows.
    assert!(rep.rows.len() >= 10, "{:?}", rep.rows);
    let csv = std::fs::read_to_string(tmp.path().join("t.csv")).unwrap();
    assert_eq!(csv.lines().count(), rep.rows.len() + 1);
    // Second run without overwrite: the CSV exists.
    let e = track(&input, &opts, &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, Error::OutputExists(_)), "{e}");
}
