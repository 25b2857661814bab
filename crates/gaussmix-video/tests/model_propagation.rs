//! Background propagation (`ModelParams::propagation_rate`): a ghost left by an object
//! that stood in the first frames is eaten from its edges, a real object that stops is
//! not absorbed any sooner for it.

use gaussmix_video::model::{BackgroundModel, ModelParams};

const W: usize = 40;
const H: usize = 30;

/// A textured grey background (value 60..100) with a little deterministic noise.
fn background(t: usize) -> Vec<u8> {
    (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            let tex = 60 + ((x * 7 + y * 13) % 40) as i32;
            let noise = ((i * 31 + t * 17) % 5) as i32 - 2;
            (tex + noise) as u8
        })
        .collect()
}

/// Pixels inside the 12×12 square at (14, 9).
fn square(i: usize) -> bool {
    let (x, y) = (i % W, i / W);
    (14..26).contains(&x) && (9..21).contains(&y)
}

fn count_fg(mask: &[u8], inside: impl Fn(usize) -> bool) -> usize {
    mask.iter()
        .enumerate()
        .filter(|&(i, &m)| m == 255 && inside(i))
        .count()
}

/// Foreground pixels of the square's region at the end of `frames` frames with
/// propagation at `rate`, the square (value 220) painted over the background in the
/// frames where `shown(t)`.
fn square_left(rate: f32, frames: usize, shown: impl Fn(usize) -> bool) -> usize {
    let p = ModelParams {
        propagation_rate: rate,
        displacement: false,
        ..ModelParams::default()
    };
    let mut m = BackgroundModel::new(&p, W, H, 1, 1).unwrap();
    let mut mask = vec![0u8; W * H];
    for t in 0..frames {
        let mut f = background(t);
        if shown(t) {
            for (i, v) in f.iter_mut().enumerate() {
                if square(i) {
                    *v = 220;
                }
            }
        }
        m.apply(&f, &mut mask).unwrap();
    }
    count_fg(&mask, square)
}

/// Foreground pixels of the square's region after `after` frames of plain background,
/// the square having stood there for the first `stood` frames.
fn ghost_left(rate: f32, stood: usize, after: usize) -> usize {
    square_left(rate, stood + after, |t| t < stood)
}

#[test]
fn propagation_eats_a_ghost_sooner() {
    // Pixels that were foreground learn at 0.05·α (the default feedback), so a ghost
    // stays; propagation eats it from its rim inward.
    let without = ghost_left(0.0, 60, 60);
    let with = ghost_left(1.0, 60, 60);
    assert!(
        without > 100,
        "the ghost should still be there without propagation: {without}"
    );
    assert!(
        with + 20 <= without,
        "with propagation {with}, without {without}"
    );
}

/// Foreground pixels of a square (value 220) that appeared at frame 100 over a learned
/// background and stayed, `after` frames later.
fn object_left(rate: f32, after: usize) -> usize {
    square_left(rate, 100 + after, |t| t >= 100)
}

#[test]
fn propagation_does_not_absorb_a_stopped_object() {
    let with = object_left(1.0, 40);
    let without = object_left(0.0, 40);
    assert!(without >= 130, "{without}");
    assert!(
        with + 4 >= without,
        "with propagation {with}, without {without}"
    );
}

/// A textured frame shifted right by `dx` pixels (the camera shook).
fn shifted(dx: usize) -> Vec<u8> {
    let b = background(0);
    (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            b[y * W + x.saturating_sub(dx)]
        })
        .collect()
}

fn shaken_fg(displacement: bool) -> usize {
    let p = ModelParams {
        displacement,
        ..ModelParams::default()
    };
    let mut m = BackgroundModel::new(&p, W, H, 1, 1).unwrap();
    let mut mask = vec![0u8; W * H];
    for _ in 0..50 {
        m.apply(&shifted(0), &mut mask).unwrap();
    }
    m.apply(&shifted(1), &mut mask).unwrap();
    count_fg(&mask, |_| true)
}

#[test]
fn displacement_keeps_a_one_pixel_shake_background() {
    let without = shaken_fg(false);
    let with = shaken_fg(true);
    assert!(
        without > 100,
        "a 1-px shift of the texture should light up edges: {without}"
    );
    assert!(
        with * 10 <= without,
        "with the test {with}, without {without}"
    );
}

#[test]
fn displacement_keeps_an_object_foreground() {
    // The square of object_left, with the displacement test on (the default).
    let p = ModelParams::default();
    assert!(p.displacement);
    let mut m = BackgroundModel::new(&p, W, H, 1, 1).unwrap();
    let mut mask = vec![0u8; W * H];
    for t in 0..60 {
        let mut f = background(t);
        if t == 59 {
            for (i, v) in f.iter_mut().enumerate() {
                if square(i) {
                    *v = 220;
                }
            }
        }
        m.apply(&f, &mut mask).unwrap();
    }
    assert_eq!(count_fg(&mask, square), 144);
}
