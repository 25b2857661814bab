//! Minimum-cost assignment (Hungarian algorithm, Kuhn–Munkres with potentials, O(n²m)).

/// Solves the rectangular assignment problem on a row-major `rows`×`cols` cost matrix:
/// every row is assigned to a distinct column when rows ≤ cols (otherwise every column to
/// a distinct row), minimising the total cost. Returns, for each row, its column or None.
/// Costs must be finite (use a large finite value for forbidden pairs and reject those
/// pairs afterwards).
///
/// ```
/// use gaussmix_video::hungarian::assign;
/// let cost = [4.0, 1.0, 3.0,
///             2.0, 0.0, 5.0,
///             3.0, 2.0, 2.0];
/// assert_eq!(assign(&cost, 3, 3), vec![Some(1), Some(0), Some(2)]);
/// ```
pub fn assign(cost: &[f64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    assert_eq!(cost.len(), rows * cols, "cost matrix size");
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    if rows > cols {
        // Solve the transpose and invert the answer.
        let mut t = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = cost[r * cols + c];
            }
        }
        let by_col = assign(&t, cols, rows);
        let mut out = vec![None; rows];
        for (c, r) in by_col.into_iter().enumerate() {
            if let Some(r) = r {
                out[r] = Some(c);
            }
        }
        return out;
    }
    // n = rows <= m = cols. 1-based arrays as in the classic formulation.
    let (n, m) = (rows, cols);
    let a = |i: usize, j: usize| cost[(i - 1) * m + (j - 1)];
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1]; // p[j]: row assigned to column j
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = a(i0, j) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::assign;

    fn brute(cost: &[f64], n: usize, m: usize) -> f64 {
        // rows <= cols: try all injective maps.
        fn rec(cost: &[f64], n: usize, m: usize, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..m {
                if !used[c] {
                    used[c] = true;
                    best = best.min(cost[r * m + c] + rec(cost, n, m, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        rec(cost, n, m, 0, &mut vec![false; m])
    }

    #[test]
    fn matches_brute_force() {
        let mut s = 12345u64;
        for n in 1..=5 {
            for m in n..=6 {
                for _ in 0..20 {
                    let cost: Vec<f64> = (0..n * m)
                        .map(|_| {
                            s = s
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            ((s >> 33) % 100) as f64
                        })
                        .collect();
                    let a = assign(&cost, n, m);
                    let total: f64 = a
                        .iter()
                        .enumerate()
                        .map(|(r, c)| cost[r * m + c.unwrap()])
                        .sum();
                    assert_eq!(total, brute(&cost, n, m));
                    let mut cols: Vec<_> = a.iter().map(|c| c.unwrap()).collect();
                    cols.sort();
                    cols.dedup();
                    assert_eq!(cols.len(), n);
                    // Transposed problem: columns assigned to distinct rows.
                    let mut t = vec![0.0; n * m];
                    for r in 0..n {
                        for c in 0..m {
                            t[c * n + r] = cost[r * m + c];
                        }
                    }
                    let b = assign(&t, m, n);
                    let total_t: f64 = b
                        .iter()
                        .enumerate()
                        .filter_map(|(r, c)| c.map(|c| t[r * n + c]))
                        .sum();
                    assert_eq!(total_t, total);
                    assert_eq!(b.iter().filter(|c| c.is_some()).count(), n);
                }
            }
        }
    }

    #[test]
    fn empty() {
        assert_eq!(assign(&[], 0, 3), Vec::<Option<usize>>::new());
        assert_eq!(assign(&[], 2, 0), vec![None, None]);
    }
}
