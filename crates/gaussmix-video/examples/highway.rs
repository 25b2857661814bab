//! Runs the library on a CDnet sequence the way the CLI will: subtract + evaluate, then
//! track with annotated frames for a stretch.
//!
//! cargo run --release -p gaussmix-video --example highway -- SEQ OUT_DIR [FIRST LAST] [--threads N]

use gaussmix_video::{evaluate, subtract, track, SubtractOptions, TrackOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .map(|i| args[i + 1].parse())
        .transpose()?
        .unwrap_or(1);
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--threads"))
        .map(|(_, a)| a)
        .collect();
    let seq = PathBuf::from(
        pos.first()
            .map(|s| s.as_str())
            .unwrap_or("../shared/data/video/highway"),
    );
    let out = PathBuf::from(pos.get(1).map(|s| s.as_str()).unwrap_or("target/highway"));
    let first: usize = pos.get(2).map(|s| s.parse()).transpose()?.unwrap_or(800);
    let last: usize = pos.get(3).map(|s| s.parse()).transpose()?.unwrap_or(900);

    let sub = SubtractOptions {
        threads,
        overwrite: true,
        ..SubtractOptions::default()
    };
    let masks = out.join("masks");
    let r = subtract(&seq, &masks, &sub, &mut |_, _| {})?;
    println!(
        "subtract: {} frames {}x{}x{} in {:.2?} ({:.1} frames/s, {:?} kernel)",
        r.frames,
        r.width,
        r.height,
        r.channels,
        r.elapsed,
        r.frames as f64 / r.elapsed.as_secs_f64(),
        r.kernel
    );
    if seq.join("temporalROI.txt").is_file() {
        println!("CDnet: {}", evaluate(&masks, &seq)?);
    }
    let topts = TrackOptions {
        subtract: sub,
        csv: Some(out.join("tracks.csv")),
        annotate: Some(out.join("annotated")),
        annotate_range: Some((first, last)),
        ..TrackOptions::default()
    };
    let t = track(&seq, &topts, &mut |_, _| {})?;
    let mut spans: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for row in &t.rows {
        let e = spans.entry(row.track_id).or_insert((row.frame, row.frame));
        e.1 = row.frame;
    }
    let in_range: Vec<_> = spans
        .iter()
        .filter(|(_, (a, b))| *b >= first && *a <= last)
        .collect();
    println!(
        "track: {} frames, {} tracks in {:.2?}; {} tracks seen in frames {first}..={last}:",
        t.frames,
        t.tracks,
        t.elapsed,
        in_range.len()
    );
    for (id, (a, b)) in in_range {
        println!("  id {id}: frames {a}..={b}");
    }
    Ok(())
}
