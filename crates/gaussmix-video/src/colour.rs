//! A tracked object's colours as a small Gaussian mixture.
//!
//! p(x) = (1 − ε) Σ_k π_k N(x | μ_k, diag σ²_k) + ε U(x), x a pixel's RGB (or grey) value,
//! at most [`MAX_K`] components, U uniform over the colour cube (the pixels a blob's
//! colours do not explain: blurred edges, JPEG ringing, a shadow's rim), ε fixed. Fitted
//! by EM on a few hundred pixels of the object's blob, seeded deterministically at the
//! densest colours; then followed frame by frame by blending one EM step on the new
//! blob's pixels into the parameters (the colours drift with the light). Unlike a
//! 4×4×4 histogram, two greens 20 levels apart are two colours, not one bin.

/// Most components of a colour model.
pub const MAX_K: usize = 3;

/// Pixels sampled from a blob to fit, update or compare a model.
pub const SAMPLES: usize = 192;

/// Fixed weight of the uniform outlier part.
const EPS: f32 = 0.05;
/// Variance floor and ceiling (levels²): noise and JPEG keep a flat colour at σ ≈ 3-4.
const VAR_MIN: f32 = 16.0;
const VAR_MAX: f32 = 900.0;
/// EM iterations of a fresh fit.
const ITERS: usize = 8;
/// Components lighter than this neither seed nor explain.
const MIN_WEIGHT: f32 = 0.05;

/// A small diagonal Gaussian mixture of colours (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct ColourModel {
    d: usize,
    k: usize,
    w: [f32; MAX_K],
    mu: [[f32; 3]; MAX_K],
    var: [[f32; 3]; MAX_K],
    ivar: [[f32; 3]; MAX_K],
    /// ln π_k − ½ Σ ln(2π σ²).
    lc: [f32; MAX_K],
    /// ln of the uniform density, ε U.
    l_out: f32,
    /// Squared Mahalanobis radius inside which a component explains a pixel.
    r2: f32,
}

#[inline]
fn d2(x: &[f32; 3], m: &[f32; 3], iv: &[f32; 3], d: usize) -> f32 {
    let mut s = 0.0;
    for c in 0..d {
        let e = x[c] - m[c];
        s += e * e * iv[c];
    }
    s
}

impl ColourModel {
    /// Fits a model to `samples` (`d` = 1 or 3 channels used); None with fewer than 8.
    pub fn fit(samples: &[[f32; 3]], d: usize) -> Option<Self> {
        let n = samples.len();
        if n < 8 {
            return None;
        }
        let d = d.clamp(1, 3);
        // Seeds: the sample with most neighbours within 12 levels, then the densest among
        // those at least 30 levels from every seed, while such a sample has 5 % of them
        // as neighbours.
        let dist2 = |a: &[f32; 3], b: &[f32; 3]| {
            let mut s = 0.0;
            for c in 0..d {
                s += (a[c] - b[c]) * (a[c] - b[c]);
            }
            s
        };
        let counts: Vec<u32> = samples
            .iter()
            .map(|a| samples.iter().filter(|b| dist2(a, b) <= 144.0).count() as u32)
            .collect();
        let mut seeds: Vec<usize> = Vec::with_capacity(MAX_K);
        while seeds.len() < MAX_K {
            let best = (0..n)
                .filter(|&i| {
                    !seeds
                        .iter()
                        .any(|&s| dist2(&samples[i], &samples[s]) < 900.0)
                })
                .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
            match best {
                Some(i) if seeds.is_empty() || counts[i] as f32 >= MIN_WEIGHT * n as f32 => {
                    seeds.push(i)
                }
                _ => break,
            }
        }
        let k = seeds.len();
        let mut m = ColourModel {
            d,
            k,
            w: [0.0; MAX_K],
            mu: [[0.0; 3]; MAX_K],
            var: [[0.0; 3]; MAX_K],
            ivar: [[0.0; 3]; MAX_K],
            lc: [0.0; MAX_K],
            l_out: EPS.ln() - d as f32 * 256f32.ln(),
            r2: if d == 1 { 16.0 } else { 25.0 },
        };
        for (j, &s) in seeds.iter().enumerate() {
            m.w[j] = 1.0 / k as f32;
            m.mu[j] = samples[s];
            m.var[j] = [4.0 * VAR_MIN; 3];
        }
        m.prepare();
        for _ in 0..ITERS {
            let (w, mu, var) = m.em_step(samples);
            for j in 0..k {
                if w[j] > 0.0 {
                    m.w[j] = w[j];
                    m.mu[j] = mu[j];
                    m.var[j] = var[j];
                } else {
                    m.w[j] = 0.0;
                }
            }
            m.prepare();
        }
        Some(m)
    }

    /// Derived constants from weights, means and variances (weights renormalised,
    /// variances clamped).
    fn prepare(&mut self) {
        let tw: f32 = self.w[..self.k].iter().sum();
        for j in 0..self.k {
            self.w[j] = if tw > 0.0 { self.w[j] / tw } else { 1.0 };
            let mut l = self.w[j].max(1e-12).ln() + (1.0 - EPS).ln();
            for c in 0..self.d {
                let v = self.var[j][c].clamp(VAR_MIN, VAR_MAX);
                self.var[j][c] = v;
                self.ivar[j][c] = 1.0 / v;
                l -= 0.5 * (2.0 * std::f32::consts::PI * v).ln();
            }
            self.lc[j] = l;
        }
    }

    /// One EM step on `samples`: the new weights, means and variances (weight 0 for a
    /// component no sample chose).
    #[allow(clippy::type_complexity)]
    fn em_step(
        &self,
        samples: &[[f32; 3]],
    ) -> ([f32; MAX_K], [[f32; 3]; MAX_K], [[f32; 3]; MAX_K]) {
        let (k, d) = (self.k, self.d);
        let mut s0 = [0.0f32; MAX_K];
        let mut s1 = [[0.0f32; 3]; MAX_K];
        let mut s2 = [[0.0f32; 3]; MAX_K];
        let mut l = [0.0f32; MAX_K];
        for x in samples {
            let mut top = self.l_out;
            for (j, lj) in l.iter_mut().enumerate().take(k) {
                *lj = self.lc[j] - 0.5 * d2(x, &self.mu[j], &self.ivar[j], d);
                top = top.max(*lj);
            }
            let mut z = (self.l_out - top).exp();
            for lj in l.iter_mut().take(k) {
                *lj = (*lj - top).exp();
                z += *lj;
            }
            for j in 0..k {
                let g = l[j] / z;
                s0[j] += g;
                for c in 0..d {
                    let e = x[c] - self.mu[j][c];
                    s1[j][c] += g * e;
                    s2[j][c] += g * e * e;
                }
            }
        }
        let mut w = [0.0; MAX_K];
        let mut mu = self.mu;
        let mut var = self.var;
        let t: f32 = s0[..k].iter().sum();
        for j in 0..k {
            if s0[j] < 1e-3 || t <= 0.0 {
                continue;
            }
            w[j] = s0[j] / t;
            for c in 0..d {
                let e = s1[j][c] / s0[j];
                mu[j][c] = self.mu[j][c] + e;
                var[j][c] = s2[j][c] / s0[j] - e * e;
            }
        }
        (w, mu, var)
    }

    /// Follows the object's colours: one EM step on `samples` blended into the model with
    /// rate `eta` (weights and means by their running mean, variances by the running second
    /// moment about the new mean).
    pub fn update(&mut self, samples: &[[f32; 3]], eta: f32) {
        if samples.len() < 8 {
            return;
        }
        let (w, mu, var) = self.em_step(samples);
        for j in 0..self.k {
            let a = if w[j] > 0.0 { eta } else { 0.0 };
            let nw = (1.0 - eta) * self.w[j] + eta * w[j];
            for c in 0..self.d {
                let m = (1.0 - a) * self.mu[j][c] + a * mu[j][c];
                let (e0, e1) = (self.mu[j][c] - m, mu[j][c] - m);
                self.var[j][c] = (1.0 - a) * (self.var[j][c] + e0 * e0) + a * (var[j][c] + e1 * e1);
                self.mu[j][c] = m;
            }
            self.w[j] = nw;
        }
        self.prepare();
    }

    /// ln p(x) of a pixel, the log density of the mixture with its outlier part (at least
    /// ln εU): a pixel of none of the object's colours scores the same however far off.
    #[inline]
    pub fn log_density(&self, x: &[f32; 3]) -> f32 {
        let mut top = self.l_out;
        for j in 0..self.k {
            top = top.max(self.lc[j] - 0.5 * d2(x, &self.mu[j], &self.ivar[j], self.d));
        }
        top
    }

    /// Whether a component of weight at least 5 % holds `x` within its explaining radius
    /// (5 σ in RGB, 4 σ in grey).
    #[inline]
    pub fn explains(&self, x: &[f32; 3]) -> bool {
        (0..self.k).any(|j| {
            self.w[j] >= MIN_WEIGHT && d2(x, &self.mu[j], &self.ivar[j], self.d) <= self.r2
        })
    }

    /// Colour distance of a blob's pixels `samples` to the model, in [0, 1]: the fraction
    /// of them it does not explain. None without samples.
    pub fn distance(&self, samples: &[[f32; 3]]) -> Option<f64> {
        if samples.is_empty() {
            return None;
        }
        let out = samples.iter().filter(|x| !self.explains(x)).count();
        Some(out as f64 / samples.len() as f64)
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_tone(a: [f32; 3], b: [f32; 3], n: usize) -> Vec<[f32; 3]> {
        // 70 % body, 30 % stripe, a deterministic ±3 jitter.
        (0..n)
            .map(|i| {
                let j = ((i * 7919) % 7) as f32 - 3.0;
                let c = if i % 10 < 7 { a } else { b };
                [c[0] + j, c[1] - j, c[2] + 0.5 * j]
            })
            .collect()
    }

    #[test]
    fn fits_both_tones_and_tells_near_colours_apart() {
        let s = two_tone([40.0, 180.0, 60.0], [200.0, 200.0, 40.0], SAMPLES);
        let m = ColourModel::fit(&s, 3).expect("enough samples");
        assert_eq!(m.components(), 2);
        assert!(m.distance(&s).unwrap() < 0.02);
        // Another green 30 levels off, in the same 4x4x4 bins (red and blue in bin 0, green
        // in bin 2), is not this object's colour.
        let t = two_tone([20.0, 150.0, 45.0], [200.0, 200.0, 40.0], SAMPLES);
        let bins = |x: &[f32; 3]| x.map(|v| (v as u8) >> 6);
        assert_eq!(bins(&s[0]), bins(&t[0]), "one 4x4x4 histogram bin");
        let dt = m.distance(&t).unwrap();
        assert!(dt > 0.6, "distance {dt}");
        assert!(m.log_density(&s[0]) > m.log_density(&t[0]) + 5.0);
    }

    #[test]
    fn follows_a_drifting_colour() {
        let s = two_tone([40.0, 180.0, 60.0], [200.0, 100.0, 40.0], SAMPLES);
        let mut m = ColourModel::fit(&s, 3).unwrap();
        // 30 % brighter over 40 frames.
        let mut last = s.clone();
        for f in 1..=40 {
            let g = 1.0 + 0.3 * f as f32 / 40.0;
            last = s.iter().map(|x| [x[0] * g, x[1] * g, x[2] * g]).collect();
            m.update(&last, 0.1);
        }
        assert!(m.distance(&last).unwrap() < 0.05);
        assert!(m.distance(&s).unwrap() > 0.3);
    }

    #[test]
    fn grey_and_degenerate_input() {
        assert!(ColourModel::fit(&[[1.0; 3]; 7], 3).is_none());
        let s: Vec<[f32; 3]> = (0..64)
            .map(|i| [100.0 + (i % 3) as f32, 0.0, 0.0])
            .collect();
        let m = ColourModel::fit(&s, 1).unwrap();
        assert_eq!(m.components(), 1);
        assert_eq!(m.distance(&s), Some(0.0));
        assert!(!m.explains(&[130.0, 0.0, 0.0]));
        assert_eq!(m.distance(&[]), None);
    }
}
