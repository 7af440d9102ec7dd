//! Times the CUDA chunked forward on the paper-scale shapes, checks it there against the CPU
//! reference (f64, on the same bf16-rounded inputs) and, when fla is importable, times fla's
//! `chunk_delta_rule` on the same shapes.
//!
//! Without a usable GPU it says so and exits 0, so it can run anywhere; with
//! `ASI_EVOLVE_REQUIRE_GPU=1` (scripts/gpu-check.sh) it exits 1 instead. It exits 1 when the GPU's
//! output differs from the reference by more than `TOLERANCE`. `--json PATH` also writes the
//! numbers there. The fla timing script is `ASI_EVOLVE_FLA_BENCH` when set, else
//! `kernels/bench/fla_bench.py` below the current folder, else the one in this build's source tree.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use asi_evolve_kernels::gpu::{GpuDeltaRule, GpuForwardInput};
use asi_evolve_kernels::reference::DeltaRuleInput;
use asi_evolve_kernels::splitmix::SplitMix64;
use asi_evolve_kernels::{Dims, KernelError, cpu};
use half::bf16;

const SHAPES: [(usize, usize, usize, usize); 2] = [(4, 8192, 16, 128), (8, 2048, 16, 128)];
const CHUNK: usize = 64;
const WARMUP: usize = 3;
const ITERS: usize = 20;
/// Largest absolute difference allowed between the GPU's f32 output (and final state) and the
/// f64 reference on the same inputs; tests/gpu.rs uses the same bound on its small shapes.
const TOLERANCE: f64 = 2e-3;

/// Deterministic values in `[-1, 1)`.
fn values(n: usize, seed: u64) -> Vec<f32> {
    SplitMix64::new(seed).uniform_vec(n).into_iter().map(|x| x as f32).collect()
}

fn normalized_bf16(n: usize, d: usize, seed: u64) -> Vec<bf16> {
    let mut x = values(n, seed);
    asi_evolve_kernels::reference::l2_normalize_rows(&mut x, d, 1e-6).expect("row length divides");
    x.into_iter().map(bf16::from_f32).collect()
}

/// One shape's result: our mean forward time and the largest differences from the reference.
struct Ours {
    ms: f64,
    err_o: f64,
    err_state: f64,
}

fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).abs()).fold(0.0, f64::max)
}

/// Times our forward on one shape, then compares its output with the CPU reference.
fn run_ours(gpu: &GpuDeltaRule, dims: Dims) -> Result<Ours, KernelError> {
    let q = normalized_bf16(dims.qk_len(), dims.dk, 1);
    let k = normalized_bf16(dims.qk_len(), dims.dk, 2);
    let v: Vec<bf16> = values(dims.v_len(), 3).into_iter().map(bf16::from_f32).collect();
    let beta: Vec<bf16> = values(dims.gate_len(), 4).into_iter().map(|x| bf16::from_f32(0.5 + 0.4 * x)).collect();
    let scale = dims.default_scale() as f32;
    let input =
        GpuForwardInput { dims, q: &q, k: &k, v: &v, beta: &beta, g: None, initial_state: None, scale, chunk: CHUNK };
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
    let ms = start.elapsed().as_secs_f64() * 1e3 / ITERS as f64;
    let got = gpu.download(&prob)?;
    // The reference sees exactly the kernel's (bf16) inputs; what differs is the kernel's f32 math.
    let wide = |x: &[bf16]| x.iter().map(|e| e.to_f64()).collect::<Vec<f64>>();
    let (q64, k64, v64, beta64) = (wide(&q), wide(&k), wide(&v), wide(&beta));
    let want = cpu::chunked_forward(
        &DeltaRuleInput {
            dims,
            q: &q64,
            k: &k64,
            v: &v64,
            beta: &beta64,
            g: None,
            initial_state: None,
            scale: scale as f64,
        },
        CHUNK,
    )?;
    Ok(Ours { ms, err_o: max_abs_diff(&got.o, &want.o), err_state: max_abs_diff(&got.final_state, &want.final_state) })
}

fn fla_script() -> PathBuf {
    if let Some(path) = std::env::var_os("ASI_EVOLVE_FLA_BENCH") {
        return PathBuf::from(path);
    }
    let here = PathBuf::from("kernels/bench/fla_bench.py");
    if here.exists() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/fla_bench.py"))
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
    let mut args = vec![fla_script().display().to_string()];
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

/// The numbers as JSON (`--json`): device, tolerance, and per shape our time and errors and
/// fla's times (null when fla did not run).
fn write_json(path: &str, device: &str, ok: bool, ours: &[Ours], fla: Option<&[(f64, f64)]>) {
    let num = |x: Option<f64>| x.map_or("null".to_string(), |x| format!("{x}"));
    let rows: Vec<String> = SHAPES
        .iter()
        .zip(ours)
        .enumerate()
        .map(|(i, (&(b, t, h, d), r))| {
            let (fwd, fwd_bwd) = fla.map_or((None, None), |f| (Some(f[i].0), Some(f[i].1)));
            format!(
                "{{\"shape\": [{b}, {t}, {h}, {d}], \"ours_ms\": {}, \"err_o\": {:e}, \"err_state\": {:e}, \
                 \"fla_fwd_ms\": {}, \"fla_fwd_bwd_ms\": {}}}",
                r.ms,
                r.err_o,
                r.err_state,
                num(fwd),
                num(fwd_bwd)
            )
        })
        .collect();
    let text = format!(
        "{{\"device\": {device:?}, \"chunk\": {CHUNK}, \"tolerance\": {TOLERANCE:e}, \"ok\": {ok}, \"fla\": {}, \
         \"shapes\": [{}]}}\n",
        fla.is_some(),
        rows.join(", ")
    );
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    }
}

fn required() -> bool {
    std::env::var("ASI_EVOLVE_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json_path = args.iter().position(|a| a == "--json").map(|i| {
        args.get(i + 1).cloned().unwrap_or_else(|| {
            eprintln!("--json needs a path");
            std::process::exit(2)
        })
    });
    let gpu = match GpuDeltaRule::new(0) {
        Ok(gpu) => gpu,
        Err(KernelError::GpuUnavailable(why)) => {
            if required() {
                eprintln!("no GPU: {why}; ASI_EVOLVE_REQUIRE_GPU=1 makes that a failure");
                std::process::exit(1);
            }
            println!("no GPU: {why}; nothing to benchmark");
            return;
        }
        Err(e) => {
            eprintln!("error opening the GPU: {e}");
            std::process::exit(1);
        }
    };
    let device = gpu.device_name().unwrap_or_default();
    println!("device: {device}");
    println!("chunk {CHUNK}, bf16 inputs, f32 accumulation, mean of {ITERS} runs");
    println!("forward+backward: not measured, the CUDA backward is not implemented");
    let mut ours = Vec::new();
    let mut failed = false;
    for (b, t, h, d) in SHAPES {
        let dims = Dims { batch: b, seq_len: t, heads: h, dk: d, dv: d };
        match run_ours(&gpu, dims) {
            Ok(r) => {
                let ok = r.err_o <= TOLERANCE && r.err_state <= TOLERANCE;
                println!(
                    "ours B{b} T{t} H{h} D{d}: forward {:.3} ms; max abs error vs CPU f64 reference: o {:.3e}, \
                     final state {:.3e} ({})",
                    r.ms,
                    r.err_o,
                    r.err_state,
                    if ok { "ok" } else { "MISMATCH" }
                );
                failed |= !ok;
                ours.push(r);
            }
            Err(e) => {
                eprintln!("ours B{b} T{t} H{h} D{d}: failed: {e}");
                std::process::exit(1);
            }
        }
    }
    // Written now and again after fla's timing, so that an fla that hangs (or is stopped by a
    // timeout) leaves our numbers behind.
    if let Some(path) = &json_path {
        write_json(path, &device, !failed, &ours, None);
    }
    let fla = time_fla();
    if let Some(fla) = &fla {
        for ((&(b, t, h, d), r), (fla_fwd, fla_fwd_bwd)) in SHAPES.iter().zip(&ours).zip(fla) {
            println!(
                "fla  B{b} T{t} H{h} D{d}: forward {fla_fwd:.3} ms, forward+backward {fla_fwd_bwd:.3} ms; \
                 ours/fla forward {:.2}x",
                r.ms / fla_fwd
            );
        }
    }
    if let Some(path) = &json_path {
        write_json(path, &device, !failed, &ours, fla.as_deref());
    }
    if failed {
        eprintln!("delta-bench: the GPU forward differs from the CPU reference by more than {TOLERANCE:e}");
        std::process::exit(1);
    }
}
