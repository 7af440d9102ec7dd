//! Property tests.

use asi_evolve_packing_judge::{Offence, correctly_rounded_sum, evaluate, validate};
use num_rational::BigRational;
use num_traits::ToPrimitive;
use proptest::prelude::*;

use crate::common::{packing, packing_json};
use crate::lp::assert_lp_matches_brute_force;

/// A k x k grid packing: circle (i, j) has radius `f * h / 2` (h = 1/k) and
/// its centre is jittered by at most 90% of the slack, so every circle stays
/// strictly inside its own cell with a margin far above rounding error.
fn grid_packing() -> impl Strategy<Value = (Vec<[f64; 2]>, Vec<f64>)> {
    (1usize..=6)
        .prop_flat_map(|k| {
            let cell = (0.0..0.99f64, -1.0..1.0f64, -1.0..1.0f64);
            (Just(k), proptest::collection::vec(cell, k * k))
        })
        .prop_map(|(k, cells)| {
            let h = 1.0 / k as f64;
            cells
                .iter()
                .enumerate()
                .map(|(idx, &(f, jx, jy))| {
                    let slack = 0.9 * (1.0 - f) * h / 2.0;
                    let x = ((idx % k) as f64 + 0.5) * h + jx * slack;
                    let y = ((idx / k) as f64 + 0.5) * h + jy * slack;
                    ([x, y], f * h / 2.0)
                })
                .unzip()
        })
}

/// How far circle `idx` could grow before touching a neighbour or an edge.
fn room_to_grow(centers: &[[f64; 2]], radii: &[f64], idx: usize) -> f64 {
    let [x, y] = centers[idx];
    let border = x.min(y).min(1.0 - x).min(1.0 - y);
    centers
        .iter()
        .zip(radii)
        .enumerate()
        .filter(|&(j, _)| j != idx)
        .map(|(_, (&[xj, yj], &rj))| (x - xj).hypot(y - yj) - rj)
        .fold(border, f64::min)
}

/// Finite doubles of every magnitude, including subnormals, without
/// overflowing sums too often.
fn any_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-(1i64 << 53)..(1i64 << 53), -60i32..60).prop_map(|(m, e)| m as f64 * 2f64.powi(e)),
        proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        Just(0.1),
        Just(-0.1),
        Just(1e16),
    ]
}

/// The exact sum rounded by num-rational's (independent) conversion.
fn rational_sum_rounded(xs: &[f64]) -> f64 {
    let exact: BigRational = xs.iter().map(|&x| BigRational::from_float(x).expect("finite")).sum();
    exact.to_f64().expect("BigRational converts to f64")
}

proptest! {
    #[test]
    fn grid_packings_are_valid((centers, radii) in grid_packing()) {
        let n = centers.len();
        let verdict = validate(&packing(&centers, &radii), n);
        prop_assert!(verdict.valid, "{}", verdict.describe_offences());
        prop_assert_eq!(verdict.sum_radii, correctly_rounded_sum(&radii));
        // The naive left-to-right sum is an acceptable report, and the
        // results record agrees with the verdict.
        let naive: f64 = radii.iter().sum();
        let eval = evaluate(&packing_json(&centers, &radii, Some(naive)), n);
        prop_assert!(eval.valid, "{}", eval.feedback);
        prop_assert_eq!(eval.score, Some(verdict.sum_radii));
        prop_assert!(eval.metrics.lp_gap.unwrap() >= -1e-9);
    }

    #[test]
    fn growing_one_radius_past_its_room_is_rejected(
        (centers, mut radii) in grid_packing(),
        pick in any::<prop::sample::Index>(),
    ) {
        let idx = pick.index(centers.len());
        let room = room_to_grow(&centers, &radii, idx);
        radii[idx] = room * (1.0 + 1e-6) + 1e-12;
        let verdict = validate(&packing(&centers, &radii), centers.len());
        prop_assert!(!verdict.valid);
        for offence in &verdict.offences {
            let involves_idx = match *offence {
                Offence::Overlap { i, j, amount } => (i == idx || j == idx) && amount > 0.0,
                Offence::OutsideSquare { circle, amount, .. } => circle == idx && amount > 0.0,
                _ => false,
            };
            prop_assert!(involves_idx, "unexpected offence {}", offence);
        }
    }

    #[test]
    fn correctly_rounded_sum_matches_the_exact_sum_rounded(
        mut xs in proptest::collection::vec(any_double(), 0..40),
        cancel in proptest::collection::vec(any::<bool>(), 40),
    ) {
        // Append the negations of some inputs to force heavy cancellation.
        let negated: Vec<f64> = xs.iter().zip(&cancel).filter(|(_, c)| **c).map(|(x, _)| -x).collect();
        xs.extend(negated);
        let got = correctly_rounded_sum(&xs);
        let want = rational_sum_rounded(&xs);
        prop_assert_eq!(got, want, "inputs {:?}", xs);
        xs.reverse();
        prop_assert_eq!(correctly_rounded_sum(&xs), got);
    }

    #[test]
    fn lp_matches_vertex_enumeration(
        centers in proptest::collection::vec((0.0..=1.0f64, 0.0..=1.0f64), 1..=4),
    ) {
        let centers: Vec<[f64; 2]> = centers.into_iter().map(|(x, y)| [x, y]).collect();
        assert_lp_matches_brute_force(&centers);
    }
}
