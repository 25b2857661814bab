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

/// [`map_fold_blocks`] with per-thread scratch: `map` gets a `&mut S` made by `init` at
/// most once per worker thread and call (kernel workspaces, reused from block to block
/// instead of allocated and zeroed for each). The scratch must not carry anything from
/// one block to the next that changes a result: the results stay those of
/// [`map_fold_blocks`], in its order, whatever the thread count.
pub(crate) fn map_fold_blocks_with<S, R, E>(
    n: usize,
    par: Parallelism,
    init: impl Fn() -> S + Sync,
    map: impl Fn(&mut S, usize, usize) -> Result<R, E> + Sync,
    fold: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    S: Send,
    R: Send,
    E: Send,
{
    // one slot per thread that can run a block (one when sequential); each thread takes
    // its own slot, so a lock is never contended
    let slots = match par {
        Parallelism::Sequential => 1,
        Parallelism::Rayon => rayon::current_num_threads().max(1),
    };
    let pool: Vec<std::sync::Mutex<Option<S>>> =
        (0..slots).map(|_| std::sync::Mutex::new(None)).collect();
    map_fold_blocks(
        n,
        par,
        |s, e| {
            let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
            let mut guard = pool[slot].lock().unwrap_or_else(|p| p.into_inner());
            let scratch = guard.get_or_insert_with(&init);
            map(scratch, s, e)
        },
        fold,
    )
}

/// [`map_fold_blocks_with`] where each block also gets its own part of some per-row
/// state: `items[b]` belongs to block `b` (the caller builds it from
/// `chunks_mut(BLOCK_ROWS)` of its vectors, so the parts are disjoint), and `map` may
/// change it. Blocks, scratch and the order of the fold are those of
/// [`map_fold_blocks_with`], so the results do not depend on the thread count.
pub(crate) fn map_fold_blocks_mut<I, S, R>(
    n: usize,
    par: Parallelism,
    items: &mut [I],
    init: impl Fn() -> S + Sync,
    map: impl Fn(&mut S, &mut I, usize, usize) -> R + Sync,
    mut fold: impl FnMut(R),
) where
    I: Send,
    S: Send,
    R: Send,
{
    let n_blocks = n.div_ceil(BLOCK_ROWS);
    assert_eq!(items.len(), n_blocks, "one item per block");
    let range = |b: usize| (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n));
    match par {
        Parallelism::Sequential => {
            let mut scratch = init();
            for (b, item) in items.iter_mut().enumerate() {
                let (s, e) = range(b);
                fold(map(&mut scratch, item, s, e));
            }
        }
        Parallelism::Rayon => {
            let slots = rayon::current_num_threads().max(1);
            let pool: Vec<std::sync::Mutex<Option<S>>> =
                (0..slots).map(|_| std::sync::Mutex::new(None)).collect();
            for (w, wave) in items.chunks_mut(BLOCKS_PER_WAVE).enumerate() {
                let b0 = w * BLOCKS_PER_WAVE;
                let parts: Vec<R> = wave
                    .par_iter_mut()
                    .enumerate()
                    .map(|(i, item)| {
                        let (s, e) = range(b0 + i);
                        let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
                        let mut guard = pool[slot].lock().unwrap_or_else(|p| p.into_inner());
                        let scratch = guard.get_or_insert_with(&init);
                        map(scratch, item, s, e)
                    })
                    .collect();
                for p in parts {
                    fold(p);
                }
            }
        }
    }
}
