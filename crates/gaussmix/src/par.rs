//! Parallelism as an argument, and the fixed-block, fixed-order reduction that makes
//! results bit-identical whatever the thread count.

use rayon::prelude::*;

/// How a kernel may use threads. The library never configures rayon's global pool:
/// [`Parallelism::Rayon`] runs on the *current* pool, so a caller who wants N threads
/// builds a local `rayon::ThreadPool` and calls the library inside `pool.install`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// One thread, in the caller's thread.
    Sequential,
    /// Row blocks spread over the current rayon pool.
    #[default]
    Rayon,
}

/// Rows per block. Fixed, so that partial sums, and hence results, do not depend on
/// the number of threads.
pub(crate) const BLOCK_ROWS: usize = 2048;

/// How many blocks are in flight between ordered reductions (bounds memory held by
/// partial results).
const BLOCKS_PER_WAVE: usize = 16;

/// Splits `0..n` into fixed blocks, maps each (possibly in parallel) and folds the
/// results strictly in block order with `fold`.
pub(crate) fn map_fold_blocks<R, E>(
    n: usize,
    par: Parallelism,
    map: impl Fn(usize, usize) -> Result<R, E> + Sync,
    mut fold: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    R: Send,
    E: Send,
{
    let n_blocks = n.div_ceil(BLOCK_ROWS);
    let range = |b: usize| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n));
    match par {
        Parallelism::Sequential => {
            for b in 0..n_blocks {
                let (s, e) = range(b);
                fold(map(s, e)?)?;
            }
        }
        Parallelism::Rayon => {
            let mut b0 = 0;
            while b0 < n_blocks {
                let b1 = (b0 + BLOCKS_PER_WAVE).min(n_blocks);
                let parts: Vec<Result<R, E>> = (b0..b1)
                    .into_par_iter()
                    .map(|b| {
                        let (s, e) = range(b);
                        map(s, e)
                    })
                    .collect();
                for p in parts {
                    fold(p?)?;
                }
                b0 = b1;
            }
        }
    }
    Ok(())
}
