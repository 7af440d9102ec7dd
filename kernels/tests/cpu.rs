//! The fast CPU paths (`cpu::`) against their references (`reference::`).

mod common;

use asi_evolve_kernels::reference::{self, DeltaRuleOutput};
use asi_evolve_kernels::{Float, KernelError, cpu};
use common::{Problem, dims, max_abs_diff};
use proptest::prelude::*;

/// `(B, T, H, Dk, Dv)`: ragged last chunks, Dk != Dv, sizes off the
/// microkernels' register tiles, and more heads than threads.
const SHAPES: [(usize, usize, usize, usize, usize); 4] =
    [(1, 1, 1, 4, 4), (1, 37, 2, 8, 5), (2, 50, 3, 32, 24), (1, 70, 1, 64, 40)];
const CHUNKS: [usize; 4] = [1, 7, 16, 64];

fn error<F: Float>(a: &DeltaRuleOutput<F>, b: &DeltaRuleOutput<F>) -> f64 {
    max_abs_diff(&a.o, &b.o).max(max_abs_diff(&a.final_state, &b.final_state))
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// Worst fast-chunked error against the recurrent and the reference chunked
/// forward over every shape, chunk, gating and initial-state choice.
fn worst_chunked_error<F: cpu::GemmFloat>() -> (f64, f64) {
    let (mut vs_recurrent, mut vs_chunked) = (0.0f64, 0.0f64);
    for (n, &(b, t, h, dk, dv)) in SHAPES.iter().enumerate() {
        for (gated, with_h0) in [(false, false), (false, true), (true, false), (true, true)] {
            let p = Problem::random(
                100 + n as u64 * 4 + 2 * gated as u64 + with_h0 as u64,
                dims(b, t, h, dk, dv),
                gated,
                with_h0,
            )
            .cast::<F>();
            let want = reference::recurrent_forward(&p.input()).unwrap();
            for chunk in CHUNKS {
                let got = cpu::chunked_forward(&p.input(), chunk).unwrap();
                vs_recurrent = vs_recurrent.max(error(&got, &want));
                vs_chunked = vs_chunked.max(error(&got, &reference::chunked_forward(&p.input(), chunk).unwrap()));
            }
        }
    }
    (vs_recurrent, vs_chunked)
}

#[test]
fn fast_chunked_matches_references_f64() {
    let (rec, chk) = worst_chunked_error::<f64>();
    println!("cpu::chunked_forward f64: max abs error {rec:.3e} vs recurrent, {chk:.3e} vs reference chunked");
    assert!(rec < 1e-10 && chk < 1e-10, "{rec} {chk}");
}

#[test]
fn fast_chunked_matches_references_f32() {
    let (rec, chk) = worst_chunked_error::<f32>();
    println!("cpu::chunked_forward f32: max abs error {rec:.3e} vs recurrent, {chk:.3e} vs reference chunked");
    assert!(rec < 1e-4 && chk < 1e-4, "{rec} {chk}");
}

#[test]
fn parallel_recurrent_is_the_reference_bit_for_bit() {
    for (n, &(b, t, h, dk, dv)) in SHAPES.iter().enumerate() {
        let p = Problem::random(200 + n as u64, dims(b, t, h, dk, dv), n % 2 == 1, n >= 2);
        let want = reference::recurrent_forward(&p.input()).unwrap();
        assert_eq!(pool(3).install(|| cpu::recurrent_forward(&p.input())).unwrap(), want);
        assert_eq!(pool(1).install(|| cpu::recurrent_forward(&p.input())).unwrap(), want);
    }
}

#[test]
fn parallel_backward_is_the_reference_bit_for_bit() {
    for (gated, with_h0) in [(false, false), (true, true)] {
        let d = dims(2, 23, 3, 6, 5);
        let p = Problem::random(300 + gated as u64, d, gated, with_h0);
        let r = common::Rng::new(301).uniform_vec(d.v_len());
        let rs = common::Rng::new(302).uniform_vec(d.state_len());
        for (chunk, ds) in [(8, Some(&rs[..])), (5, None)] {
            let want = reference::chunked_backward(&p.input(), chunk, &r, ds).unwrap();
            assert_eq!(pool(3).install(|| cpu::chunked_backward(&p.input(), chunk, &r, ds)).unwrap(), want);
        }
    }
}

#[test]
fn fast_paths_do_not_depend_on_thread_count() {
    let p = Problem::random(7, dims(3, 70, 3, 16, 12), true, true).cast::<f32>();
    let one = pool(1).install(|| cpu::chunked_forward(&p.input(), 16)).unwrap();
    for threads in [2, 4] {
        assert_eq!(pool(threads).install(|| cpu::chunked_forward(&p.input(), 16)).unwrap(), one, "{threads} threads");
    }
}

#[test]
fn fast_paths_reject_what_the_references_reject() {
    let p = Problem::random(1, dims(1, 8, 2, 4, 4), false, false);
    let mut input = p.input();
    assert!(matches!(cpu::chunked_forward(&input, 0), Err(KernelError::InvalidArgument(_))));
    input.k = &p.k[2..];
    assert!(matches!(cpu::chunked_forward(&input, 4), Err(KernelError::ShapeMismatch { name: "k", .. })));
    assert!(matches!(cpu::recurrent_forward(&input), Err(KernelError::ShapeMismatch { name: "k", .. })));
    let r = vec![0.0; 3];
    let err = cpu::chunked_backward(&p.input(), 4, &r, None);
    assert!(matches!(err, Err(KernelError::ShapeMismatch { name: "d_o", .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn fast_chunked_matches_recurrent_random_shapes(
        seed in any::<u64>(),
        batch in 1usize..3,
        seq_len in 1usize..70,
        heads in 1usize..4,
        dk in 1usize..20,
        dv in 1usize..20,
        chunk in 1usize..40,
        gated in any::<bool>(),
        with_h0 in any::<bool>(),
    ) {
        let p = Problem::random(seed, dims(batch, seq_len, heads, dk, dv), gated, with_h0);
        let want = reference::recurrent_forward(&p.input()).unwrap();
        let got = cpu::chunked_forward(&p.input(), chunk).unwrap();
        prop_assert!(max_abs_diff(&got.o, &want.o) < 1e-10);
        prop_assert!(max_abs_diff(&got.final_state, &want.final_state) < 1e-10);
    }
}
