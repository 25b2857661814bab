//! Symmetric eigen-decomposition of small dense matrices (cyclic Jacobi), for principal
//! axes: the SVD scaling of hierarchical initialisation and the noise component's volume.

/// Eigenvalues (descending) and eigenvectors (columns of a row-major D×D matrix) of the
/// symmetric row-major `a` (D×D). Cyclic Jacobi rotations to machine precision.
pub(crate) fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * d + j] * m[i * d + j])
            .sum();
        let total: f64 = m.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * d + q] - m[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let mkp = m[k * d + p];
                    let mkq = m[k * d + q];
                    m[k * d + p] = c * mkp - s * mkq;
                    m[k * d + q] = s * mkp + c * mkq;
                }
                for k in 0..d {
                    let mpk = m[p * d + k];
                    let mqk = m[q * d + k];
                    m[p * d + k] = c * mpk - s * mqk;
                    m[q * d + k] = s * mpk + c * mqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| m[j * d + j].total_cmp(&m[i * d + i]));
    let values = order.iter().map(|&i| m[i * d + i]).collect();
    let mut vectors = vec![0.0; d * d];
    for (new, &old) in order.iter().enumerate() {
        for k in 0..d {
            vectors[k * d + new] = v[k * d + old];
        }
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Expected: A V = V Λ and Vᵀ V = I to 1e-10 on random symmetric matrices, values
    /// in descending order.
    #[test]
    fn decomposes_random_symmetric_matrices() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for d in 1..20 {
            let b: Vec<f64> = (0..d * d).map(|_| rng.random::<f64>() - 0.5).collect();
            let mut a = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    a[i * d + j] = b[i * d + j] + b[j * d + i];
                }
            }
            let (vals, vecs) = symmetric_eigen(&a, d);
            for w in vals.windows(2) {
                assert!(w[0] >= w[1]);
            }
            for i in 0..d {
                for j in 0..d {
                    let av: f64 = (0..d).map(|k| a[i * d + k] * vecs[k * d + j]).sum();
                    assert!((av - vals[j] * vecs[i * d + j]).abs() < 1e-10, "d={d}");
                    let vtv: f64 = (0..d).map(|k| vecs[k * d + i] * vecs[k * d + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((vtv - want).abs() < 1e-10);
                }
            }
        }
    }
}
