//! Connected components and mask clean-up on hand-made masks.

use gaussmix_video::post::{components, fill_holes, majority, Blob, PostProcess};

/// Parses a picture: '#' foreground (255), 's' shadow (127), anything else background.
fn mask(rows: &[&str]) -> (Vec<u8>, usize, usize) {
    let w = rows[0].len();
    let m = rows
        .iter()
        .flat_map(|r| {
            assert_eq!(r.len(), w);
            r.bytes().map(|b| match b {
                b'#' => 255,
                b's' => 127,
                _ => 0,
            })
        })
        .collect();
    (m, w, rows.len())
}

#[test]
fn eight_connected_blobs_with_statistics() {
    let (m, w, h) = mask(&[
        "##......#.",
        "##.......#",
        "..#......#",
        ".....###..",
        ".....###..",
        "#.........",
    ]);
    let mut labels = Vec::new();
    let blobs = components(&m, w, h, 1, &mut labels);
    assert_eq!(blobs.len(), 4, "{blobs:?}");
    // The 2x2 square and its diagonal neighbour are one 8-connected blob.
    assert_eq!(
        blobs[0],
        Blob {
            label: 1,
            area: 5,
            x: 0,
            y: 0,
            w: 3,
            h: 3,
            cx: (0.0 + 1.0 + 0.0 + 1.0 + 2.0) / 5.0,
            cy: (0.0 + 0.0 + 1.0 + 1.0 + 2.0) / 5.0,
        }
    );
    // The diagonal at the top right: (8,0), (9,1), (9,2).
    assert_eq!(
        (
            blobs[1].area,
            blobs[1].x,
            blobs[1].y,
            blobs[1].w,
            blobs[1].h
        ),
        (3, 8, 0, 2, 3)
    );
    assert_eq!(
        (
            blobs[2].area,
            blobs[2].x,
            blobs[2].y,
            blobs[2].w,
            blobs[2].h
        ),
        (6, 5, 3, 3, 2)
    );
    assert_eq!((blobs[2].cx, blobs[2].cy), (6.0, 3.5));
    assert_eq!((blobs[3].area, blobs[3].x, blobs[3].y), (1, 0, 5));
    assert_eq!(labels[0], 1);
    assert_eq!(labels[2 * w + 2], 1);
    assert_eq!(labels[3 * w + 6], 3);
    assert_eq!(labels[5 * w], 4);
    assert_eq!(labels[w * 3], 0);

    // Minimum area drops the single pixel and the diagonal; labels stay consecutive.
    let blobs = components(&m, w, h, 4, &mut labels);
    assert_eq!(
        blobs.iter().map(|b| (b.label, b.area)).collect::<Vec<_>>(),
        vec![(1, 5), (2, 6)]
    );
    assert_eq!(labels[5 * w], 0);
    assert_eq!(labels[9], 0);
    assert_eq!(labels[3 * w + 6], 2);
}

#[test]
fn shadows_are_not_foreground_for_components() {
    let (m, w, h) = mask(&["##ss##", "......"]);
    let mut labels = Vec::new();
    let blobs = components(&m, w, h, 1, &mut labels);
    assert_eq!(blobs.len(), 2);
}

#[test]
fn empty_and_full_masks() {
    let mut labels = Vec::new();
    assert!(components(&[0; 12], 4, 3, 1, &mut labels).is_empty());
    let b = components(&[255; 12], 4, 3, 1, &mut labels);
    assert_eq!(
        (b.len(), b[0].area, b[0].w, b[0].h, b[0].cx, b[0].cy),
        (1, 12, 4, 3, 1.5, 1.0)
    );
}

fn naive_fill(fg: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut reach = vec![false; w * h];
    let mut stack: Vec<usize> = (0..w * h)
        .filter(|&i| fg[i] == 0 && (i % w == 0 || i % w == w - 1 || i / w == 0 || i / w == h - 1))
        .collect();
    for &i in &stack {
        reach[i] = true;
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let mut nb = vec![];
        if x > 0 {
            nb.push(i - 1);
        }
        if x + 1 < w {
            nb.push(i + 1);
        }
        if y > 0 {
            nb.push(i - w);
        }
        if y + 1 < h {
            nb.push(i + w);
        }
        for j in nb {
            if fg[j] == 0 && !reach[j] {
                reach[j] = true;
                stack.push(j);
            }
        }
    }
    (0..w * h)
        .map(|i| if fg[i] != 0 || !reach[i] { 1 } else { 0 })
        .collect()
}

#[test]
fn fill_holes_fills_enclosed_background_only() {
    let rows = [
        "..........",
        ".#####....",
        ".#...#..##",
        ".#.#.#..#.",
        ".#####..#.",
        "........##",
    ];
    let (m, w, h) = mask(&rows);
    let mut fg: Vec<u8> = m.iter().map(|&v| (v == 255) as u8).collect();
    fill_holes(&mut fg, w, h);
    // The ring's inside is filled; the bracket open to the border on the right is not.
    assert_eq!(fg[2 * w + 2], 1);
    assert_eq!(fg[3 * w + 4], 1);
    assert_eq!(fg[3 * w + 9], 0);
    assert_eq!(fg[0], 0);
    // With a size limit the ring's 5-pixel hole stays open below 5.
    let mut fg2: Vec<u8> = m.iter().map(|&v| (v == 255) as u8).collect();
    gaussmix_video::post::fill_holes_upto(&mut fg2, w, h, 4);
    assert_eq!(fg2[2 * w + 2], 0);
    let mut fg3: Vec<u8> = m.iter().map(|&v| (v == 255) as u8).collect();
    gaussmix_video::post::fill_holes_upto(&mut fg3, w, h, 5);
    assert_eq!(fg3, fg);
    // Random masks against a pixel flood fill.
    let mut s = 99u64;
    for t in 0..200 {
        let (w, h) = (3 + t % 17, 2 + t % 11);
        let fg: Vec<u8> = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % 100 < 45) as u8
            })
            .collect();
        let mut a = fg.clone();
        fill_holes(&mut a, w, h);
        assert_eq!(a, naive_fill(&fg, w, h), "w={w} h={h} fg={fg:?}");
    }
}

#[test]
fn majority_removes_specks_and_keeps_solid_regions() {
    let (m, w, h) = mask(&[
        "#.........",
        "..........",
        "....#.....",
        "......####",
        "......####",
        "......####",
    ]);
    let fg: Vec<u8> = m.iter().map(|&v| (v == 255) as u8).collect();
    let mut out = vec![0; w * h];
    let mut scratch = Vec::new();
    majority(&fg, &mut out, w, h, 1, &mut scratch);
    assert_eq!(out[0], 0, "corner speck");
    assert_eq!(out[2 * w + 4], 0, "isolated speck");
    assert_eq!(out[4 * w + 8], 1, "inside the block");
    assert_eq!(out[5 * w + 9], 1, "block corner: 4 of the 4 clipped pixels");
    assert_eq!(out[3 * w + 6], 0, "block corner inside the image: 4 of 9");
}

#[test]
fn post_process_chain() {
    let rows = [
        "..........",
        ".#######..",
        ".#.....#..",
        ".#.#...#..",
        ".#######ss",
        "#.......ss",
    ];
    let (mut m, w, h) = mask(&rows);
    let p = PostProcess {
        median: 0,
        close: false,
        max_hole_fraction: 1.0,
        ..PostProcess::default()
    };
    p.apply(&mut m, w, h);
    assert_eq!(m[2 * w + 3], 255, "hole filled");
    assert_eq!(m[4 * w + 9], 127, "shadow kept");
    assert_eq!(m[5 * w], 255, "speck kept without the median");
    let (mut m2, _, _) = mask(&rows);
    PostProcess {
        keep_shadows: false,
        median: 3,
        ..PostProcess::default()
    }
    .apply(&mut m2, w, h);
    assert_eq!(m2[5 * w], 0, "speck removed by the median");
    assert_eq!(m2[4 * w + 9], 0, "shadow dropped");
    assert!(m2.iter().all(|&v| v == 0 || v == 255));
    let (mut m3, _, _) = mask(&rows);
    PostProcess::none().apply(&mut m3, w, h);
    assert_eq!(m3, mask(&rows).0);
    assert!(PostProcess {
        median: 4,
        ..PostProcess::default()
    }
    .validate()
    .is_err());
}

#[test]
fn box_filters_match_a_naive_window() {
    use gaussmix_video::post::{dilate3, erode3};
    let mut s = 7u64;
    let mut scratch = Vec::new();
    for t in 0..60 {
        let (w, h) = (1 + t % 13, 1 + t % 9);
        let fg: Vec<u8> = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % 100 < 50) as u8
            })
            .collect();
        for r in 0..=3usize {
            let count = |x: usize, y: usize| {
                let (mut n, mut a) = (0u32, 0u32);
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        n += fg[yy * w + xx] as u32;
                        a += 1;
                    }
                }
                (n, a)
            };
            let mut out = vec![9u8; w * h];
            majority(&fg, &mut out, w, h, r, &mut scratch);
            for y in 0..h {
                for x in 0..w {
                    let (n, a) = count(x, y);
                    assert_eq!(
                        out[y * w + x],
                        (2 * n > a) as u8,
                        "majority r={r} ({x},{y}) {w}x{h}"
                    );
                }
            }
            if r == 1 {
                let mut d = vec![9u8; w * h];
                let mut e = vec![9u8; w * h];
                dilate3(&fg, &mut d, w, h, &mut scratch);
                erode3(&fg, &mut e, w, h, &mut scratch);
                for y in 0..h {
                    for x in 0..w {
                        let (n, a) = count(x, y);
                        assert_eq!(d[y * w + x], (n > 0) as u8);
                        assert_eq!(e[y * w + x], (n == a) as u8);
                    }
                }
            }
        }
    }
}

#[test]
fn support_mask_sums_scores_over_the_window() {
    use gaussmix_video::post::support_mask;
    let (w, h) = (12, 9);
    // A 3x3 block of score 40 (each below a threshold of 60 alone, enough together with
    // a radius-1 window once the window is mostly inside the block: 9*40 = 360 >= 9*40),
    // an isolated 255 far away (255 < 9*40), and a shadow pixel.
    let mut score = vec![0u8; w * h];
    for y in 2..5 {
        for x in 2..5 {
            score[y * w + x] = 40;
        }
    }
    score[5 * w + 8] = 255;
    let mut mask = vec![255u8; w * h];
    mask[8 * w + 11] = 127;
    let mut scratch = Vec::new();
    support_mask(&score, &mut mask, w, h, 1, 40, 0, &mut scratch);
    let fg: Vec<usize> = (0..w * h).filter(|&i| mask[i] == 255).collect();
    assert_eq!(
        fg,
        vec![3 * w + 3],
        "only the block's centre has full support"
    );
    assert_eq!(mask[8 * w + 11], 127, "shadows are kept");
    // Threshold 4 per pixel (36 per full window): every window touching the block
    // (40 >= 36) or the strong pixel (255 >= 36) qualifies.
    let mut mask = vec![0u8; w * h];
    support_mask(&score, &mut mask, w, h, 1, 4, 0, &mut scratch);
    assert_eq!(mask[3 * w + 3], 255);
    assert_eq!(mask[w + 1], 255, "corner of the block's window");
    assert_eq!(mask[6 * w + 9], 255, "beside the strong pixel");
    assert_eq!(mask[8 * w], 0, "far from everything");
    // With an own-evidence floor of 1 only pixels with a score of their own qualify.
    let mut mask = vec![0u8; w * h];
    support_mask(&score, &mut mask, w, h, 1, 4, 1, &mut scratch);
    let fg: Vec<usize> = (0..w * h).filter(|&i| mask[i] == 255).collect();
    let mut want: Vec<usize> = (2..5)
        .flat_map(|y| (2..5).map(move |x| y * w + x))
        .collect();
    want.push(5 * w + 8);
    want.sort();
    assert_eq!(fg, want);
}
