//! The CUDA forward kernels against the CPU reference. On a machine without a CUDA driver the
//! comparison test prints SKIPPED and returns, unless `ASI_EVOLVE_REQUIRE_GPU=1` (set by
//! scripts that run on a GPU machine), where a missing driver fails it. CI has no GPU, so CI
//! alone does not require one.

mod common;

use asi_evolve_kernels::KernelError;
use asi_evolve_kernels::gpu::{GpuDeltaRule, GpuForwardInput, driver_present, gpu_available};
use asi_evolve_kernels::reference::recurrent_forward;
use common::{Problem, dims, max_abs_diff};
use half::bf16;

fn to_bf16(x: &[f64]) -> Vec<bf16> {
    x.iter().map(|&e| bf16::from_f64(e)).collect()
}

/// Rounds the bf16 inputs of `p` in place so the f64 reference sees exactly
/// what the kernel sees; the remaining difference is the kernel's f32 math.
fn round_to_bf16(p: &mut Problem<f64>) {
    for x in [&mut p.q, &mut p.k, &mut p.v, &mut p.beta] {
        x.iter_mut().for_each(|e| *e = bf16::from_f64(*e).to_f64());
    }
    if let Some(g) = p.g.as_mut() {
        g.iter_mut().for_each(|e| *e = *e as f32 as f64);
    }
    if let Some(h0) = p.h0.as_mut() {
        h0.iter_mut().for_each(|e| *e = *e as f32 as f64);
    }
}

#[test]
fn gpu_forward_matches_cpu_reference() {
    if !driver_present() {
        let required = std::env::var("ASI_EVOLVE_REQUIRE_GPU").is_ok_and(|v| v == "1");
        assert!(!required, "ASI_EVOLVE_REQUIRE_GPU=1 but no CUDA driver can be loaded on this machine");
        println!("SKIPPED: no CUDA driver on this machine (ASI_EVOLVE_REQUIRE_GPU=1 makes this a failure)");
        return;
    }
    let gpu = GpuDeltaRule::new(0).expect("a CUDA driver is present, so the GPU must open");
    println!("device: {}", gpu.device_name().unwrap_or_default());
    // (B, T, H, Dk, Dv, chunk): ragged last chunks, Dv not a multiple of the
    // value tile, the largest supported Dk.
    let cases = [(2, 100, 3, 64, 64, 64), (1, 50, 2, 32, 48, 16), (1, 300, 2, 128, 128, 64), (2, 77, 2, 128, 96, 32)];
    let mut seed = 0;
    for (b, t, h, dk, dv, chunk) in cases {
        for gated in [false, true] {
            for with_h0 in [false, true] {
                seed += 1;
                let mut p = Problem::random(seed, dims(b, t, h, dk, dv), gated, with_h0);
                round_to_bf16(&mut p);
                let want = recurrent_forward(&p.input()).unwrap();
                let (q, k, v, beta) = (to_bf16(&p.q), to_bf16(&p.k), to_bf16(&p.v), to_bf16(&p.beta));
                let g: Option<Vec<f32>> = p.g.as_ref().map(|g| g.iter().map(|&e| e as f32).collect());
                let h0: Option<Vec<f32>> = p.h0.as_ref().map(|h| h.iter().map(|&e| e as f32).collect());
                let input = GpuForwardInput {
                    dims: p.dims,
                    q: &q,
                    k: &k,
                    v: &v,
                    beta: &beta,
                    g: g.as_deref(),
                    initial_state: h0.as_deref(),
                    scale: p.scale as f32,
                    chunk,
                };
                let got = gpu.forward(&input).unwrap();
                let o: Vec<f64> = got.o.iter().map(|&e| e as f64).collect();
                let s: Vec<f64> = got.final_state.iter().map(|&e| e as f64).collect();
                let err_o = max_abs_diff(&o, &want.o);
                let err_s = max_abs_diff(&s, &want.final_state);
                println!(
                    "B{b} T{t} H{h} Dk{dk} Dv{dv} C{chunk} gated={gated} h0={with_h0}: \
                     max abs error o {err_o:.3e}, final state {err_s:.3e}"
                );
                assert!(err_o < 2e-3 && err_s < 2e-3, "o {err_o}, state {err_s}");
            }
        }
    }
}

#[test]
fn gpu_availability_is_consistent() {
    match GpuDeltaRule::new(0) {
        Ok(_) => assert!(gpu_available()),
        Err(KernelError::GpuUnavailable(why)) => {
            assert!(!gpu_available());
            println!("no GPU here: {why}");
        }
        Err(e) => panic!("unexpected error opening the GPU: {e}"),
    }
}

#[test]
fn gpu_input_validation_needs_no_gpu() {
    let d = dims(1, 10, 1, 256, 8);
    let q = vec![bf16::ZERO; d.qk_len()];
    let v = vec![bf16::ZERO; d.v_len()];
    let beta = vec![bf16::ZERO; d.gate_len()];
    let mut input = GpuForwardInput {
        dims: d,
        q: &q,
        k: &q,
        v: &v,
        beta: &beta,
        g: None,
        initial_state: None,
        scale: 1.0,
        chunk: 64,
    };
    assert!(matches!(input.validate(), Err(KernelError::InvalidArgument(_))));
    let d = dims(1, 10, 1, 8, 16);
    let q = vec![bf16::ZERO; d.qk_len()];
    input = GpuForwardInput { dims: d, q: &q, k: &q, chunk: 48, ..input };
    assert!(matches!(input.validate(), Err(KernelError::InvalidArgument(_))));
    input.chunk = 16;
    assert!(matches!(input.validate(), Err(KernelError::ShapeMismatch { name: "v", .. })));
}
