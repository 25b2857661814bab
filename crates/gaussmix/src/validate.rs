//! Input checks shared by every entry point (DESIGN.md §7).

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{GmmError, Result};
use crate::float::Float;

/// Errors on the first NaN or infinite value, naming its row (offset by `row_offset`)
/// and column.
pub(crate) fn check_finite<F: Float>(x: ArrayView2<F>, row_offset: usize) -> Result<()> {
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
