//! Drawing track boxes and ids into RGB frames (no font dependency: a 3×5 digit font).

/// 3×5 bitmaps of the digits 0–9, one row per 3 bits (MSB left).
const DIGITS: [[u8; 5]; 10] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
];

/// A distinct, saturated colour for a track id.
pub fn id_colour(id: u64) -> [u8; 3] {
    const P: [[u8; 3]; 10] = [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [210, 245, 60],
        [250, 190, 212],
    ];
    P[(id % P.len() as u64) as usize]
}

fn put(img: &mut [u8], w: usize, h: usize, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
        let i = (y as usize * w + x as usize) * 3;
        img[i..i + 3].copy_from_slice(&c);
    }
}

/// Draws the outline of box (x, y, bw, bh), `thick` pixels wide, clipped to the image
/// (`img` is RGB, `w`×`h`).
#[allow(clippy::too_many_arguments)]
pub fn rect(
    img: &mut [u8],
    w: usize,
    h: usize,
    x: f64,
    y: f64,
    bw: f64,
    bh: f64,
    c: [u8; 3],
    thick: i64,
) {
    let (x0, y0) = (x.round() as i64, y.round() as i64);
    let (x1, y1) = ((x + bw).round() as i64 - 1, (y + bh).round() as i64 - 1);
    for t in 0..thick {
        for xx in x0..=x1 {
            put(img, w, h, xx, y0 + t, c);
            put(img, w, h, xx, y1 - t, c);
        }
        for yy in y0..=y1 {
            put(img, w, h, x0 + t, yy, c);
            put(img, w, h, x1 - t, yy, c);
        }
    }
}

/// Writes the decimal `n` with its top-left corner at (x, y), each font pixel `scale`
/// pixels wide, on a black backing for legibility.
#[allow(clippy::too_many_arguments)]
pub fn number(img: &mut [u8], w: usize, h: usize, x: i64, y: i64, n: u64, c: [u8; 3], scale: i64) {
    let s = n.to_string();
    let width = s.len() as i64 * 4 * scale;
    for yy in y - 1..y + 5 * scale + 1 {
        for xx in x - 1..x + width {
            put(img, w, h, xx, yy, [0, 0, 0]);
        }
    }
    for (k, ch) in s.bytes().enumerate() {
        let g = DIGITS[(ch - b'0') as usize];
        for (r, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(
                                img,
                                w,
                                h,
                                x + k as i64 * 4 * scale + col * scale + dx,
                                y + r as i64 * scale + dy,
                                c,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Draws a track box with its id above it (inside the image).
pub fn track_box(img: &mut [u8], w: usize, h: usize, row: &crate::track::TrackRow) {
    let c = id_colour(row.track_id);
    rect(img, w, h, row.x, row.y, row.w, row.h, c, 1);
    let ty = (row.y.round() as i64 - 12).max(0);
    number(
        img,
        w,
        h,
        row.x.round().max(0.0) as i64,
        ty,
        row.track_id,
        c,
        2,
    );
}
