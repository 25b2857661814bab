//! Input checks shared by every entry point (docs/design.md §7).

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{GmmError, Result};
use crate::float::Float;

/// Errors on the first NaN or infinite value, naming its row (offset by `row_offset`)
/// and column.
pub(crate) fn check_finite<F: Float>(x: ArrayView2<F>, row_offset: usize) -> Result<()> {
    if all_finite(x) {
        return Ok(());
    }
    for (r, row) in x.rows().into_iter().enumerate() {
        if let Some(c) = row.iter().position(|v| !v.finite()) {
            return Err(GmmError::NonFinite {
                row: r + row_offset,
                column: c,
                value: row[c].to_f64(),
            });
        }
    }
    Ok(())
}

/// Whether every value is finite: `v·0` is 0 for finite `v` and NaN otherwise, summed in
/// eight independent lanes so the pass vectorises (the slow search for the culprit runs
/// only when this fails).
fn all_finite<F: Float>(x: ArrayView2<F>) -> bool {
    let lanes = |s: &[F]| {
        let mut acc = [0.0f64; 8];
        let (body, tail) = s.as_chunks::<8>();
        for c in body {
            for l in 0..8 {
                acc[l] += c[l].to_f64() * 0.0;
            }
        }
        for v in tail {
            acc[0] += v.to_f64() * 0.0;
        }
        acc.iter().sum::<f64>() == 0.0
    };
    match x.as_slice_memory_order() {
        Some(s) => lanes(s),
        None => x.rows().into_iter().all(|row| match row.as_slice() {
            Some(s) => lanes(s),
            None => row.iter().all(|v| v.finite()),
        }),
    }
}

/// Errors unless the data has at least one row and one column.
pub(crate) fn check_nonempty<F: Float>(x: ArrayView2<F>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(GmmError::EmptyData {
            rows: x.nrows(),
            columns: x.ncols(),
        });
    }
    Ok(())
}

/// Errors unless `w` has `n` finite, non-negative values.
pub(crate) fn check_weights(w: ArrayView1<f64>, n: usize) -> Result<()> {
    if w.len() != n {
        return Err(GmmError::ShapeMismatch {
            what: "sample weights".into(),
            expected: format!("{n} values (one per row)"),
            got: format!("{} values", w.len()),
        });
    }
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(GmmError::InvalidWeights {
            reason: format!(
                "weight {} at row {i} is not a finite non-negative number",
                w[i]
            ),
        });
    }
    Ok(())
}
