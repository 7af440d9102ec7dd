//! The linear-attention suite's PyTorch delta rule (the DeltaNet seed program and the Gated
//! DeltaNet design) against this crate's recurrent reference, on the same random inputs, so the
//! Python baseline and the Rust reference cannot drift apart. Needs PyTorch on `python3`
//! (`bash scripts/setup.sh --ml`, then `source scripts/env.sh`): without it the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use asi_evolve_kernels::reference::recurrent_forward;
use common::{Problem, dims, max_abs_diff};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write_f64(path: &Path, data: &[f64]) {
    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f64(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn require_torch() {
    let probe = Command::new("python3").args(["-c", "import torch"]).output();
    let ok = matches!(&probe, Ok(o) if o.status.success());
    assert!(
        ok,
        "PyTorch is not importable by `python3` on PATH ({}), so the suite's DeltaNet cannot be checked \
         against the Rust reference: run `bash scripts/setup.sh --ml`, then `source scripts/env.sh`",
        match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().lines().last().unwrap_or("").to_string(),
            Err(e) => e.to_string(),
        }
    );
}

/// Worst error of the program's chunked and recurrent forms against `recurrent_forward`.
fn torch_vs_reference(program: &str, gated: bool, seed: u64) -> (f64, f64) {
    require_torch();
    let (b, t, h, dk, dv, chunk) = (2, 37, 3, 8, 5, 16);
    let p = Problem::random(seed, dims(b, t, h, dk, dv), gated, false);
    let want = recurrent_forward(&p.input()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [("q", &p.q), ("k", &p.k), ("v", &p.v), ("beta", &p.beta)] {
        write_f64(&dir.path().join(format!("{name}.bin")), data);
    }
    if let Some(g) = &p.g {
        write_f64(&dir.path().join("g.bin"), g);
    }
    let out = Command::new("python3")
        .arg(root().join("suites/linear-attention/evaluator/parity.py"))
        .arg(root().join(program))
        .arg(dir.path())
        .args([b, t, h, dk, dv, gated as usize, chunk].map(|n| n.to_string()))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "parity.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let chunked = read_f64(&dir.path().join("o_chunked.bin"));
    let recurrent = read_f64(&dir.path().join("o_recurrent.bin"));
    (max_abs_diff(&chunked, &want.o), max_abs_diff(&recurrent, &want.o))
}

#[test]
fn the_suites_deltanet_equals_the_rust_reference() {
    for seed in [1, 2] {
        let (chunked, recurrent) = torch_vs_reference("suites/linear-attention/initial_program.py", false, seed);
        println!("DeltaNet seed program vs Rust reference: chunked {chunked:.3e}, recurrent {recurrent:.3e}");
        assert!(chunked < 1e-12 && recurrent < 1e-12, "chunked {chunked:e}, recurrent {recurrent:e}");
    }
}

#[test]
fn the_gated_deltanet_design_equals_the_rust_reference() {
    let (chunked, recurrent) = torch_vs_reference("designs/linear-attention/gated-deltanet.py", true, 3);
    println!("Gated DeltaNet design vs Rust reference: chunked {chunked:.3e}, recurrent {recurrent:.3e}");
    assert!(chunked < 1e-12 && recurrent < 1e-12, "chunked {chunked:e}, recurrent {recurrent:e}");
}
