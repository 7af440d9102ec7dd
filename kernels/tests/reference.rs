//! The chunked CPU forward and backward against the recurrent definition.

mod common;

use asi_evolve_kernels::KernelError;
use asi_evolve_kernels::reference::{
    DeltaRuleOutput, chunked_backward, chunked_forward, l2_normalize_rows, recurrent_forward,
};
use common::{Problem, Rng, dims, max_abs_diff};
use proptest::prelude::*;

/// `(B, T, H, Dk, Dv)` shapes, several with `T` not a multiple of any chunk.
const SHAPES: [(usize, usize, usize, usize, usize); 5] =
    [(1, 1, 1, 4, 4), (1, 37, 2, 8, 5), (2, 64, 3, 16, 16), (2, 100, 2, 32, 24), (1, 257, 1, 64, 64)];
const CHUNKS: [usize; 4] = [1, 7, 16, 64];

/// Worst chunked-vs-recurrent error over every shape, chunk size, initial
/// state choice and gating choice given.
fn worst_forward_error<F: asi_evolve_kernels::Float>(gated: bool) -> f64 {
    let mut worst = 0.0f64;
    for (n, &(b, t, h, dk, dv)) in SHAPES.iter().enumerate() {
        for with_h0 in [false, true] {
            let p = Problem::random(n as u64 * 2 + with_h0 as u64, dims(b, t, h, dk, dv), gated, with_h0).cast::<F>();
            let want = recurrent_forward(&p.input()).unwrap();
            for chunk in CHUNKS {
                let got = chunked_forward(&p.input(), chunk).unwrap();
                worst = worst.max(max_abs_diff(&got.o, &want.o)).max(max_abs_diff(&got.final_state, &want.final_state));
            }
        }
    }
    worst
}

#[test]
fn chunked_matches_recurrent_f64() {
    let err = worst_forward_error::<f64>(false);
    println!("chunked vs recurrent, f64: max abs error {err:.3e}");
    assert!(err < 1e-10, "{err}");
}

#[test]
fn chunked_matches_recurrent_f32() {
    let err = worst_forward_error::<f32>(false);
    println!("chunked vs recurrent, f32: max abs error {err:.3e}");
    assert!(err < 1e-4, "{err}");
}

#[test]
fn gated_chunked_matches_gated_recurrent_f64() {
    let err = worst_forward_error::<f64>(true);
    println!("gated chunked vs recurrent, f64: max abs error {err:.3e}");
    assert!(err < 1e-10, "{err}");
}

#[test]
fn gated_chunked_matches_gated_recurrent_f32() {
    let err = worst_forward_error::<f32>(true);
    println!("gated chunked vs recurrent, f32: max abs error {err:.3e}");
    assert!(err < 1e-4, "{err}");
}

/// `sum(O * R) + sum(S_T * R_s)` by the recurrent definition.
fn loss(p: &Problem<f64>, r: &[f64], rs: &[f64]) -> f64 {
    let DeltaRuleOutput { o, final_state } = recurrent_forward(&p.input()).unwrap();
    o.iter().zip(r).map(|(a, b)| a * b).sum::<f64>() + final_state.iter().zip(rs).map(|(a, b)| a * b).sum::<f64>()
}

/// Central differences of `loss` with respect to every element of the tensor
/// `pick` selects.
fn numeric_grad(p: &Problem<f64>, r: &[f64], rs: &[f64], pick: fn(&mut Problem<f64>) -> &mut Vec<f64>) -> Vec<f64> {
    let eps = 1e-6;
    let n = pick(&mut p.clone()).len();
    (0..n)
        .map(|i| {
            let mut plus = p.clone();
            pick(&mut plus)[i] += eps;
            let mut minus = p.clone();
            pick(&mut minus)[i] -= eps;
            (loss(&plus, r, rs) - loss(&minus, r, rs)) / (2.0 * eps)
        })
        .collect()
}

fn check_gradients(gated: bool, chunk: usize) -> f64 {
    let d = dims(2, 11, 2, 5, 3);
    let p = Problem::random(if gated { 91 } else { 90 }, d, gated, true);
    let mut rng = Rng::new(7);
    let r = rng.uniform_vec(d.v_len());
    let rs = rng.uniform_vec(d.state_len());
    let grads = chunked_backward(&p.input(), chunk, &r, Some(&rs)).unwrap();
    let mut worst = 0.0f64;
    let mut check = |name: &str, got: &[f64], pick: fn(&mut Problem<f64>) -> &mut Vec<f64>| {
        let want = numeric_grad(&p, &r, &rs, pick);
        let err = max_abs_diff(got, &want);
        println!("gated={gated} chunk={chunk} d{name}: max abs error vs finite differences {err:.3e}");
        assert!(err < 1e-7, "d{name}: {err}");
        worst = worst.max(err);
    };
    check("q", &grads.dq, |p| &mut p.q);
    check("k", &grads.dk, |p| &mut p.k);
    check("v", &grads.dv, |p| &mut p.v);
    check("beta", &grads.dbeta, |p| &mut p.beta);
    check("h0", &grads.d_initial_state, |p| p.h0.as_mut().unwrap());
    match grads.dg.as_deref() {
        Some(dg) => check("g", dg, |p| p.g.as_mut().unwrap()),
        None => assert!(!gated),
    }
    worst
}

#[test]
fn backward_matches_finite_differences() {
    for chunk in [1, 4, 16] {
        check_gradients(false, chunk);
    }
}

#[test]
fn gated_backward_matches_finite_differences() {
    for chunk in [1, 4, 16] {
        check_gradients(true, chunk);
    }
}

#[test]
fn backward_without_initial_or_final_state() {
    let d = dims(1, 20, 2, 6, 4);
    let mut p = Problem::random(5, d, true, false);
    let r = Rng::new(8).uniform_vec(d.v_len());
    let got = chunked_backward(&p.input(), 8, &r, None).unwrap();
    // A zero initial state has the same gradient as an absent one.
    p.h0 = Some(vec![0.0; d.state_len()]);
    let rs = vec![0.0; d.state_len()];
    let want = chunked_backward(&p.input(), 3, &r, Some(&rs)).unwrap();
    let err = max_abs_diff(&got.dq, &want.dq)
        .max(max_abs_diff(&got.dk, &want.dk))
        .max(max_abs_diff(&got.dv, &want.dv))
        .max(max_abs_diff(&got.dbeta, &want.dbeta))
        .max(max_abs_diff(got.dg.as_ref().unwrap(), want.dg.as_ref().unwrap()))
        .max(max_abs_diff(&got.d_initial_state, &want.d_initial_state));
    assert!(err < 1e-12, "{err}");
}

#[test]
fn rejects_bad_shapes_and_chunk() {
    let p = Problem::random(1, dims(1, 8, 1, 4, 4), false, false);
    let mut input = p.input();
    assert!(matches!(chunked_forward(&input, 0), Err(KernelError::InvalidArgument(_))));
    input.v = &p.v[1..];
    assert!(matches!(recurrent_forward(&input), Err(KernelError::ShapeMismatch { name: "v", .. })));
    let r = vec![0.0; 3];
    assert!(matches!(chunked_backward(&p.input(), 4, &r, None), Err(KernelError::ShapeMismatch { name: "d_o", .. })));
}

#[test]
fn l2_normalize_gives_unit_rows() {
    let mut x = vec![3.0f64, 4.0, 0.0, 0.0, 1.0, 0.0];
    l2_normalize_rows(&mut x, 3, 0.0).unwrap();
    assert!(max_abs_diff(&x, &[0.6, 0.8, 0.0, 0.0, 1.0, 0.0]) < 1e-15);
    assert!(l2_normalize_rows(&mut x, 4, 0.0).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn chunked_matches_recurrent_random_shapes(
        seed in any::<u64>(),
        batch in 1usize..3,
        seq_len in 1usize..70,
        heads in 1usize..3,
        dk in 1usize..12,
        dv in 1usize..12,
        chunk in 1usize..20,
        gated in any::<bool>(),
        with_h0 in any::<bool>(),
    ) {
        let p = Problem::random(seed, dims(batch, seq_len, heads, dk, dv), gated, with_h0);
        let want = recurrent_forward(&p.input()).unwrap();
        let got = chunked_forward(&p.input(), chunk).unwrap();
        prop_assert!(max_abs_diff(&got.o, &want.o) < 1e-10);
        prop_assert!(max_abs_diff(&got.final_state, &want.final_state) < 1e-10);
    }

    #[test]
    fn backward_is_independent_of_chunk_size(
        seed in any::<u64>(),
        seq_len in 1usize..40,
        dk in 1usize..8,
        dv in 1usize..8,
        c1 in 1usize..16,
        c2 in 1usize..16,
        gated in any::<bool>(),
    ) {
        let d = dims(1, seq_len, 2, dk, dv);
        let p = Problem::random(seed, d, gated, true);
        let r = Rng::new(seed ^ 1).uniform_vec(d.v_len());
        let a = chunked_backward(&p.input(), c1, &r, None).unwrap();
        let b = chunked_backward(&p.input(), c2, &r, None).unwrap();
        prop_assert!(max_abs_diff(&a.dq, &b.dq) < 1e-10);
        prop_assert!(max_abs_diff(&a.dk, &b.dk) < 1e-10);
        prop_assert!(max_abs_diff(&a.dv, &b.dv) < 1e-10);
        prop_assert!(max_abs_diff(&a.dbeta, &b.dbeta) < 1e-10);
        prop_assert!(max_abs_diff(&a.d_initial_state, &b.d_initial_state) < 1e-10);
    }
}
