//! Helpers shared by the test modules.

use asi_evolve_packing_judge::Packing;

/// The JSON the Python wrapper would write, non-finite numbers as strings.
pub fn packing_json(centers: &[[f64; 2]], radii: &[f64], reported_sum: Option<f64>) -> String {
    let centers: Vec<String> = centers.iter().map(|[x, y]| format!("[{}, {}]", num(*x), num(*y))).collect();
    let radii: Vec<String> = radii.iter().map(|r| num(*r)).collect();
    let reported = reported_sum.map_or("null".to_owned(), num);
    format!(r#"{{"centers": [{}], "radii": [{}], "reported_sum": {reported}}}"#, centers.join(", "), radii.join(", "))
}

fn num(x: f64) -> String {
    if x.is_nan() {
        r#""nan""#.to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { r#""inf""# } else { r#""-inf""# }.to_owned()
    } else {
        format!("{x:?}") // shortest representation that reads back exactly
    }
}

pub fn packing(centers: &[[f64; 2]], radii: &[f64]) -> Packing {
    Packing { centers: centers.to_vec(), radii: radii.to_vec(), reported_sum: None }
}

/// SplitMix64: a tiny deterministic generator for fixed-seed tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The optimum of the radii LP by brute force: every vertex of
/// `{r : r_i + r_j <= d_ij, 0 <= r_i <= ub_i}` is the solution of n active
/// constraints, so try every n-subset of constraints, solve it by Gaussian
/// elimination, keep the feasible solutions (within 1e-9) and return the best
/// objective. Exponential, only for n <= 4.
pub fn brute_force_lp(centers: &[[f64; 2]]) -> f64 {
    let n = centers.len();
    let mut rows: Vec<(Vec<f64>, f64)> = Vec::new();
    for (i, &[x, y]) in centers.iter().enumerate() {
        let unit = |c: f64| (0..n).map(|k| if k == i { c } else { 0.0 }).collect::<Vec<_>>();
        rows.push((unit(1.0), x.min(y).min(1.0 - x).min(1.0 - y)));
        rows.push((unit(-1.0), 0.0));
        for (j, &[xj, yj]) in centers.iter().enumerate().skip(i + 1) {
            let mut a = vec![0.0; n];
            a[i] = 1.0;
            a[j] = 1.0;
            rows.push((a, (x - xj).hypot(y - yj)));
        }
    }
    let feasible =
        |r: &[f64]| rows.iter().all(|(a, b)| a.iter().zip(r).map(|(ak, rk)| ak * rk).sum::<f64>() <= b + 1e-9);
    let mut best = f64::NEG_INFINITY;
    for subset in subsets(rows.len(), n) {
        let a: Vec<Vec<f64>> = subset.iter().map(|&k| rows[k].0.clone()).collect();
        let b: Vec<f64> = subset.iter().map(|&k| rows[k].1).collect();
        if let Some(r) = solve(a, b).filter(|r| feasible(r)) {
            best = best.max(r.iter().sum());
        }
    }
    best
}

/// All k-element subsets of 0..m, in lexicographic order.
fn subsets(m: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![vec![]];
    }
    (k - 1..m)
        .flat_map(|last| {
            subsets(last, k - 1).into_iter().map(move |mut s| {
                s.push(last);
                s
            })
        })
        .collect()
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if
/// the system is (numerically) singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (pivot_row, pivot_b) = (a[col].clone(), b[col]);
        for row in col + 1..n {
            let factor = a[row][col] / pivot_row[col];
            for (entry, p) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *entry -= factor * p;
            }
            b[row] -= factor * pivot_b;
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// Largest violation of the LP's constraints by `radii` (0 if feasible).
pub fn lp_violation(centers: &[[f64; 2]], radii: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for (i, (&[x, y], &r)) in centers.iter().zip(radii).enumerate() {
        worst = worst.max(-r).max(r - x.min(y).min(1.0 - x).min(1.0 - y));
        for (&[xj, yj], &rj) in centers.iter().zip(radii).skip(i + 1) {
            worst = worst.max(r + rj - (x - xj).hypot(y - yj));
        }
    }
    worst
}
