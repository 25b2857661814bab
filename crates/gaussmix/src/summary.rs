//! One pass of summary statistics over the data — column means, the covariance matrix —
//! and what is derived from them: the scale on which components are judged degenerate,
//! mclust's default prior and the hypervolume of the noise component.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::float::Float;
use crate::par::{map_fold_blocks, Parallelism};

/// Weighted column means and (biased and unbiased) covariance of a data set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataSummary {
    /// Σ w.
    pub(crate) weight_sum: f64,
    /// Rows.
    pub(crate) n: usize,
    /// Column means (D).
    pub(crate) mean: Array1<f64>,
    /// Covariance about the mean, divided by `Σw − 1` (R's `var`), D×D.
    pub(crate) cov: Array2<f64>,
}

impl DataSummary {
    /// Two passes: the means, then the centred cross-products (exact far from the
    /// origin); fixed blocks, so the result does not depend on the thread count.
    pub(crate) fn of<T: Float>(
        x: ArrayView2<T>,
        weights: Option<ArrayView1<f64>>,
        par: Parallelism,
    ) -> Self {
        let (n, d) = x.dim();
        let w = |r: usize| weights.map_or(1.0, |w| w[r]);
        let mut sums = Array1::<f64>::zeros(d);
        let mut wsum = 0.0;
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            n,
            par,
            |s, e| {
                let mut acc = Array1::<f64>::zeros(d);
                let mut ws = 0.0;
                for r in s..e {
                    let wr = w(r);
                    ws += wr;
                    for (a, v) in acc.iter_mut().zip(x.row(r).iter()) {
                        *a += wr * v.to_f64();
                    }
                }
                Ok((acc, ws))
            },
            |(a, ws)| {
                sums += &a;
                wsum += ws;
                Ok(())
            },
        );
        let mean = if wsum > 0.0 {
            sums / wsum
        } else {
            Array1::zeros(d)
        };
        let mut cp = Array2::<f64>::zeros((d, d));
        let _ = map_fold_blocks::<_, std::convert::Infallible>(
            n,
            par,
            |s, e| {
                let mut acc = Array2::<f64>::zeros((d, d));
                let mut diff = vec![0.0; d];
                for r in s..e {
                    let wr = w(r);
                    if wr == 0.0 {
                        continue;
                    }
                    for (df, (v, m)) in diff.iter_mut().zip(x.row(r).iter().zip(mean.iter())) {
                        *df = v.to_f64() - m;
                    }
                    for i in 0..d {
                        let wi = wr * diff[i];
                        for j in 0..=i {
                            acc[[i, j]] += wi * diff[j];
                        }
                    }
                }
                Ok(acc)
            },
            |a| {
                cp += &a;
                Ok(())
            },
        );
        let denom = (wsum - 1.0).max(f64::MIN_POSITIVE);
        let mut cov = Array2::zeros((d, d));
        for i in 0..d {
            for j in 0..=i {
                let v = cp[[i, j]] / denom;
                cov[[i, j]] = v;
                cov[[j, i]] = v;
            }
        }
        DataSummary {
            weight_sum: wsum,
            n,
            mean,
            cov,
        }
    }

    /// Per-feature variances (the covariance's diagonal), floored at the smallest
    /// positive normal number so that ratios stay finite for constant columns.
    pub(crate) fn variances(&self) -> Vec<f64> {
        (0..self.mean.len())
            .map(|i| self.cov[[i, i]].max(f64::MIN_POSITIVE))
            .collect()
    }
}

/// `ln V` of mclust's `hypvol`: the smaller of the log-volumes of the data's bounding box
/// and of the bounding box of its principal-component scores.
pub(crate) fn log_hypervolume<T: Float>(x: ArrayView2<T>, summary: &DataSummary) -> f64 {
    let (n, d) = x.dim();
    let log_box = |lo: &[f64], hi: &[f64]| -> f64 {
        lo.iter()
            .zip(hi)
            .map(|(l, h)| (h - l).max(f64::MIN_POSITIVE).ln())
            .sum()
    };
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for r in 0..n {
        for (i, v) in x.row(r).iter().enumerate() {
            let v = v.to_f64();
            lo[i] = lo[i].min(v);
            hi[i] = hi[i].max(v);
        }
    }
    let raw = log_box(&lo, &hi);
    let cov: Vec<f64> = summary.cov.iter().copied().collect();
    let (_, vecs) = crate::linalg::sym_eigen(&cov, d);
    let mut plo = vec![f64::INFINITY; d];
    let mut phi = vec![f64::NEG_INFINITY; d];
    let mut diff = vec![0.0; d];
    for r in 0..n {
        for (df, (v, m)) in diff
            .iter_mut()
            .zip(x.row(r).iter().zip(summary.mean.iter()))
        {
            *df = v.to_f64() - m;
        }
        for j in 0..d {
            let mut s = 0.0;
            for i in 0..d {
                s += diff[i] * vecs[i * d + j];
            }
            plo[j] = plo[j].min(s);
            phi[j] = phi[j].max(s);
        }
    }
    raw.min(log_box(&plo, &phi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Expected: R's colMeans and var on a small matrix; the hypervolume of a rotated
    /// rectangle is the rectangle's own area, not its bounding box's.
    #[test]
    fn means_covariance_and_hypervolume() {
        let x = array![[1.0, 2.0], [3.0, 5.0], [4.0, 4.0], [0.0, 1.0]];
        let s = DataSummary::of(x.view(), None, Parallelism::Sequential);
        assert_eq!(s.mean, array![2.0, 3.0]);
        // var: sum of centred products / (n − 1)
        assert!((s.cov[[0, 0]] - 10.0 / 3.0).abs() < 1e-12);
        assert!((s.cov[[0, 1]] - 9.0 / 3.0).abs() < 1e-12);
        assert!((s.cov[[1, 1]] - 10.0 / 3.0).abs() < 1e-12);
        // a 4 × 1 rectangle rotated by 45°: corners at 45° make the bounding box larger
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let mut pts = Vec::new();
        for i in 0..=40 {
            for j in 0..=10 {
                let (u, v) = (i as f64 * 0.1, j as f64 * 0.1);
                pts.push([h * (u - v), h * (u + v)]);
            }
        }
        let x = Array2::from_shape_fn((pts.len(), 2), |(r, c)| pts[r][c]);
        let s = DataSummary::of(x.view(), None, Parallelism::Sequential);
        let lv = log_hypervolume(x.view(), &s);
        assert!((lv - 4f64.ln()).abs() < 1e-9, "{}", lv.exp());
    }
}
