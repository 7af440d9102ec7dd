//! Correctly rounded summation (Shewchuk's exact partials, as in Python's
//! `math.fsum`).
//!
//! The score is a sum of radii; rounding it correctly makes the score a
//! function of the multiset of radii alone, independent of order, so two
//! permutations of the same packing can never score differently.

use crate::exact::Dyadic;

/// The sum of `xs` rounded once, to nearest with ties to even: the `f64`
/// closest to the exact mathematical sum.
///
/// Non-finite inputs follow IEEE 754: any NaN, or both infinities, give NaN;
/// otherwise an infinity gives that infinity. Unlike `math.fsum`, an
/// intermediate overflow is not an error: the exact sum is then rounded
/// directly (to infinity if it is out of range, as rounding requires).
pub fn correctly_rounded_sum(xs: &[f64]) -> f64 {
    let mut special: Option<f64> = None;
    let mut partials: Vec<f64> = Vec::new();
    for &x in xs {
        if !x.is_finite() {
            special = Some(special.map_or(x, |s| s + x));
            continue;
        }
        add_to_partials(&mut partials, x);
        if partials.last().is_some_and(|p| !p.is_finite()) {
            return exact_sum_rounded(xs);
        }
    }
    match special {
        Some(s) => s,
        None => round_partials(&partials),
    }
}

/// Adds `x` to `partials`, a list of non-overlapping floats in increasing
/// magnitude whose exact sum is the exact running total (Shewchuk 1997).
/// Each step uses the error-free transformation `hi + lo = x + y`.
fn add_to_partials(partials: &mut Vec<f64>, mut x: f64) {
    let mut kept = 0;
    for j in 0..partials.len() {
        let mut y = partials[j];
        if x.abs() < y.abs() {
            std::mem::swap(&mut x, &mut y);
        }
        let hi = x + y;
        let lo = y - (hi - x);
        if lo != 0.0 {
            partials[kept] = lo;
            kept += 1;
        }
        x = hi;
    }
    partials.truncate(kept);
    partials.push(x);
}

/// Rounds the exact sum of non-overlapping partials, exactly as CPython's
/// `math_fsum` does: add from the top until the addition becomes inexact,
/// then repair the one case where the discarded tail makes a tie inexact.
fn round_partials(partials: &[f64]) -> f64 {
    let Some((&top, rest)) = partials.split_last() else {
        return 0.0;
    };
    let mut hi = top;
    let mut lo = 0.0;
    let mut n = rest.len();
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // `hi + lo` is exact, and `lo` is half an ulp of `hi` when the addition
    // above was a tie. If the remaining partials push the same way as `lo`,
    // the true sum is past the tie and must round away from `hi`.
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        let yr = x - hi;
        if y == yr {
            hi = x;
        }
    }
    hi
}

/// Slow path for sums whose partials overflow: the exact sum, rounded once.
fn exact_sum_rounded(xs: &[f64]) -> f64 {
    xs.iter().map(|&x| Dyadic::from_f64(x)).sum::<Dyadic>().to_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are what CPython 3's `math.fsum` returns for the same
    /// lists (several are from CPython's own `test_math.testFsum`).
    #[test]
    fn matches_python_fsum_on_tricky_inputs() {
        let p = |k: i32| 2f64.powi(k);
        let cases: Vec<(Vec<f64>, f64)> = vec![
            (vec![], 0.0),
            (vec![0.0], 0.0),
            (vec![1e16, 1.0, -1e16], 1.0),
            (vec![0.1; 10], 1.0),
            (vec![1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50], 1e-100),
            (vec![p(53), -0.5, -p(-54)], p(53) - 1.0),
            (vec![p(53), 1.0, p(-100)], p(53) + 2.0),
            (vec![p(53) + 10.0, 1.0, p(-100)], p(53) + 12.0),
            (vec![p(53) - 4.0, 0.5, p(-54)], p(53) - 3.0),
            (vec![1e16, 1., 1e-16], 10000000000000002.0),
            (vec![1e16 - 2., 1. - p(-53), -(1e16 - 2.), -(1. - p(-53))], 0.0),
            ((1..=1000).map(|n| 1.0 / n as f64).collect(), 7.485470860550345),
            ((1..=1000).map(|n| if n % 2 == 0 { 1.0 } else { -1.0 } / n as f64).collect(), -0.6926474305598203),
        ];
        for (xs, expected) in cases {
            let got = correctly_rounded_sum(&xs);
            assert_eq!(got.to_bits(), expected.to_bits(), "fsum of {} items", xs.len());
        }
    }

    #[test]
    fn is_independent_of_order() {
        let mut xs: Vec<f64> = (1..200).map(|k| (k as f64).sqrt() * 1e-3).collect();
        xs.push(1e20);
        xs.push(-1e20);
        let forward = correctly_rounded_sum(&xs);
        xs.reverse();
        assert_eq!(forward.to_bits(), correctly_rounded_sum(&xs).to_bits());
        assert_eq!(forward.to_bits(), exact_sum_rounded(&xs).to_bits());
    }

    #[test]
    fn non_finite_inputs_follow_ieee() {
        assert!(correctly_rounded_sum(&[1.0, f64::NAN]).is_nan());
        assert!(correctly_rounded_sum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(correctly_rounded_sum(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(correctly_rounded_sum(&[f64::NEG_INFINITY, 1e308]), f64::NEG_INFINITY);
    }

    #[test]
    fn intermediate_overflow_is_not_fatal() {
        // Python raises OverflowError here; the exact answer is 1e308.
        assert_eq!(correctly_rounded_sum(&[1e308, 1e308, -1e308]), 1e308);
        assert_eq!(correctly_rounded_sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
    }
}
