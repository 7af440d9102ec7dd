//! The best radii for fixed centres, by linear programming.

use std::panic::{AssertUnwindSafe, catch_unwind};

use microlp::{ComparisonOp, OptimizationDirection, Problem};
use thiserror::Error;

/// Why [`lp_radii`] gave no answer.
#[derive(Debug, Error, PartialEq)]
pub enum LpError {
    #[error("centers[{index}] is not finite")]
    NonFiniteCentre { index: usize },
    #[error("centers[{index}] = [{x}, {y}] is outside the unit square")]
    CentreOutsideSquare { index: usize, x: f64, y: f64 },
    #[error("the LP solver failed: {0}")]
    Solver(String),
}

/// Radii maximising their sum for the given centres:
///
/// maximise `sum r_i` subject to `r_i + r_j <= d_ij` for all `i < j`
/// (`d_ij` the f64 `hypot` of the centre difference) and
/// `0 <= r_i <= min(x_i, y_i, 1 - x_i, 1 - y_i)`.
///
/// This is a *bound* reported as a metric, "how much the candidate left on
/// the table" with its centres. It is computed in floating point by a
/// simplex solver (tolerances around 1e-9), so these radii may fail the
/// zero-tolerance check of [`crate::validate`] by a rounding error; the
/// harness never substitutes them for the candidate's radii. Values are
/// clamped into `[0, upper bound]`, which only removes solver noise.
///
/// Centres must be finite and inside the closed unit square.
pub fn lp_radii(centers: &[[f64; 2]]) -> Result<Vec<f64>, LpError> {
    let upper = upper_bounds(centers)?;
    if centers.is_empty() {
        return Ok(Vec::new());
    }
    let mut problem = Problem::new(OptimizationDirection::Maximize);
    let vars: Vec<_> = upper.iter().map(|&ub| problem.add_var(1.0, (0.0, ub))).collect();
    for i in 0..centers.len() {
        for j in i + 1..centers.len() {
            let [xi, yi] = centers[i];
            let [xj, yj] = centers[j];
            let d = (xi - xj).hypot(yi - yj);
            problem.add_constraint([(vars[i], 1.0), (vars[j], 1.0)], ComparisonOp::Le, d);
        }
    }
    // The problem is always feasible (r = 0) and bounded, so an error or a
    // panic is a solver defect; turn either into an error rather than take
    // the evaluation down with it.
    let solution = catch_unwind(AssertUnwindSafe(|| problem.solve()))
        .map_err(|_| LpError::Solver("the solver panicked".to_owned()))?
        .map_err(|e| LpError::Solver(e.to_string()))?;
    Ok(vars.iter().zip(&upper).map(|(&v, &ub)| solution[v].clamp(0.0, ub)).collect())
}

/// `min(x, y, 1 - x, 1 - y)` for each centre, after checking it is usable.
fn upper_bounds(centers: &[[f64; 2]]) -> Result<Vec<f64>, LpError> {
    centers
        .iter()
        .enumerate()
        .map(|(index, &[x, y])| {
            if !(x.is_finite() && y.is_finite()) {
                Err(LpError::NonFiniteCentre { index })
            } else if !((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)) {
                Err(LpError::CentreOutsideSquare { index, x, y })
            } else {
                Ok(x.min(y).min(1.0 - x).min(1.0 - y))
            }
        })
        .collect()
}
