use gaussmix_video::cdnet::Scorer;
use gaussmix_video::model::*;
use gaussmix_video::post::PostProcess;
use gaussmix_video::source::{FrameSource, ImageFolder};
use std::time::Instant;
fn main() {
    let seq = std::path::Path::new("/work/shared/data/video/highway");
    let mut src = ImageFolder::open(seq).unwrap();
    let (w, h, c) = (src.width(), src.height(), src.channels());
    let t = Instant::now();
    let mut frames = Vec::new();
    let mut buf = Vec::new();
    while src.next_frame(&mut buf).unwrap() {
        frames.push(buf.clone());
    }
    eprintln!(
        "decode {:.1} fps",
        frames.len() as f64 / t.elapsed().as_secs_f64()
    );
    let args: Vec<String> = std::env::args().collect();
    let comp = args.get(1).map_or(true, |s| s == "1");
    let shadows = args.get(2).map_or(true, |s| s == "1");
    let kernel = match std::env::var("KERNEL").as_deref() {
        Ok("portable") => Kernel::Portable,
        Ok("avx2") => Kernel::Avx2,
        _ => Kernel::Auto,
    };
    let p = ModelParams {
        illumination_compensation: comp,
        detect_shadows: shadows,
        kernel,
        ..ModelParams::default()
    };
    if std::env::var("SPEED").is_ok() {
        for _ in 0..3 {
            let mut model = BackgroundModel::new(&p, w, h, c, 1).unwrap();
            let mut mask = vec![0u8; w * h];
            let t = Instant::now();
            for f in &frames {
                model.apply(f, &mut mask).unwrap();
            }
            eprintln!(
                "apply {:.1} fps kernel {:?}",
                frames.len() as f64 / t.elapsed().as_secs_f64(),
                model.kernel()
            );
        }
        return;
    }
    let posts = [
        ("none", PostProcess::none()),
        (
            "med5",
            PostProcess {
                median: 5,
                close: false,
                fill_holes: false,
                ..PostProcess::default()
            },
        ),
        ("default", PostProcess::default()),
    ];
    let mut model = BackgroundModel::new(&p, w, h, c, 1).unwrap();
    let mut masks = Vec::new();
    let mut mask = vec![0u8; w * h];
    let t = Instant::now();
    for f in &frames {
        model.apply(f, &mut mask).unwrap();
        masks.push(mask.clone());
    }
    eprintln!(
        "apply {:.1} fps kernel {:?}",
        frames.len() as f64 / t.elapsed().as_secs_f64(),
        model.kernel()
    );
    for (name, pp) in &posts {
        let mut sc = Scorer::new(seq).unwrap();
        let t = Instant::now();
        for (i, m) in masks.iter().enumerate() {
            let mut m = m.clone();
            pp.apply(&mut m, w, h);
            sc.add(i + 1, &m).unwrap();
        }
        println!(
            "comp={comp} shadows={shadows} post={name}: {} ({:.1}s)",
            sc.metrics(),
            t.elapsed().as_secs_f64()
        );
    }
}
