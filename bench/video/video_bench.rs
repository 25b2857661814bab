//! gaussmix-video benchmark: frames/s of the model update alone and of a whole
//! `subtract` run (decode + update + clean-up + PNG writing), plus CDnet scores.
//!
//! cargo bench -p gaussmix-video --bench video_bench -- [SEQ_DIR] [--threads N] [--repeat R] [--synthetic FILE.npy] [--quick]
//!
//! `--quick` prints only the model update with the default parameters (to alternate with
//! `opencv_bench.py --quick` on a shared machine), by wall time and, with one thread, by
//! the thread's CPU time (which does not count waiting for a core on a loaded machine). `--hash` prints, instead of timings, a
//! hash of every mask of the sequence under several settings (defaults with and without
//! the clean-up, OpenCV's defaults, each kernel, grey, an odd width, neighbourhood support,
//! propagation), so an optimisation can be checked to leave the masks byte-identical.
//!
//! SEQ_DIR defaults to ../shared/data/video/highway from the workspace root. `--synthetic`
//! reads the 640x480 colour video that bench/video/opencv_bench.py saves
//! (/tmp/gaussmix_synth/color640.npy by default) so both sides time the same frames.

use gaussmix_video::model::{BackgroundModel, Kernel, ModelParams};
use gaussmix_video::source::{FrameSource, ImageFolder};
use gaussmix_video::PostProcess;
use gaussmix_video::{evaluate, subtract, SubtractOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// CPU time this thread has run, in seconds (Linux: /proc/thread-self/schedstat), so a
/// figure taken on a shared machine does not count the time the thread waited for a core.
fn thread_cpu() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// Best frames/s of `repeat` runs of `apply` over `frames`, and the best by thread CPU
/// time (NaN where it cannot be read).
fn apply_fps_cpu(
    frames: &[Vec<u8>],
    w: usize,
    h: usize,
    c: usize,
    p: &ModelParams,
    threads: usize,
    repeat: usize,
) -> (f64, f64) {
    let mut best = 0.0f64;
    let mut best_cpu = f64::NAN;
    for _ in 0..repeat {
        let mut m = BackgroundModel::new(p, w, h, c, threads).expect("model");
        let mut mask = vec![0u8; w * h];
        let c0 = thread_cpu();
        let t = Instant::now();
        for f in frames {
            m.apply(f, &mut mask).expect("apply");
        }
        best = best.max(frames.len() as f64 / t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (c0, thread_cpu()) {
            let fps = frames.len() as f64 / (b - a);
            best_cpu = if best_cpu.is_nan() {
                fps
            } else {
                best_cpu.max(fps)
            };
        }
    }
    (best, best_cpu)
}

fn apply_fps(
    frames: &[Vec<u8>],
    w: usize,
    h: usize,
    c: usize,
    p: &ModelParams,
    threads: usize,
    repeat: usize,
) -> f64 {
    apply_fps_cpu(frames, w, h, c, p, threads, repeat).0
}

/// FNV-1a over the masks of every frame under `p` (cleaned with `post` when given).
fn mask_hash(
    frames: &[Vec<u8>],
    w: usize,
    h: usize,
    c: usize,
    p: &ModelParams,
    post: Option<&PostProcess>,
) -> (u64, usize) {
    let mut m = BackgroundModel::new(p, w, h, c, 1).expect("model");
    let mut mask = vec![0u8; w * h];
    let mut hash = 0xcbf29ce484222325u64;
    let mut fg = 0usize;
    for f in frames {
        m.apply(f, &mut mask).expect("apply");
        if let Some(post) = post {
            post.apply(&mut mask, w, h);
        }
        for &b in &mask {
            hash = (hash ^ b as u64).wrapping_mul(0x100000001b3);
        }
        fg += mask.iter().filter(|&&b| b == 255).count();
    }
    (hash, fg)
}

/// Prints [`mask_hash`] for the settings an optimisation must leave unchanged.
fn print_hashes(name: &str, frames: &[Vec<u8>], w: usize, h: usize, c: usize) {
    let d = ModelParams::default();
    let grey: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            f.chunks(c)
                .map(|p| (p.iter().map(|&v| v as u32).sum::<u32>() / c as u32) as u8)
                .collect()
        })
        .collect();
    let w2 = w - 5;
    let odd: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| f.chunks(w * c).flat_map(|r| r[..w2 * c].to_vec()).collect())
        .collect();
    let mut cases: Vec<(String, ModelParams)> = vec![
        ("defaults".into(), d.clone()),
        ("opencv".into(), ModelParams::opencv()),
        (
            "no-shadows".into(),
            ModelParams {
                detect_shadows: false,
                ..d.clone()
            },
        ),
        (
            "support-2".into(),
            ModelParams {
                support_radius: 2,
                ..d.clone()
            },
        ),
        (
            "propagation-1".into(),
            ModelParams {
                propagation_rate: 1.0,
                ..d.clone()
            },
        ),
        (
            "fixed-rate-0.01".into(),
            ModelParams {
                learning_rate: gaussmix_video::LearningRate::Fixed(0.01),
                ..d.clone()
            },
        ),
        (
            "stauffer-grimson".into(),
            ModelParams {
                method: gaussmix_video::Method::StaufferGrimson,
                ..d.clone()
            },
        ),
    ];
    for k in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
        cases.push((
            format!("defaults-{k:?}"),
            ModelParams {
                kernel: k,
                ..d.clone()
            },
        ));
    }
    for (label, p) in &cases {
        let (hh, fg) = mask_hash(frames, w, h, c, p, None);
        println!("hash {name} {label:<24} {hh:016x} fg={fg}");
    }
    let post = PostProcess::default();
    let (hh, fg) = mask_hash(frames, w, h, c, &d, Some(&post));
    println!("hash {name} {:<24} {hh:016x} fg={fg}", "defaults+post");
    if c == 3 {
        let g = ModelParams {
            grey_shadows: true,
            ..d.clone()
        };
        for (label, p) in [("grey", &d), ("grey-shadows", &g)] {
            let (hh, fg) = mask_hash(&grey, w, h, 1, p, None);
            println!("hash {name} {label:<24} {hh:016x} fg={fg}");
        }
    }
    let (hh, fg) = mask_hash(&odd, w2, h, c, &d, Some(&post));
    println!("hash {name} {:<24} {hh:016x} fg={fg}", "odd-width+post");
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
    let mut quick = false;
    let mut hash = false;
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
            "--quick" => quick = true,
            "--hash" => hash = true,
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
    if hash {
        print_hashes(&seq.display().to_string(), &frames, w, h, c);
        if let Some((sw, sh, sf)) = read_npy(&synth) {
            print_hashes(&synth.display().to_string(), &sf, sw, sh, 3);
        }
        return;
    }
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
    let (fps, fps_cpu) = apply_fps_cpu(&frames, w, h, c, &defaults, threads, repeat);
    println!("apply, defaults                           {fps:8.1} frames/s");
    if quick {
        if threads == 1 {
            println!("apply, defaults (per thread CPU second)   {fps_cpu:8.1} frames/s");
        }
        return;
    }
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
