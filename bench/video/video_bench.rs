//! gaussmix-video benchmark: frames/s of the model update alone and of a whole
//! `subtract` run (decode + update + clean-up + PNG writing), plus CDnet scores.
//!
//! cargo bench -p gaussmix-video --bench video_bench -- [SEQ_DIR] [--threads N] [--repeat R] [--synthetic FILE.npy]
//!
//! SEQ_DIR defaults to ../shared/data/video/highway from the workspace root. `--synthetic`
//! reads the 640x480 colour video that bench/video/opencv_bench.py saves
//! (/tmp/gaussmix_synth/color640.npy by default) so both sides time the same frames.

use gaussmix_video::model::{BackgroundModel, ModelParams};
use gaussmix_video::source::{FrameSource, ImageFolder};
use gaussmix_video::{evaluate, subtract, SubtractOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn apply_fps(
    frames: &[Vec<u8>],
    w: usize,
    h: usize,
    c: usize,
    p: &ModelParams,
    threads: usize,
    repeat: usize,
) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..repeat {
        let mut m = BackgroundModel::new(p, w, h, c, threads).expect("model");
        let mut mask = vec![0u8; w * h];
        let t = Instant::now();
        for f in frames {
            m.apply(f, &mut mask).expect("apply");
        }
        best = best.max(frames.len() as f64 / t.elapsed().as_secs_f64());
    }
    best
}

/// Reads a C-order uint8 .npy of shape (T, H, W, 3).
fn read_npy(path: &Path) -> Option<(usize, usize, Vec<Vec<u8>>)> {
    let bytes = std::fs::read(path).ok()?;
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).ok()?;
    if !header.contains("'|u1'") || header.contains("'fortran_order': True") {
        return None;
    }
    let shape = header.split("'shape': (").nth(1)?.split(')').next()?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let [t, h, w, 3] = dims[..] else { return None };
    let data = &bytes[10 + hlen..];
    let n = h * w * 3;
    Some((
        w,
        h,
        (0..t).map(|i| data[i * n..(i + 1) * n].to_vec()).collect(),
    ))
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut seq = None;
    let mut threads = 1usize;
    let mut repeat = 3usize;
    let mut synth = PathBuf::from("/tmp/gaussmix_synth/color640.npy");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--threads N")
            }
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--repeat R")
            }
            "--synthetic" => synth = PathBuf::from(args.next().expect("--synthetic FILE")),
            _ => seq = Some(PathBuf::from(a)),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seq = seq.unwrap_or_else(|| root.join("../shared/data/video/highway"));

    // Decode once, then time the model alone.
    let t = Instant::now();
    let mut src = ImageFolder::open(&seq).expect("open sequence");
    let (w, h, c) = (src.width(), src.height(), src.channels());
    let mut frames = Vec::new();
    let mut buf = Vec::new();
    while src.next_frame(&mut buf).expect("decode") {
        frames.push(buf.clone());
    }
    let decode = frames.len() as f64 / t.elapsed().as_secs_f64();
    let kernel = BackgroundModel::new(&ModelParams::default(), w, h, c, 1)
        .unwrap()
        .kernel();
    println!(
        "sequence {} {w}x{h}x{c} frames={} kernel={kernel:?} threads={threads}",
        seq.display(),
        frames.len()
    );
    println!("decode only (image crate)                 {decode:8.1} frames/s");
    let defaults = ModelParams::default();
    let opencv = ModelParams::opencv();
    let noshadow = ModelParams {
        detect_shadows: false,
        ..ModelParams::default()
    };
    println!(
        "apply, defaults                           {:8.1} frames/s",
        apply_fps(&frames, w, h, c, &defaults, threads, repeat)
    );
    println!(
        "apply, OpenCV defaults (no compensation)  {:8.1} frames/s",
        apply_fps(&frames, w, h, c, &opencv, threads, repeat)
    );
    println!(
        "apply, no shadow detection                {:8.1} frames/s",
        apply_fps(&frames, w, h, c, &noshadow, threads, repeat)
    );

    if let Some((sw, sh, sf)) = read_npy(&synth) {
        println!(
            "apply, synthetic {sw}x{sh} colour (OpenCV defaults) {:8.1} frames/s",
            apply_fps(&sf, sw, sh, 3, &opencv, threads, repeat)
        );
        println!(
            "apply, synthetic {sw}x{sh} colour (defaults)        {:8.1} frames/s",
            apply_fps(&sf, sw, sh, 3, &defaults, threads, repeat)
        );
    } else {
        println!(
            "(no synthetic video at {}; run bench/video/opencv_bench.py first)",
            synth.display()
        );
    }

    // The whole run, as the CLI would do it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("masks");
    let opts = SubtractOptions {
        threads,
        overwrite: true,
        ..SubtractOptions::default()
    };
    let mut best = 0.0f64;
    for _ in 0..repeat {
        let r = subtract(&seq, &out, &opts, &mut |_, _| {}).expect("subtract");
        best = best.max(r.frames as f64 / r.elapsed.as_secs_f64());
    }
    println!("subtract (decode+update+clean+write PNG)  {best:8.1} frames/s");
    if seq.join("temporalROI.txt").is_file() {
        let m = evaluate(&out, &seq).expect("evaluate");
        println!("CDnet, default parameters: {m}");
    }
}
