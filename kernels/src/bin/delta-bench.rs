//! Times the CUDA chunked forward on the paper-scale shapes and, when fla is
//! importable, fla's `chunk_delta_rule` on the same shapes.
//!
//! Without a usable GPU it says so and exits 0, so it can run anywhere.

use std::process::Command;
use std::time::Instant;

use asi_evolve_kernels::gpu::{GpuDeltaRule, GpuForwardInput};
use asi_evolve_kernels::splitmix::SplitMix64;
use asi_evolve_kernels::{Dims, KernelError};
use half::bf16;

const SHAPES: [(usize, usize, usize, usize); 2] = [(4, 8192, 16, 128), (8, 2048, 16, 128)];
const CHUNK: usize = 64;
const WARMUP: usize = 3;
const ITERS: usize = 20;

/// Deterministic values in `[-1, 1)`.
fn values(n: usize, seed: u64) -> Vec<f32> {
    SplitMix64::new(seed).uniform_vec(n).into_iter().map(|x| x as f32).collect()
}

fn normalized_bf16(n: usize, d: usize, seed: u64) -> Vec<bf16> {
    let mut x = values(n, seed);
    asi_evolve_kernels::reference::l2_normalize_rows(&mut x, d, 1e-6).expect("row length divides");
    x.into_iter().map(bf16::from_f32).collect()
}

/// Mean milliseconds of our forward on one shape.
fn time_ours(gpu: &GpuDeltaRule, dims: Dims) -> Result<f64, KernelError> {
    let q = normalized_bf16(dims.qk_len(), dims.dk, 1);
    let k = normalized_bf16(dims.qk_len(), dims.dk, 2);
    let v: Vec<bf16> = values(dims.v_len(), 3).into_iter().map(bf16::from_f32).collect();
    let beta: Vec<bf16> = values(dims.gate_len(), 4).into_iter().map(|x| bf16::from_f32(0.5 + 0.4 * x)).collect();
    let input = GpuForwardInput {
        dims,
        q: &q,
        k: &k,
        v: &v,
        beta: &beta,
        g: None,
        initial_state: None,
        scale: dims.default_scale() as f32,
        chunk: CHUNK,
    };
    let mut prob = gpu.upload(&input)?;
    for _ in 0..WARMUP {
        gpu.launch_forward(&mut prob)?;
    }
    gpu.synchronize()?;
    let start = Instant::now();
    for _ in 0..ITERS {
        gpu.launch_forward(&mut prob)?;
    }
    gpu.synchronize()?;
    Ok(start.elapsed().as_secs_f64() * 1e3 / ITERS as f64)
}

/// Runs `bench/fla_bench.py` and returns its `(fwd_ms, fwd_bwd_ms)` per shape,
/// or `None` when fla (or Python) is not there.
fn time_fla() -> Option<Vec<(f64, f64)>> {
    let has_fla =
        Command::new("python3").args(["-c", "import fla"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !has_fla {
        println!("fla: not importable (python3 -c 'import fla' failed); skipping the comparison");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/fla_bench.py");
    let mut args = vec![script.to_string()];
    for (b, t, h, d) in SHAPES {
        args.push(format!("{b},{t},{h},{d}"));
    }
    let out = Command::new("python3").args(&args).output().ok()?;
    if !out.status.success() {
        println!("fla: benchmark script failed:\n{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    // One line per shape: "fla B T H D fwd_ms fwd_bwd_ms".
    let times: Vec<(f64, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() == 7 && f[0] == "fla").then(|| Some((f[5].parse().ok()?, f[6].parse().ok()?)))?
        })
        .collect();
    (times.len() == SHAPES.len()).then_some(times)
}

fn main() {
    let gpu = match GpuDeltaRule::new(0) {
        Ok(gpu) => gpu,
        Err(KernelError::GpuUnavailable(why)) => {
            println!("no GPU: {why}; nothing to benchmark");
            return;
        }
        Err(e) => {
            eprintln!("error opening the GPU: {e}");
            std::process::exit(1);
        }
    };
    println!("device: {}", gpu.device_name().unwrap_or_default());
    println!("chunk {CHUNK}, bf16 inputs, f32 accumulation, mean of {ITERS} runs");
    println!("forward+backward: not measured, the CUDA backward is not implemented");
    let mut ours = Vec::new();
    for (b, t, h, d) in SHAPES {
        let dims = Dims { batch: b, seq_len: t, heads: h, dk: d, dv: d };
        match time_ours(&gpu, dims) {
            Ok(ms) => {
                println!("ours B{b} T{t} H{h} D{d}: forward {ms:.3} ms");
                ours.push(ms);
            }
            Err(e) => {
                eprintln!("ours B{b} T{t} H{h} D{d}: failed: {e}");
                std::process::exit(1);
            }
        }
    }
    if let Some(fla) = time_fla() {
        for ((&(b, t, h, d), ms), (fla_fwd, fla_fwd_bwd)) in SHAPES.iter().zip(&ours).zip(fla) {
            println!(
                "fla  B{b} T{t} H{h} D{d}: forward {fla_fwd:.3} ms, forward+backward {fla_fwd_bwd:.3} ms; \
                 ours/fla forward {:.2}x",
                ms / fla_fwd
            );
        }
    }
}
