//! Constant-velocity Kalman filter on boxes: state (cx, cy, w, h, vx, vy, vw, vh),
//! measurement (cx, cy, w, h), one frame per step.

// Index loops mirror the maths (lanes, modes, matrix entries) more clearly here.
#![allow(clippy::needless_range_loop)]

const N: usize = 8;
const M: usize = 4;

/// Noise settings of [`BoxKalman`] (pixel units, per frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KalmanNoise {
    /// Process noise standard deviation of the position and size.
    pub pos: f64,
    /// Process noise standard deviation of the velocities.
    pub vel: f64,
    /// Measurement noise standard deviation.
    pub meas: f64,
    /// Initial standard deviation of the velocities.
    pub init_vel: f64,
}

impl Default for KalmanNoise {
    fn default() -> Self {
        KalmanNoise {
            pos: 1.0,
            vel: 0.5,
            meas: 2.0,
            init_vel: 10.0,
        }
    }
}

/// A Kalman filter tracking one box with constant velocity.
#[derive(Clone, Debug)]
pub struct BoxKalman {
    x: [f64; N],
    p: [[f64; N]; N],
    noise: KalmanNoise,
}

impl BoxKalman {
    /// Starts at box (cx, cy, w, h) with zero velocity.
    pub fn new(z: [f64; M], noise: KalmanNoise) -> Self {
        let mut x = [0.0; N];
        x[..M].copy_from_slice(&z);
        let mut p = [[0.0; N]; N];
        for (i, row) in p.iter_mut().enumerate() {
            row[i] = if i < M {
                noise.meas * noise.meas
            } else {
                noise.init_vel * noise.init_vel
            };
        }
        BoxKalman { x, p, noise }
    }

    /// The current state (cx, cy, w, h, vx, vy, vw, vh).
    pub fn state(&self) -> [f64; N] {
        self.x
    }

    /// The current box (cx, cy, w, h), sizes kept ≥ 1.
    pub fn bbox(&self) -> [f64; M] {
        [self.x[0], self.x[1], self.x[2].max(1.0), self.x[3].max(1.0)]
    }

    /// Restarts at box `z` (as [`BoxKalman::new`]) but keeps the centre velocity
    /// (vx, vy) it had: a track found again after an occlusion moves on as before.
    pub fn restart_at(&mut self, z: [f64; M]) {
        let (vx, vy) = (self.x[4], self.x[5]);
        *self = BoxKalman::new(z, self.noise);
        self.x[4] = vx;
        self.x[5] = vy;
    }

    /// Advances one frame: x ← F x, P ← F P Fᵀ + Q.
    pub fn predict(&mut self) {
        for i in 0..M {
            self.x[i] += self.x[i + M];
        }
        // F P Fᵀ with F = [[I, I], [0, I]].
        let p = self.p;
        let mut fp = p;
        for i in 0..M {
            for j in 0..N {
                fp[i][j] = p[i][j] + p[i + M][j];
            }
        }
        let mut out = fp;
        for i in 0..N {
            for j in 0..M {
                out[i][j] = fp[i][j] + fp[i][j + M];
            }
        }
        for (i, row) in out.iter_mut().enumerate() {
            row[i] += if i < M {
                self.noise.pos * self.noise.pos
            } else {
                self.noise.vel * self.noise.vel
            };
        }
        self.p = out;
    }

    /// Corrects with a measured box z = (cx, cy, w, h).
    pub fn update(&mut self, z: [f64; M]) {
        // S = H P Hᵀ + R (top-left block), K = P Hᵀ S⁻¹ (left columns).
        let mut s = [[0.0; M]; M];
        for i in 0..M {
            for j in 0..M {
                s[i][j] = self.p[i][j];
            }
            s[i][i] += self.noise.meas * self.noise.meas;
        }
        let Some(si) = invert4(s) else { return };
        let mut k = [[0.0; M]; N];
        for i in 0..N {
            for j in 0..M {
                k[i][j] = (0..M).map(|l| self.p[i][l] * si[l][j]).sum();
            }
        }
        let y: Vec<f64> = (0..M).map(|i| z[i] - self.x[i]).collect();
        for i in 0..N {
            self.x[i] += (0..M).map(|j| k[i][j] * y[j]).sum::<f64>();
        }
        // P ← P − K (H P); H P is the first M rows of P.
        let p = self.p;
        for i in 0..N {
            for j in 0..N {
                self.p[i][j] = p[i][j] - (0..M).map(|l| k[i][l] * p[l][j]).sum::<f64>();
            }
        }
        for i in 0..N {
            for j in 0..i {
                let a = 0.5 * (self.p[i][j] + self.p[j][i]);
                self.p[i][j] = a;
                self.p[j][i] = a;
            }
        }
    }
}

/// Inverse of a 4×4 matrix by Gauss–Jordan with partial pivoting (None if singular).
fn invert4(mut a: [[f64; M]; M]) -> Option<[[f64; M]; M]> {
    let mut inv = [[0.0; M]; M];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for c in 0..M {
        let piv = (c..M).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, piv);
        inv.swap(c, piv);
        let d = a[c][c];
        for j in 0..M {
            a[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..M {
            if r != c {
                let f = a[r][c];
                for j in 0..M {
                    a[r][j] -= f * a[c][j];
                    inv[r][j] -= f * inv[c][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_constant_velocity() {
        let mut kf = BoxKalman::new([10.0, 20.0, 8.0, 6.0], KalmanNoise::default());
        for t in 1..30 {
            kf.predict();
            kf.update([10.0 + 3.0 * t as f64, 20.0 - 1.0 * t as f64, 8.0, 6.0]);
        }
        let s = kf.state();
        assert!(
            (s[4] - 3.0).abs() < 0.05 && (s[5] + 1.0).abs() < 0.05,
            "{s:?}"
        );
        kf.predict();
        assert!((kf.bbox()[0] - (10.0 + 90.0)).abs() < 0.5);
    }

    #[test]
    fn inverse() {
        let a = [
            [4.0, 1.0, 0.0, 0.0],
            [1.0, 3.0, 0.5, 0.0],
            [0.0, 0.5, 2.0, 0.1],
            [0.0, 0.0, 0.1, 1.0],
        ];
        let b = invert4(a).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                let v: f64 = (0..4).map(|k| a[i][k] * b[k][j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
