//! The radii LP against brute force, and on the benchmark's seed centres.

use std::f64::consts::PI;
use std::time::Instant;

use asi_evolve_packing_judge::{LpError, correctly_rounded_sum, evaluate, lp_radii};

use crate::common::{Rng, brute_force_lp, lp_violation, packing_json};

/// Checks `lp_radii` against vertex enumeration on `centers`.
pub fn assert_lp_matches_brute_force(centers: &[[f64; 2]]) {
    let radii = lp_radii(centers).expect("LP solves");
    assert_eq!(radii.len(), centers.len());
    let violation = lp_violation(centers, &radii);
    assert!(violation <= 1e-9, "LP radii violate a constraint by {violation}: {centers:?}");
    let lp = correctly_rounded_sum(&radii);
    let best = brute_force_lp(centers);
    assert!((lp - best).abs() <= 1e-9, "LP {lp} vs best vertex {best} for {centers:?}");
}

#[test]
fn lp_matches_vertex_enumeration_on_fixed_seeds() {
    for n in 1..=4 {
        for seed in 0..25 {
            let mut rng = Rng::new(1000 * n as u64 + seed);
            let centers: Vec<[f64; 2]> = (0..n).map(|_| [rng.unit(), rng.unit()]).collect();
            assert_lp_matches_brute_force(&centers);
        }
    }
}

#[test]
fn lp_handles_degenerate_centres() {
    // Coincident centres, a centre on the border and one in a corner.
    assert_lp_matches_brute_force(&[[0.5, 0.5], [0.5, 0.5]]);
    assert_lp_matches_brute_force(&[[0.0, 0.5], [0.5, 0.5], [1.0, 1.0]]);
    assert_eq!(lp_radii(&[]), Ok(vec![]));
    assert_eq!(lp_radii(&[[0.5, 0.5]]), Ok(vec![0.5]));
}

#[test]
fn lp_rejects_unusable_centres() {
    assert_eq!(lp_radii(&[[0.5, 0.5], [f64::NAN, 0.5]]), Err(LpError::NonFiniteCentre { index: 1 }));
    let outside = lp_radii(&[[0.5, 1.5]]).unwrap_err();
    assert_eq!(outside.to_string(), "centers[0] = [0.5, 1.5] is outside the unit square");
    // ...and the evaluation then simply has no LP metric.
    let eval = evaluate(&packing_json(&[[0.5, 1.5]], &[0.1], None), 1);
    assert!(!eval.valid);
    assert_eq!(eval.metrics.lp_sum_radii, None);
}

/// The benchmark's seed program: a centre, a ring of 8, a ring of 16, and a
/// 26th centre left at the origin; all coordinates clipped to [0.01, 0.99].
fn two_ring_seed_centres() -> Vec<[f64; 2]> {
    let ring = |k: usize, count: f64, radius: f64| {
        let angle = 2.0 * PI * k as f64 / count;
        [0.5 + radius * angle.cos(), 0.5 + radius * angle.sin()]
    };
    let mut centers = vec![[0.5, 0.5]];
    centers.extend((0..8).map(|k| ring(k, 8.0, 0.3)));
    centers.extend((0..16).map(|k| ring(k, 16.0, 0.7)));
    centers.push([0.0, 0.0]);
    centers.iter().map(|c| c.map(|v| v.clamp(0.01, 0.99))).collect()
}

#[test]
fn lp_bound_on_the_two_ring_seed_beats_the_seed() {
    let centers = two_ring_seed_centres();
    assert_eq!(centers.len(), 26);
    let start = Instant::now();
    let radii = lp_radii(&centers).expect("LP solves");
    let elapsed = start.elapsed();
    let lp = correctly_rounded_sum(&radii);
    println!("LP optimum for the two-ring seed's centres: {lp:.16} (solved in {elapsed:?})");
    // The seed's own radii (shrunk pairwise) sum to 0.9597642169962064.
    assert!(lp >= 0.9597642169962064);
    // scipy.optimize.linprog (HiGHS) on the same LP gives 1.2536352079666886.
    assert!((lp - 1.2536352079666886).abs() < 1e-9, "{lp}");
    assert!(lp_violation(&centers, &radii) <= 1e-9);
}

#[test]
fn lp_for_32_circles_is_fast() {
    let mut rng = Rng::new(32);
    let centers: Vec<[f64; 2]> = (0..32).map(|_| [rng.unit(), rng.unit()]).collect();
    let start = Instant::now();
    let radii = lp_radii(&centers).expect("LP solves");
    let elapsed = start.elapsed();
    println!("32-circle LP: sum {} in {elapsed:?}", correctly_rounded_sum(&radii));
    assert!(lp_violation(&centers, &radii) <= 1e-9);
    // Generous: the point is to catch a pathological slowdown, not to benchmark.
    assert!(elapsed.as_secs_f64() < 2.0, "{elapsed:?}");
}
