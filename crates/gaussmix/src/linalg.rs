//! Small dense linear algebra on row-major `D×D` slices: Cholesky factors and
//! triangular inverses. D is the number of features, usually small, so plain loops
//! are adequate here; the hot loops over data live in the covariance kernels. From
//! [`FAER_MIN_D`] features on, the Cholesky factorisation, the triangular inverse and
//! `A Aᵀ` go through faer's blocked kernels (on the calling thread): the plain loops are
//! O(D³) scalar code, and the inverse's column-wise access misses the cache at large D.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Number of features from which [`cholesky_lower`], [`invert_lower`], [`a_at`] and
/// [`sym_eigen`] use faer (measured: `cargo test --release -p gaussmix --lib
/// linalg_timing -- --ignored --nocapture`; see the issue 16 note in the CHANGELOG).
///
/// faer is built without its `rayon` feature, so its only parallelism is `Par::Seq`:
/// every call here runs on the calling thread, also inside gaussmix's parallel regions
/// (the model selection's and missing-data paths' per-unit work), and never adds
/// threads to the caller's pool.
pub(crate) const FAER_MIN_D: usize = 64;

#[cfg(test)]
thread_local! {
    /// Test hook: while set, this thread takes the plain loops and the tile kernels at
    /// every size (see [`plain_paths`]).
    static PLAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the faer paths off on this thread ([`FAER_MIN_D`] here and the GEMM
/// path of the kernels): a sequential fit inside compares with the same fit on faer.
#[cfg(test)]
pub(crate) fn plain_paths<R>(f: impl FnOnce() -> R) -> R {
    PLAIN.with(|p| p.set(true));
    let r = f();
    PLAIN.with(|p| p.set(false));
    r
}

/// Whether the faer paths are on for this thread (always, outside tests).
#[inline]
pub(crate) fn faer_enabled() -> bool {
    #[cfg(test)]
    {
        !PLAIN.with(|p| p.get())
    }
    #[cfg(not(test))]
    {
        true
    }
}

/// Whether a `d×d` problem goes through faer.
#[inline]
fn faer_at(d: usize) -> bool {
    d >= FAER_MIN_D && faer_enabled()
}

/// In-place Cholesky factorisation `A = L Lᵀ` of a symmetric matrix stored row-major
/// in `a` (`d×d`). On success the lower triangle holds `L` and the strict upper
/// triangle is zeroed. Returns `Err(j)` with the failing pivot when `A` is not
/// (numerically) positive definite or holds non-finite values.
pub(crate) fn cholesky_lower(a: &mut [f64], d: usize) -> Result<(), usize> {
    debug_assert_eq!(a.len(), d * d);
    if faer_at(d) {
        return cholesky_lower_faer(a, d);
    }
    cholesky_lower_loops(a, d)
}

/// [`cholesky_lower`] by plain loops.
fn cholesky_lower_loops(a: &mut [f64], d: usize) -> Result<(), usize> {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if !(s > 0.0 && s.is_finite()) {
            return Err(j);
        }
        let ljj = s.sqrt();
        a[j * d + j] = ljj;
        for i in (j + 1)..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / ljj;
        }
        for i in 0..j {
            a[i * d + j] = 0.0;
        }
    }
    Ok(())
}

/// [`cholesky_lower`] by faer's blocked left-looking factorisation, with the same
/// contract (lower triangle read, `L` written below and on the diagonal, zeros above;
/// `Err(j)` for a non-positive or non-finite pivot `j`, or the first row holding a
/// non-finite value).
fn cholesky_lower_faer(a: &mut [f64], d: usize) -> Result<(), usize> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor::{
        cholesky_in_place, cholesky_in_place_scratch, LltError,
    };
    let first_non_finite =
        |a: &[f64]| (0..d).find(|&i| a[i * d..i * d + i + 1].iter().any(|v| !v.is_finite()));
    if let Some(i) = first_non_finite(a) {
        return Err(i);
    }
    let mut m = Mat::<f64>::zeros(d, d);
    for i in 0..d {
        for j in 0..=i {
            m[(i, j)] = a[i * d + j];
        }
    }
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
        d,
        Par::Seq,
        Default::default(),
    ));
    cholesky_in_place(
        m.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| match e {
        LltError::NonPositivePivot { index } => index,
    })?;
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = if j <= i { m[(i, j)] } else { 0.0 };
        }
    }
    match first_non_finite(a) {
        Some(i) => Err(i),
        None => Ok(()),
    }
}

/// Inverse of a lower-triangular matrix (row-major), returned as a new lower-triangular
/// matrix.
pub(crate) fn invert_lower(l: &[f64], d: usize) -> Vec<f64> {
    if faer_at(d) {
        let mut inv = Mat::<f64>::zeros(d, d);
        faer::linalg::triangular_inverse::invert_lower_triangular(
            inv.as_mut(),
            MatRef::from_row_major_slice(l, d, d),
            Par::Seq,
        );
        let mut out = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                out[i * d + j] = inv[(i, j)];
            }
        }
        return out;
    }
    invert_lower_loops(l, d)
}

/// [`invert_lower`] by plain loops.
fn invert_lower_loops(l: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    for j in 0..d {
        inv[j * d + j] = 1.0 / l[j * d + j];
        for i in (j + 1)..d {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * d + k] * inv[k * d + j];
            }
            inv[i * d + j] = s / l[i * d + i];
        }
    }
    inv
}

/// Upper-triangular precision factor `P` with `P Pᵀ = Σ⁻¹` from a covariance `Σ`
/// (scikit-learn's `precisions_cholesky_`): `Σ = L Lᵀ`, `P = L⁻ᵀ`.
pub(crate) fn precision_factor_from_covariance(cov: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut l = cov.to_vec();
    cholesky_lower(&mut l, d)?;
    let linv = invert_lower(&l, d);
    Ok(transpose(&linv, d))
}

/// Upper-triangular factor `P` with `P Pᵀ = Λ` of a precision matrix `Λ`, computed as
/// the Cholesky factor of the index-reversed matrix: `JΛJ = L Lᵀ` ⇒ `P = J L J`.
pub(crate) fn upper_factor_of_precision(prec: &[f64], d: usize) -> Result<Vec<f64>, usize> {
    let mut r = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            r[i * d + j] = prec[(d - 1 - i) * d + (d - 1 - j)];
        }
    }
    cholesky_lower(&mut r, d).map_err(|j| d - 1 - j)?;
    let mut p = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            p[i * d + j] = r[(d - 1 - i) * d + (d - 1 - j)];
        }
    }
    Ok(p)
}

/// `A Aᵀ` for a row-major square matrix.
pub(crate) fn a_at(a: &[f64], d: usize) -> Vec<f64> {
    if faer_at(d) {
        return a_at_faer(a, d);
    }
    a_at_loops(a, d)
}

/// [`a_at`] by faer's triangular matmul (the lower triangle, mirrored).
fn a_at_faer(a: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    let a = MatRef::from_row_major_slice(a, d, d);
    triangular::matmul(
        MatMut::from_row_major_slice_mut(&mut out, d, d),
        BlockStructure::TriangularLower,
        Accum::Replace,
        a,
        BlockStructure::Rectangular,
        a.transpose(),
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
    for i in 0..d {
        for j in 0..i {
            out[j * d + i] = out[i * d + j];
        }
    }
    out
}

/// [`a_at`] by plain loops.
fn a_at_loops(a: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = 0.0;
            for k in 0..d {
                s += a[i * d + k] * a[j * d + k];
            }
            out[i * d + j] = s;
            out[j * d + i] = s;
        }
    }
    out
}

/// Covariance `Σ = (P Pᵀ)⁻¹ = P⁻ᵀ P⁻¹` from an upper-triangular precision factor `P`.
pub(crate) fn covariance_from_upper_factor(p: &[f64], d: usize) -> Vec<f64> {
    // Pᵀ is lower triangular; its inverse M = P⁻ᵀ is lower; Σ = M Mᵀ.
    let pt = transpose(p, d);
    let m = invert_lower(&pt, d);
    a_at(&m, d)
}

/// Transpose of a row-major square matrix.
pub(crate) fn transpose(a: &[f64], d: usize) -> Vec<f64> {
    let mut t = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            t[j * d + i] = a[i * d + j];
        }
    }
    t
}

/// Symmetric eigen-decomposition `A = V diag(w) Vᵀ` by cyclic Jacobi rotations, to machine
/// precision. `a` is a symmetric `d×d` row-major matrix (only its values are read, it is not
/// modified). Returns `(w, v)`: the eigenvalues in descending order and `V` row-major with the
/// matching unit eigenvectors as its columns (`VᵀV = I`).
///
/// Below [`FAER_MIN_D`] cyclic Jacobi (accurate for small eigenvalues); from it on faer's
/// tridiagonal solver, since Jacobi's O(D³) sweeps took minutes at D = 1555 (the noise
/// component's hypervolume of the InternetAds anomaly set).
pub(crate) fn sym_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    debug_assert_eq!(a.len(), d * d);
    if faer_at(d) {
        if let Some(r) = sym_eigen_faer(a, d) {
            return r;
        }
    }
    sym_eigen_jacobi(a, d)
}

/// [`sym_eigen`] by faer's tridiagonal self-adjoint eigensolver (Jacobi's sweeps cost
/// minutes at D = 1555); reads the lower triangle; `None` if it fails (non-finite input).
fn sym_eigen_faer(a: &[f64], d: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let evd = MatRef::from_row_major_slice(a, d, d)
        .self_adjoint_eigen(faer::Side::Lower)
        .ok()?;
    let (s, u) = (evd.S().column_vector(), evd.U());
    // faer's eigenvalues ascend: reverse into descending order
    let w: Vec<f64> = (0..d).rev().map(|j| s[j]).collect();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        for (c, j) in (0..d).rev().enumerate() {
            v[i * d + c] = u[(i, j)];
        }
    }
    Some((w, v))
}

/// [`sym_eigen`] by cyclic Jacobi rotations.
fn sym_eigen_jacobi(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut vt = vec![0.0; d * d];
    for i in 0..d {
        vt[i * d + i] = 1.0;
    }
    let norm2: f64 = m.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..d {
            for q in (p + 1)..d {
                off += m[p * d + q] * m[p * d + q];
            }
        }
        // off-diagonal mass negligible against the matrix (or exactly diagonal; NaN stops too)
        if off.is_nan() || off <= f64::EPSILON * f64::EPSILON * norm2 * 1e-4 {
            break;
        }
        for p in 0..d {
            for q in (p + 1)..d {
                let apq = m[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let app = m[p * d + p];
                let aqq = m[q * d + q];
                // below rounding against both diagonal entries: already converged
                if apq.abs() <= 0.5 * f64::EPSILON * (app * aqq).abs().sqrt() {
                    m[p * d + q] = 0.0;
                    m[q * d + p] = 0.0;
                    continue;
                }
                // rotation angle zeroing a_pq (Rutishauser's stable form)
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.is_finite() {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                } else {
                    0.0
                };
                if t == 0.0 {
                    // a_pq is below rounding against the diagonal gap
                    m[p * d + q] = 0.0;
                    m[q * d + p] = 0.0;
                    continue;
                }
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Pᵀ A P with P = [[c, s], [−s, c]] in the (p, q) plane; A stays
                // symmetric, so rows p and q are updated and mirrored into the columns
                m[p * d + p] = app - t * apq;
                m[q * d + q] = aqq + t * apq;
                m[p * d + q] = 0.0;
                m[q * d + p] = 0.0;
                for k in 0..d {
                    if k == p || k == q {
                        continue;
                    }
                    let mkp = m[p * d + k];
                    let mkq = m[q * d + k];
                    let nkp = c * mkp - s * mkq;
                    let nkq = s * mkp + c * mkq;
                    m[p * d + k] = nkp;
                    m[k * d + p] = nkp;
                    m[q * d + k] = nkq;
                    m[k * d + q] = nkq;
                }
                // eigenvectors kept as the rows of vt (contiguous updates)
                for r in 0..d {
                    let vp = vt[p * d + r];
                    let vq = vt[q * d + r];
                    vt[p * d + r] = c * vp - s * vq;
                    vt[q * d + r] = s * vp + c * vq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| m[j * d + j].total_cmp(&m[i * d + i]));
    let w: Vec<f64> = order.iter().map(|&i| m[i * d + i]).collect();
    let mut vs = vec![0.0; d * d];
    for (col, &i) in order.iter().enumerate() {
        for r in 0..d {
            vs[r * d + col] = vt[i * d + r];
        }
    }
    (w, vs)
}

/// One-sided (Hestenes) Jacobi: rotates pairs of the columns of `g` (`d×d`, each column
/// stored contiguously) until every pair is orthogonal to working precision, applying the
/// same rotations to the columns of `v` (stored likewise); returns the columns' norms, the
/// singular values of the matrix `g` started as. With `v` the identity, `g` ends as
/// `U Σ` and `v` as `V` of the SVD of the starting `g`.
pub(crate) fn one_sided_jacobi(g: &mut [f64], v: &mut [f64], d: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let mut rotated = false;
        for i in 0..d {
            for j in (i + 1)..d {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for r in 0..d {
                    let a = g[i * d + r];
                    let b = g[j * d + r];
                    alpha += a * a;
                    beta += b * b;
                    gamma += a * b;
                }
                if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for r in 0..d {
                    let a = g[i * d + r];
                    let b = g[j * d + r];
                    g[i * d + r] = c * a - s * b;
                    g[j * d + r] = s * a + c * b;
                    let a = v[i * d + r];
                    let b = v[j * d + r];
                    v[i * d + r] = c * a - s * b;
                    v[j * d + r] = s * a + c * b;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    (0..d)
        .map(|j| {
            g[j * d..(j + 1) * d]
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// Orthogonal polar factor `U Vᵀ` of a square matrix `F = U Σ Vᵀ` (row-major, `d×d`): the
/// orthogonal matrix nearest to `F`. Computed by a one-sided (Hestenes) Jacobi SVD, which
/// keeps small singular values accurate; when `F` is singular the left singular vectors of
/// its null space are completed by Gram–Schmidt (the factor is then not unique).
pub(crate) fn polar_orthogonal(f: &[f64], d: usize) -> Vec<f64> {
    debug_assert_eq!(f.len(), d * d);
    // columns stored contiguously: g[j*d + i] = F[i][j]; v likewise (V's columns)
    let mut g = transpose(f, d);
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let sigma = one_sided_jacobi(&mut g, &mut v, d);
    let smax = sigma.iter().copied().fold(0.0, f64::max);
    let tiny = smax * f64::EPSILON * d as f64;
    // left singular vectors u_j = g_j / σ_j, completing the null space
    let mut u = vec![0.0; d * d];
    let mut have = vec![false; d];
    for j in 0..d {
        if sigma[j] > tiny && sigma[j].is_finite() {
            for r in 0..d {
                u[j * d + r] = g[j * d + r] / sigma[j];
            }
            have[j] = true;
        }
    }
    for j in 0..d {
        if have[j] {
            continue;
        }
        // the standard basis vector least represented so far, orthogonalised twice
        let mut best = vec![0.0; d];
        let mut best_norm = -1.0;
        for e in 0..d {
            let mut x = vec![0.0; d];
            x[e] = 1.0;
            for _ in 0..2 {
                for k in 0..d {
                    if have[k] {
                        let dot: f64 = (0..d).map(|r| u[k * d + r] * x[r]).sum();
                        for r in 0..d {
                            x[r] -= dot * u[k * d + r];
                        }
                    }
                }
            }
            let nrm = x.iter().map(|y| y * y).sum::<f64>().sqrt();
            if nrm > best_norm {
                best_norm = nrm;
                best = x;
            }
        }
        for r in 0..d {
            u[j * d + r] = best[r] / best_norm;
        }
        have[j] = true;
    }
    let mut out = vec![0.0; d * d];
    for r in 0..d {
        for c in 0..d {
            let mut s = 0.0;
            for j in 0..d {
                s += u[j * d + r] * v[j * d + c];
            }
            out[r * d + c] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(d: usize) -> Vec<f64> {
        // B Bᵀ + d I for a fixed B.
        let b: Vec<f64> = (0..d * d)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0)
            .collect();
        let mut a = a_at(&b, d);
        for i in 0..d {
            a[i * d + i] += d as f64;
        }
        a
    }

    #[test]
    fn cholesky_reconstructs() {
        for d in 1..7 {
            let a = spd(d);
            let mut l = a.clone();
            cholesky_lower(&mut l, d).unwrap();
            let r = a_at(&l, d);
            for (x, y) in a.iter().zip(&r) {
                assert!((x - y).abs() < 1e-12 * x.abs().max(1.0));
            }
        }
    }

    /// From `FAER_MIN_D` on, faer's factor, inverse and `A Aᵀ` equal the plain loops' to
    /// tight relative tolerance, read only the lower triangle, and fail where they fail.
    #[test]
    fn faer_kernels_equal_the_loops_at_large_d() {
        for d in [FAER_MIN_D, FAER_MIN_D + 1, 96, 130, 257] {
            let a = random_spd(d, d as u64);
            let mut garbage = a.clone();
            for i in 0..d {
                for j in i + 1..d {
                    garbage[i * d + j] = f64::NAN;
                }
            }
            let mut l = garbage.clone();
            cholesky_lower(&mut l, d).unwrap();
            let mut l0 = a.clone();
            cholesky_lower_loops(&mut l0, d).unwrap();
            let tol = 1e-10 * max_abs(&l0);
            for (x, y) in l.iter().zip(&l0) {
                assert!((x - y).abs() <= tol, "d={d} factor {x} vs {y}");
            }
            let inv = invert_lower(&l, d);
            let inv0 = invert_lower_loops(&l, d);
            let tol = 1e-10 * max_abs(&inv0);
            for (x, y) in inv.iter().zip(&inv0) {
                assert!((x - y).abs() <= tol, "d={d} inverse {x} vs {y}");
            }
            let r = a_at(&l, d);
            let r0 = a_at_loops(&l, d);
            for (x, y) in r.iter().zip(&r0) {
                assert!(
                    (x - y).abs() <= 1e-12 * max_abs(&r0),
                    "d={d} A Aᵀ {x} vs {y}"
                );
            }
            for (x, y) in r.iter().zip(&a) {
                assert!(
                    (x - y).abs() <= 1e-10 * max_abs(&a),
                    "d={d} L Lᵀ {x} vs {y}"
                );
            }
            // indefinite at a known pivot, and a NaN in the lower triangle
            let mut bad = a.clone();
            bad[(d - 3) * d + d - 3] = -1.0;
            let mut bad0 = bad.clone();
            assert_eq!(
                cholesky_lower(&mut bad, d),
                cholesky_lower_loops(&mut bad0, d),
                "d={d}"
            );
            let mut nan = a.clone();
            nan[5 * d + 2] = f64::NAN;
            assert_eq!(cholesky_lower(&mut nan, d), Err(5), "d={d}");
        }
    }

    /// From `FAER_MIN_D` on, faer's eigensolver agrees with Jacobi: same descending
    /// eigenvalues, orthonormal vectors that reconstruct the matrix.
    #[test]
    fn faer_eigen_equals_jacobi_at_large_d() {
        for d in [FAER_MIN_D, 97, 130, 257] {
            faer_eigen_equals_jacobi(d);
        }
    }

    fn faer_eigen_equals_jacobi(d: usize) {
        let a = random_spd(d, 77 + d as u64);
        let (w, v) = sym_eigen(&a, d);
        let (w0, _) = sym_eigen_jacobi(&a, d);
        for (x, y) in w.iter().zip(&w0) {
            assert!((x - y).abs() <= 1e-10 * w0[0], "d={d} {x} vs {y}");
        }
        for i in 0..d {
            for j in 0..d {
                let r: f64 = (0..d).map(|c| v[i * d + c] * w[c] * v[j * d + c]).sum();
                assert!(
                    (r - a[i * d + j]).abs() <= 1e-10 * max_abs(&a),
                    "d={d} A[{i}][{j}]"
                );
                let o: f64 = (0..d).map(|c| v[c * d + i] * v[c * d + j]).sum();
                assert!(
                    (o - f64::from(u8::from(i == j))).abs() < 1e-10,
                    "d={d} VᵀV[{i}][{j}]"
                );
            }
        }
    }

    #[test]
    fn cholesky_rejects_indefinite_and_nan() {
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(cholesky_lower(&mut a, 2), Err(1));
        let mut a = vec![f64::NAN, 0.0, 0.0, 1.0];
        assert_eq!(cholesky_lower(&mut a, 2), Err(0));
    }

    #[test]
    fn precision_factors_agree() {
        for d in 1..6 {
            let cov = spd(d);
            let p = precision_factor_from_covariance(&cov, d).unwrap();
            // upper triangular
            for i in 0..d {
                for j in 0..i {
                    assert_eq!(p[i * d + j], 0.0);
                }
            }
            // P Pᵀ Σ = I
            let prec = a_at(&p, d);
            for i in 0..d {
                for j in 0..d {
                    let s: f64 = (0..d).map(|k| prec[i * d + k] * cov[k * d + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((s - want).abs() < 1e-10, "{s} vs {want}");
                }
            }
            let p2 = upper_factor_of_precision(&prec, d).unwrap();
            for (x, y) in p.iter().zip(&p2) {
                assert!((x - y).abs() < 1e-10);
            }
            let back = covariance_from_upper_factor(&p, d);
            for (x, y) in cov.iter().zip(&back) {
                assert!((x - y).abs() < 1e-9 * x.abs().max(1.0));
            }
        }
    }

    /// Seeded random matrices without a rand dependency in this module: a small LCG.
    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    fn random_spd(d: usize, seed: u64) -> Vec<f64> {
        let mut r = lcg(seed);
        let b: Vec<f64> = (0..d * d).map(|_| r()).collect();
        let mut a = a_at(&b, d);
        for i in 0..d {
            a[i * d + i] += 1e-3;
        }
        a
    }

    fn max_abs(a: &[f64]) -> f64 {
        a.iter().fold(0.0, |m, x| m.max(x.abs()))
    }

    #[test]
    fn sym_eigen_reconstructs_random_spd() {
        for d in 1..=40 {
            for seed in 0..3 {
                let a = random_spd(d, 100 * d as u64 + seed);
                let (w, v) = sym_eigen(&a, d);
                let scale = max_abs(&a);
                for i in 1..d {
                    assert!(w[i - 1] >= w[i], "d={d}: eigenvalues not descending");
                }
                for i in 0..d {
                    for j in 0..d {
                        // A = V Λ Vᵀ
                        let mut s = 0.0;
                        for k in 0..d {
                            s += v[i * d + k] * w[k] * v[j * d + k];
                        }
                        assert!(
                            (s - a[i * d + j]).abs() <= 1e-12 * scale,
                            "d={d} ({i},{j}): {s} vs {}",
                            a[i * d + j]
                        );
                        // VᵀV = I
                        let mut o = 0.0;
                        for k in 0..d {
                            o += v[k * d + i] * v[k * d + j];
                        }
                        let want = if i == j { 1.0 } else { 0.0 };
                        assert!((o - want).abs() <= 1e-12, "d={d}: VᵀV[{i},{j}] = {o}");
                    }
                }
            }
        }
    }

    #[test]
    fn sym_eigen_known_values_and_degenerate() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1
        let (w, v) = sym_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((w[0] - 3.0).abs() < 1e-15 && (w[1] - 1.0).abs() < 1e-15);
        assert!((v[0].abs() - 0.5f64.sqrt()).abs() < 1e-15);
        // a multiple of the identity stays exactly itself, an indefinite matrix keeps its sign
        let (w, _) = sym_eigen(&[5.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 5.0], 3);
        assert_eq!(w, vec![5.0, 5.0, 5.0]);
        let (w, _) = sym_eigen(&[1.0, 2.0, 2.0, 1.0], 2);
        assert!((w[0] - 3.0).abs() < 1e-15 && (w[1] + 1.0).abs() < 1e-15);
    }

    #[test]
    fn polar_factor_is_orthogonal_and_nearest() {
        for d in 1..=20 {
            let mut r = lcg(7 + d as u64);
            let f: Vec<f64> = (0..d * d).map(|_| r()).collect();
            let q = polar_orthogonal(&f, d);
            // QᵀQ = I
            for i in 0..d {
                for j in 0..d {
                    let s: f64 = (0..d).map(|k| q[k * d + i] * q[k * d + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((s - want).abs() < 1e-12, "d={d}: QᵀQ[{i},{j}] = {s}");
                }
            }
            // H = Qᵀ F is symmetric positive semi-definite (F = Q H is the polar decomposition)
            let mut h = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    h[i * d + j] = (0..d).map(|k| q[k * d + i] * f[k * d + j]).sum();
                }
            }
            for i in 0..d {
                for j in 0..d {
                    assert!((h[i * d + j] - h[j * d + i]).abs() < 1e-12 * d as f64);
                }
            }
            let (w, _) = sym_eigen(&h, d);
            assert!(w[d - 1] > -1e-12, "d={d}: H has eigenvalue {}", w[d - 1]);
        }
    }

    #[test]
    fn polar_factor_of_singular_matrix_is_orthogonal() {
        // rank one: F = x yᵀ
        let d = 4;
        let x = [1.0, -2.0, 0.5, 3.0];
        let y = [0.3, 0.1, -1.0, 2.0];
        let f: Vec<f64> = (0..d * d).map(|i| x[i / d] * y[i % d]).collect();
        let q = polar_orthogonal(&f, d);
        for i in 0..d {
            for j in 0..d {
                let s: f64 = (0..d).map(|k| q[k * d + i] * q[k * d + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((s - want).abs() < 1e-12);
            }
        }
        // an orthogonal matrix is its own polar factor
        let c = 0.6f64;
        let s = 0.8f64;
        let rot = [c, -s, s, c];
        let q = polar_orthogonal(&rot, 2);
        for (a, b) in q.iter().zip(&rot) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}

#[cfg(test)]
pub(crate) mod linalg_timing {
    use super::*;
    use std::time::Instant;

    /// The fastest of `reps` runs of `f`, in seconds (the ignored timing tests' clock).
    pub(crate) fn best(mut f: impl FnMut(), reps: usize) -> f64 {
        let mut b = f64::MAX;
        for _ in 0..reps {
            let t = Instant::now();
            f();
            b = b.min(t.elapsed().as_secs_f64());
        }
        b
    }

    /// Not a test: prints the plain loops' and faer's times for the factor, the inverse,
    /// `A Aᵀ` and the eigendecomposition around [`FAER_MIN_D`] (`cargo test --release -p
    /// gaussmix --lib linalg_timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn print_loops_vs_faer() {
        for d in [16usize, 32, 48, 64, 96, 128, 256] {
            let b: Vec<f64> = (0..d * d)
                .map(|t| ((t * 7919) % 101) as f64 / 101.0 - 0.5)
                .collect();
            let mut a = a_at_loops(&b, d);
            for i in 0..d {
                a[i * d + i] += 1.0;
            }
            let reps = (2_000_000 / (d * d * d)).clamp(3, 2000);
            let us = |t: f64| t * 1e6;
            let chol_l = best(
                || {
                    let mut m = a.clone();
                    cholesky_lower_loops(&mut m, d).unwrap();
                },
                reps,
            );
            let chol_f = best(
                || {
                    let mut m = a.clone();
                    cholesky_lower_faer(&mut m, d).unwrap();
                },
                reps,
            );
            let mut l = a.clone();
            cholesky_lower_loops(&mut l, d).unwrap();
            let inv_l = best(|| drop(invert_lower_loops(&l, d)), reps);
            let inv_f = best(
                || {
                    let mut inv = Mat::<f64>::zeros(d, d);
                    faer::linalg::triangular_inverse::invert_lower_triangular(
                        inv.as_mut(),
                        MatRef::from_row_major_slice(&l, d, d),
                        Par::Seq,
                    );
                },
                reps,
            );
            let aat_l = best(|| drop(a_at_loops(&l, d)), reps);
            let aat_f = best(|| drop(a_at_faer(&l, d)), reps);
            let eig_reps = reps.min(50);
            let eig_l = best(|| drop(sym_eigen_jacobi(&a, d)), eig_reps);
            let eig_f = best(|| drop(sym_eigen_faer(&a, d)), eig_reps);
            println!(
                "d={d:4}: cholesky {:9.1} / {:9.1} µs, inverse {:9.1} / {:9.1} µs, A·Aᵀ {:9.1} / {:9.1} µs, eigen {:10.1} / {:10.1} µs (loops / faer)",
                us(chol_l), us(chol_f), us(inv_l), us(inv_f), us(aat_l), us(aat_f), us(eig_l), us(eig_f)
            );
        }
    }
}
