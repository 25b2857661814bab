//! The fast model equals the scalar reference, mask for mask, on random frames.

use gaussmix_video::model::{BackgroundModel, Kernel, LearningRate, Method, ModelParams};
use gaussmix_video::reference::ReferenceModel;

/// xorshift64*: a tiny deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unif(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Frames with a textured background, noise, bimodal pixels, moving blocks, brightness
/// steps and the odd fully random frame: every branch of the update gets exercised.
fn frames(w: usize, h: usize, c: usize, n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut r = Rng(seed);
    let bg: Vec<f32> = (0..w * h * c).map(|_| 20.0 + 200.0 * r.unif()).collect();
    let mut out = Vec::new();
    for t in 0..n {
        let gain = if (t / 15) % 3 == 1 { 1.12 } else { 1.0 };
        let wild = r.below(23) == 0;
        let (bx, by) = (r.below(w as u64) as usize, r.below(h as u64) as usize);
        let mut f = vec![0u8; w * h * c];
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let bimodal = x % 5 == 0 && r.below(2) == 0;
                let in_block = x >= bx && x < bx + 6 && y >= by && y < by + 4;
                for ch in 0..c {
                    let mut v = bg[i * c + ch] * gain + 6.0 * (r.unif() - 0.5) * 2.0;
                    if bimodal {
                        v += 50.0;
                    }
                    if in_block {
                        v = 255.0 * r.unif();
                    }
                    if wild {
                        v = 255.0 * r.unif();
                    }
                    if x == 3 && y == 1 {
                        v = 0.0; // a black pixel: zero means, den == 0 in the shadow test
                    }
                    f[i * c + ch] = v.clamp(0.0, 255.0) as u8;
                }
            }
        }
        out.push(f);
    }
    out
}

fn kernels() -> Vec<Kernel> {
    let mut ks = vec![Kernel::Portable];
    for k in [Kernel::Avx2, Kernel::Avx512] {
        if gaussmix_video::model::resolve_kernel(k) == k {
            ks.push(k);
        }
    }
    ks
}

fn check(params: &ModelParams, c: usize, threads: usize, seed: u64) {
    check_sized(params, c, threads, seed, (37, 9, 120));
}

fn check_sized(
    params: &ModelParams,
    c: usize,
    threads: usize,
    seed: u64,
    (w, h, n): (usize, usize, usize),
) {
    let fr = frames(w, h, c, n, seed);
    for kernel in kernels() {
        let p = ModelParams {
            kernel,
            ..params.clone()
        };
        let mut fast = BackgroundModel::new(&p, w, h, c, threads).unwrap();
        let mut slow = ReferenceModel::new(&p, w, h, c).unwrap();
        let (mut m1, mut m2) = (vec![0u8; w * h], vec![0u8; w * h]);
        let mut counts = [0usize; 3];
        for (t, f) in fr.iter().enumerate() {
            fast.apply(f, &mut m1).unwrap();
            slow.apply(f, &mut m2).unwrap();
            for (i, (a, b)) in m1.iter().zip(&m2).enumerate() {
                assert_eq!(
                    a, b,
                    "{kernel:?} {p:?} c={c}: frame {t}, pixel {i} fast {a} reference {b}"
                );
            }
            for &v in &m1 {
                counts[match v {
                    0 => 0,
                    127 => 1,
                    _ => 2,
                }] += 1;
            }
            for y in 0..h {
                for x in 0..w {
                    let (a, b) = (fast.pixel_modes(x, y), slow.pixel_modes(x, y));
                    assert_eq!(
                        a.len(),
                        b.len(),
                        "{kernel:?} frame {t} pixel ({x},{y}) mode count"
                    );
                    for (ma, mb) in a.iter().zip(b) {
                        assert!(
                            (ma.weight - mb.weight).abs() <= 1e-6,
                            "weight {ma:?} {mb:?}"
                        );
                        assert!(
                            (ma.variance - mb.variance).abs() <= 1e-4,
                            "variance {ma:?} {mb:?}"
                        );
                        for (u, v) in ma.mean.iter().zip(&mb.mean) {
                            assert!(
                                (u - v).abs() <= 1e-4,
                                "frame {t} pixel ({x},{y}) mean {a:?} {b:?}"
                            );
                        }
                    }
                }
            }
        }
        // The frames must exercise all three outcomes (except shadows when disabled).
        assert!(counts[0] > 0 && counts[2] > 0, "{counts:?}");
        if p.detect_shadows && (c == 3 || p.grey_shadows) && p.method == Method::Zivkovic {
            assert!(counts[1] > 0, "no shadows seen: {counts:?}");
        }
    }
}

#[test]
fn zivkovic_colour_defaults() {
    check(&ModelParams::default(), 3, 1, 1);
}

#[test]
fn illumination_compensation_engaged() {
    // Large enough for the gain grid (>= 64 samples); the frames brighten by 12 % in
    // steps, so the gain differs from 1 and both models must agree on it.
    check_sized(&ModelParams::default(), 3, 2, 11, (83, 70, 50));
    let mut m = BackgroundModel::new(&ModelParams::default(), 83, 70, 3, 1).unwrap();
    let fr = frames(83, 70, 3, 20, 12);
    let mut mask = vec![0u8; 83 * 70];
    let mut gains = Vec::new();
    for f in &fr {
        m.apply(f, &mut mask).unwrap();
        gains.push(m.last_gain());
    }
    assert!(gains.iter().any(|&g| (g - 1.12).abs() < 0.03), "{gains:?}");
}

#[test]
fn zivkovic_grey_defaults() {
    check(&ModelParams::default(), 1, 1, 2);
    let p = ModelParams {
        grey_shadows: true,
        ..ModelParams::default()
    };
    check(&p, 1, 1, 9);
}

#[test]
fn zivkovic_opencv_short_history_threads() {
    let p = ModelParams {
        history: 20,
        ..ModelParams::opencv()
    };
    check(&p, 3, 3, 3);
    check(&p, 1, 2, 4);
}

#[test]
fn zivkovic_fixed_rate_few_modes_no_shadows() {
    let p = ModelParams {
        learning_rate: LearningRate::Fixed(0.05),
        n_mixtures: 2,
        detect_shadows: false,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 5);
    let p = ModelParams {
        n_mixtures: 8,
        complexity_reduction: 0.0,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 6);
}

#[test]
fn stauffer_grimson() {
    let p = ModelParams {
        method: Method::StaufferGrimson,
        learning_rate: LearningRate::Fixed(0.02),
        n_mixtures: 3,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 7);
    check(&p, 1, 2, 8);
}

#[test]
fn background_image_is_the_learned_scene() {
    let (w, h) = (21, 5);
    let scene: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
    let mut m = BackgroundModel::new(&ModelParams::default(), w, h, 3, 1).unwrap();
    assert!(
        m.background_image().iter().all(|&v| v == 0),
        "black before the first frame"
    );
    let mut mask = vec![0u8; w * h];
    for t in 0..30 {
        // A block passes over the left part now and then: the background must not move.
        let mut f = scene.clone();
        if t % 7 == 3 {
            for v in f[..30].iter_mut() {
                *v = 255 - *v;
            }
        }
        m.apply(&f, &mut mask).unwrap();
    }
    assert_eq!(m.background_image(), scene);
    // Grey too.
    let mut g = BackgroundModel::new(&ModelParams::default(), w, h, 1, 2).unwrap();
    let mut mask = vec![0u8; w * h];
    for _ in 0..5 {
        g.apply(&scene[..w * h], &mut mask).unwrap();
    }
    assert_eq!(g.background_image(), &scene[..w * h]);
    assert!(mask.iter().all(|&v| v == 0));
}

#[test]
fn wrong_buffer_sizes_are_errors() {
    let mut m = BackgroundModel::new(&ModelParams::default(), 4, 3, 3, 1).unwrap();
    let mut mask = vec![0u8; 12];
    assert!(m.apply(&[0u8; 35], &mut mask).is_err());
    assert!(m.apply(&[0u8; 36], &mut mask[..11]).is_err());
    assert!(BackgroundModel::new(&ModelParams::default(), 4, 3, 2, 1).is_err());
    assert!(BackgroundModel::new(&ModelParams::default(), 0, 3, 3, 1).is_err());
    assert!(BackgroundModel::new(&ModelParams::default(), 4, 3, 3, 0).is_err());
    let bad = ModelParams {
        var_min: 80.0,
        ..ModelParams::default()
    };
    assert!(BackgroundModel::new(&bad, 4, 3, 3, 1)
        .unwrap_err()
        .to_string()
        .contains("var_min"));
}

#[test]
fn neighbourhood_support_matches_reference() {
    for (r, thr, cap, seed) in [(1, 1.0, 2.0, 21), (2, 0.5, 1.5, 22), (7, 0.3, 4.0, 23)] {
        let p = ModelParams {
            support_radius: r,
            support_threshold: thr,
            support_cap: cap,
            ..ModelParams::default()
        };
        check(&p, 3, 1, seed);
        check(&p, 1, 2, seed + 10);
    }
    let p = ModelParams {
        method: Method::StaufferGrimson,
        learning_rate: LearningRate::Fixed(0.02),
        support_radius: 1,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 31);
}

/// A patch slightly off the background colour (squared distance about 0.6·Tb variances
/// per pixel): each pixel alone mostly passes as background, the patch as a whole does
/// not; the noise around it stays background.
#[test]
fn neighbourhood_support_finds_camouflage() {
    let (w, h) = (40, 30);
    let inside = |i: usize| (14..26).contains(&(i % w)) && (9..21).contains(&(i / w));
    let noisy = |rng: &mut Rng, offset: f32| -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let o = if inside(i) { offset } else { 0.0 };
                (100.0 + o + 6.0 * rng.unif() - 3.0).round() as u8
            })
            .collect()
    };
    let mut rng = Rng(99);
    let train: Vec<Vec<u8>> = (0..60).map(|_| noisy(&mut rng, 0.0)).collect();
    let run = |r: usize, test_offset: Option<f32>| -> (Vec<u8>, f32) {
        let p = ModelParams {
            support_radius: r,
            support_threshold: 0.4,
            support_floor: 0.0,
            // The displacement test would undo it: a camouflaged pixel also lies within
            // Tb of its neighbours' background.
            displacement: false,
            ..ModelParams::default()
        };
        let mut m = BackgroundModel::new(&p, w, h, 1, 1).unwrap();
        let mut mask = vec![0u8; w * h];
        for f in &train {
            m.apply(f, &mut mask).unwrap();
        }
        let var = m.pixel_modes(20, 15)[0].variance;
        if let Some(o) = test_offset {
            m.apply(&noisy(&mut Rng(7), o), &mut mask).unwrap();
        }
        (mask, var)
    };
    let (_, var) = run(0, None);
    let offset = (0.6 * 16.0 * var).sqrt();
    let count = |mask: &[u8], ins: bool| {
        (0..w * h)
            .filter(|&i| inside(i) == ins && mask[i] == 255)
            .count()
    };
    let (alone, _) = run(0, Some(offset));
    let (support, _) = run(2, Some(offset));
    // The 8×8 core of the patch (whose 5×5 windows lie inside it): alone, most of its
    // pixels are missed; with support, nearly all are found.
    let core = |mask: &[u8]| {
        (0..w * h)
            .filter(|&i| (16..24).contains(&(i % w)) && (11..19).contains(&(i / w)))
            .filter(|&i| mask[i] == 255)
            .count()
    };
    let (a, s) = (core(&alone), core(&support));
    assert!(
        a < 32,
        "per-pixel found {a} of 64 (offset {offset}, var {var})"
    );
    assert!(
        s >= 60,
        "support found {s} of 64 (offset {offset}, var {var})"
    );
    assert!(count(&support, true) > count(&alone, true));
    assert_eq!(
        count(&support, false),
        0,
        "support: false positives outside the patch"
    );
}

#[test]
fn foreground_feedback_matches_reference() {
    let p = ModelParams {
        foreground_rate: 0.1,
        foreground_hold: 7,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 41);
    check(&p, 1, 2, 42);
    let p = ModelParams {
        foreground_rate: 0.3,
        support_radius: 1,
        ..ModelParams::opencv()
    };
    check(&p, 3, 2, 43);
    let p = ModelParams {
        method: Method::StaufferGrimson,
        learning_rate: LearningRate::Fixed(0.02),
        foreground_rate: 0.2,
        ..ModelParams::default()
    };
    check(&p, 3, 1, 44);
}

/// An object that stops: MOG2 absorbs it within about 0.1/α frames; with the feedback
/// rate it stays foreground, until `foreground_hold` runs out.
#[test]
fn foreground_feedback_keeps_a_stopped_object() {
    let (w, h) = (32, 24);
    let inside = |i: usize| (10..20).contains(&(i % w)) && (8..16).contains(&(i / w));
    let frame = |rng: &mut Rng, block: bool| -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let v = if block && inside(i) { 180.0 } else { 90.0 };
                (v + 6.0 * rng.unif() - 3.0).round() as u8
            })
            .collect()
    };
    // Foreground pixels of the block after 100 background frames and `after` frames of
    // the block standing still.
    let run = |rate: f32, hold: u32, after: usize| -> usize {
        let p = ModelParams {
            foreground_rate: rate,
            foreground_hold: hold,
            ..ModelParams::default()
        };
        let mut m = BackgroundModel::new(&p, w, h, 1, 1).unwrap();
        let mut rng = Rng(5);
        let mut mask = vec![0u8; w * h];
        for _ in 0..100 {
            m.apply(&frame(&mut rng, false), &mut mask).unwrap();
        }
        for _ in 0..after {
            m.apply(&frame(&mut rng, true), &mut mask).unwrap();
        }
        (0..w * h).filter(|&i| inside(i) && mask[i] == 255).count()
    };
    assert_eq!(run(1.0, 300, 1), 80, "the block appears as foreground");
    assert!(run(1.0, 300, 60) < 8, "MOG2 absorbs it");
    assert!(run(0.1, 1000, 60) > 72, "feedback keeps it");
    assert!(run(0.1, 5, 120) < 8, "after the hold it is absorbed");
}

#[test]
fn background_propagation_matches_reference() {
    for c in [1, 3] {
        let p = ModelParams {
            propagation_rate: 1.0,
            ..ModelParams::default()
        };
        check(&p, c, 1, 40 + c as u64);
        check(&p, c, 2, 50 + c as u64);
    }
}

#[test]
fn displacement_test_matches_reference() {
    for c in [1, 3] {
        let p = ModelParams {
            displacement: true,
            displacement_threshold: if c == 1 { 1.0 } else { 0.5 },
            propagation_rate: 0.5,
            ..ModelParams::default()
        };
        check(&p, c, 1, 60 + c as u64);
    }
}
