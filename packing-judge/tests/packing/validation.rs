//! Acceptance and rejection of hand-built packings. Each rejection test
//! asserts which offence was found, not just that something was.

use asi_evolve_packing_judge::{
    Edge, Field, Offence, correctly_rounded_sum, evaluate, reported_sum_tolerance, validate,
};

use crate::common::{packing, packing_json};

/// Two circles tangent to each other and to the left and right edges.
const TANGENT_CENTERS: [[f64; 2]; 2] = [[0.25, 0.5], [0.75, 0.5]];
const TANGENT_RADII: [f64; 2] = [0.25, 0.25];

/// Two circles tangent to each other only, well inside the square.
const INNER_CENTERS: [[f64; 2]; 2] = [[0.375, 0.5], [0.625, 0.5]];

#[test]
fn tangent_circles_and_border_contact_are_valid() {
    let verdict = validate(&packing(&TANGENT_CENTERS, &TANGENT_RADII), 2);
    assert!(verdict.valid, "{}", verdict.describe_offences());
    assert_eq!(verdict.sum_radii, 0.5);
    assert_eq!(verdict.min_pair_gap, Some(0.0));
    assert_eq!(verdict.min_border_gap, Some(0.0));

    // x = r = 0.25: tangent to the left and bottom edges.
    let corner = validate(&packing(&[[0.25, 0.25]], &[0.25]), 1);
    assert!(corner.valid, "{}", corner.describe_offences());

    let eval = evaluate(&packing_json(&TANGENT_CENTERS, &TANGENT_RADII, Some(0.5)), 2);
    assert!(eval.valid, "{}", eval.feedback);
    assert_eq!(eval.score, Some(0.5));
}

#[test]
fn zero_radius_is_allowed_on_a_corner_a_rim_or_another_point() {
    // A point in the corner, a point on circle 1's rim, two coincident points.
    let centers = [[0.0, 0.0], [0.5, 0.5], [0.75, 0.5], [0.1, 0.9], [0.1, 0.9]];
    let verdict = validate(&packing(&centers, &[0.0, 0.25, 0.0, 0.0, 0.0]), 5);
    assert!(verdict.valid, "{}", verdict.describe_offences());
    // A point strictly inside another circle is not.
    let inside = validate(&packing(&[[0.5, 0.5], [0.6, 0.5]], &[0.25, 0.0]), 2);
    assert!(matches!(inside.offences[..], [Offence::Overlap { i: 0, j: 1, .. }]));
}

#[test]
fn overlap_by_1e_9_is_rejected() {
    let touching = validate(&packing(&INNER_CENTERS, &[0.125, 0.125]), 2);
    assert!(touching.valid, "{}", touching.describe_offences());

    let verdict = validate(&packing(&INNER_CENTERS, &[0.125, 0.125 + 1e-9]), 2);
    assert!(!verdict.valid);
    assert_eq!(verdict.offences.len(), 1, "{}", verdict.describe_offences());
    let Offence::Overlap { i: 0, j: 1, amount } = verdict.offences[0] else {
        panic!("expected an overlap of circles 0 and 1, got {:?}", verdict.offences);
    };
    assert!((amount - 1e-9).abs() < 1e-15, "{amount}");
    assert_eq!(verdict.offences[0].to_string(), "circles 0 and 1 overlap by 1.0e-9");
    assert!(verdict.min_pair_gap.unwrap() < 0.0);
}

#[test]
fn overlap_that_f64_arithmetic_rounds_away_is_rejected() {
    // r0 + r1 = 0.25 + 2^-55 exactly, a tie that f64 rounds to 0.25 = d.
    let r1 = 0.125f64.next_up();
    assert!(0.125 + r1 <= 0.625 - 0.375, "f64 arithmetic sees no overlap");
    let verdict = validate(&packing(&INNER_CENTERS, &[0.125, r1]), 2);
    assert!(matches!(verdict.offences[..], [Offence::Overlap { i: 0, j: 1, .. }]));
}

#[test]
fn circle_1e_12_past_the_right_edge_is_rejected() {
    let (x, r) = (0.75, 0.25 + 1e-12);
    assert!(x + r > 1.0);
    let verdict = validate(&packing(&[[x, 0.5]], &[r]), 1);
    let [Offence::OutsideSquare { circle: 0, edge: Edge::Right, amount, .. }] = verdict.offences[..] else {
        panic!("expected a right-edge crossing, got {:?}", verdict.offences);
    };
    assert!((amount - 1e-12).abs() < 1e-16, "{amount}");
    let reason = verdict.offences[0].to_string();
    assert!(reason.starts_with("circle 0 extends 1.0e-12 past the right edge (x = 0.75"), "{reason}");
}

#[test]
fn crossing_that_f64_arithmetic_rounds_away_is_rejected() {
    // x + r = 1 + 2^-54 exactly, which rounds to 1.0 in f64.
    let (x, r) = (0.75, 0.25f64.next_up());
    assert_eq!(x + r, 1.0, "f64 arithmetic sees no crossing");
    let verdict = validate(&packing(&[[0.5, x]], &[r]), 1);
    let [Offence::OutsideSquare { edge: Edge::Top, amount, .. }] = verdict.offences[..] else {
        panic!("expected a top-edge crossing, got {:?}", verdict.offences);
    };
    assert_eq!(amount, 2f64.powi(-54));
    assert_eq!(verdict.min_border_gap, Some(-(2f64.powi(-54))));
}

#[test]
fn crossings_name_the_edge() {
    let verdict = validate(&packing(&[[0.1, 0.9]], &[0.2]), 1);
    let edges: Vec<Edge> = verdict
        .offences
        .iter()
        .map(|o| match o {
            Offence::OutsideSquare { edge, .. } => *edge,
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(edges, [Edge::Left, Edge::Top]);
    assert!(verdict.offences[1].to_string().contains("past the top edge (y = 0.9, r = 0.2)"));
}

#[test]
fn nan_radius_from_json_is_rejected() {
    let json = packing_json(&TANGENT_CENTERS, &[0.25, f64::NAN], None);
    assert!(json.contains(r#""nan""#));
    let eval = evaluate(&json, 2);
    assert!(!eval.valid);
    assert_eq!(eval.score, None);
    assert!(eval.feedback.contains("radii[1] is NaN"), "{}", eval.feedback);
    assert_eq!(eval.metrics.offences, 1);
    // The finite radii are still summed for the metrics.
    assert_eq!(eval.metrics.sum_radii, Some(0.25));
}

#[test]
fn non_finite_coordinates_and_negative_radii_are_named() {
    let p = packing(&[[f64::INFINITY, 0.5], [0.5, f64::NEG_INFINITY], [0.5, 0.5]], &[0.1, 0.1, -0.1]);
    let verdict = validate(&p, 3);
    assert_eq!(
        verdict.offences,
        [
            Offence::NonFinite { field: Field::X(0), value: f64::INFINITY },
            Offence::NonFinite { field: Field::Y(1), value: f64::NEG_INFINITY },
            Offence::NegativeRadius { circle: 2, radius: -0.1 },
        ]
    );
    let reasons: Vec<String> = verdict.offences.iter().map(|o| o.to_string()).collect();
    assert_eq!(reasons, ["centers[0][0] is +inf", "centers[1][1] is -inf", "radii[2] is negative (-1e-1)"]);
}

#[test]
fn reported_sum_off_by_1e_6_is_rejected() {
    let sum = correctly_rounded_sum(&TANGENT_RADII);
    let verdict = validate(&packing_with_sum(sum + 1e-6), 2);
    let [Offence::ReportedSumMismatch { reported, actual, difference, .. }] = verdict.offences[..] else {
        panic!("expected a reported-sum mismatch, got {:?}", verdict.offences);
    };
    assert_eq!((reported, actual), (0.500001, 0.5));
    assert!((difference - 1e-6).abs() < 1e-15);
    let reason = verdict.offences[0].to_string();
    assert!(reason.starts_with("reported sum 0.500001 differs from the sum of the radii 0.5 by 1.0e-6"), "{reason}");
    assert!(validate(&packing_with_sum(sum), 2).valid);
    let nan = validate(&packing_with_sum(f64::NAN), 2);
    let [Offence::NonFinite { field: Field::ReportedSum, value }] = nan.offences[..] else {
        panic!("expected a non-finite reported sum, got {:?}", nan.offences);
    };
    assert!(value.is_nan());
    assert_eq!(nan.offences[0].to_string(), "reported_sum is NaN");
}

#[test]
fn reported_sum_is_judged_by_the_summation_error_bound() {
    // Ten copies of 0.1 sum exactly to 1 + 5.55e-17; the bound is
    // gamma_9 * 1.0000000000000000555 ~ 1.0e-15. Centres on a 0.25 grid.
    let radii = [0.1; 10];
    let centers: Vec<[f64; 2]> =
        (0..10).map(|k| [0.125 + 0.25 * (k % 4) as f64, 0.125 + 0.25 * (k / 4) as f64]).collect();
    let with = |s: f64| {
        let mut p = packing(&centers, &radii);
        p.reported_sum = Some(s);
        validate(&p, 10)
    };
    let naive: f64 = radii.iter().sum(); // 0.9999999999999999
    assert_ne!(naive, 1.0);
    assert!(with(naive).valid, "{}", with(naive).describe_offences());
    assert!(with(1.0).valid);
    let tolerance = reported_sum_tolerance(10);
    assert!((tolerance - 9.0 * 2f64.powi(-53)).abs() < 1e-30);
    // Four ulps above 1 (8.9e-16) is inside the bound, five (1.1e-15) is not.
    assert!(with(1.0 + 4.0 * f64::EPSILON).valid);
    assert!(matches!(with(1.0 + 5.0 * f64::EPSILON).offences[..], [Offence::ReportedSumMismatch { .. }]));
    // A single radius must be reported exactly.
    let mut single = packing(&[[0.5, 0.5]], &[0.1]);
    single.reported_sum = Some(0.1f64.next_up());
    assert!(!validate(&single, 1).valid);
}

fn packing_with_sum(reported: f64) -> asi_evolve_packing_judge::Packing {
    let mut p = packing(&TANGENT_CENTERS, &TANGENT_RADII);
    p.reported_sum = Some(reported);
    p
}

#[test]
fn wrong_counts_are_rejected() {
    let verdict = validate(&packing(&TANGENT_CENTERS, &[0.25, 0.25, 0.1]), 3);
    assert_eq!(verdict.offences, [Offence::WrongCount { field: "centers", found: 2, expected: 3 }]);
    assert_eq!(verdict.offences[0].to_string(), "centers has 2 entries, expected 3");
    // The two circles that exist are still checked.
    assert_eq!(verdict.min_pair_gap, Some(0.0));
    let too_many = validate(&packing(&TANGENT_CENTERS, &TANGENT_RADII), 1);
    assert_eq!(too_many.offences.len(), 2);
    assert!(too_many.offences.iter().all(|o| matches!(o, Offence::WrongCount { expected: 1, .. })));
}

#[test]
fn wrong_shapes_yield_an_invalid_evaluation_with_the_reason() {
    let json = r#"{"centers": [[0.5, 0.5], [0.1, 0.2, 0.3]], "radii": [0.1, 0.1]}"#;
    let eval = evaluate(json, 2);
    assert!(!eval.valid);
    assert_eq!(eval.score, None);
    assert_eq!(eval.feedback, "could not read the packing: centers[1] has 3 coordinates, expected 2");
    let results = serde_json::to_value(&eval).unwrap();
    assert_eq!(results["score"], serde_json::Value::Null);
    assert_eq!(results["valid"], false);

    let eval = evaluate(r#"{"centers": [[0.5, 0.5]], "radii": ["big"]}"#, 1);
    assert!(eval.feedback.contains(r#"radii[0] is the string "big""#), "{}", eval.feedback);
}

#[test]
fn every_offence_is_counted_but_the_listing_is_capped() {
    // 12 identical circles: 66 overlapping pairs.
    let verdict = validate(&packing(&[[0.5, 0.5]; 12], &[0.1; 12]), 12);
    assert_eq!(verdict.offences.len(), 66);
    let listing = verdict.describe_offences();
    assert_eq!(listing.matches("overlap by 2.0e-1").count(), 10, "{listing}");
    assert!(listing.ends_with("; and 56 more"), "{listing}");
    let eval = evaluate(&packing_json(&[[0.5, 0.5]; 12], &[0.1; 12], None), 12);
    assert!(eval.feedback.starts_with("invalid packing of 12 circles, not scored (66 offences): "));
    assert_eq!(eval.metrics.offences, 66);
}

#[test]
fn evaluation_serialises_to_the_results_protocol() {
    // Inner tangent pair: valid, and the LP can grow both circles.
    let eval = evaluate(&packing_json(&INNER_CENTERS, &[0.125, 0.125], None), 2);
    let results = serde_json::to_value(&eval).unwrap();
    assert_eq!(results["score"], 0.25);
    assert_eq!(results["valid"], true);
    let metrics = results["metrics"].as_object().unwrap();
    let mut keys: Vec<&str> = metrics.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["lp_gap", "lp_sum_radii", "min_border_gap", "min_pair_gap", "n", "offences", "sum_radii"]);
    // The pair constraint r0 + r1 <= 0.25 binds (each bound is 0.375).
    assert!((metrics["lp_sum_radii"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    assert_eq!(metrics["n"], 2);
    assert_eq!(metrics["offences"], 0);
    assert!(
        eval.feedback.starts_with("valid packing of 2 circles, sum of radii 0.250000; the LP optimum"),
        "{}",
        eval.feedback
    );
    assert!(eval.feedback.contains("tightest pair gap 0.0e0, tightest border gap 2.5e-1"), "{}", eval.feedback);
}

#[test]
fn lp_metric_shows_what_was_left_on_the_table() {
    let eval = evaluate(&packing_json(&TANGENT_CENTERS, &[0.125, 0.125], Some(0.25)), 2);
    assert!(eval.valid);
    assert_eq!(eval.metrics.reported_sum, Some(0.25));
    assert!((eval.metrics.lp_sum_radii.unwrap() - 0.5).abs() < 1e-12);
    assert!((eval.metrics.lp_gap.unwrap() - 0.25).abs() < 1e-12);
    assert!(eval.feedback.contains("(2.5e-1 left on the table)"), "{}", eval.feedback);
}
