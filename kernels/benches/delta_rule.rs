//! CPU forward at T = 4096, B = 2, H = 2 (four heads), f32, Dk = Dv = 64 and
//! 128: the plain references, and the fast paths (`cpu::`, heads in parallel,
//! GEMM microkernels) on one thread and on two.
//!
//! Each variant is measured twice: wall time (group `wall_*`), which is what
//! parallelism improves, and process CPU time (group `cpu_*`), which on a
//! shared, overloaded machine tracks the work done far more steadily than
//! wall time does (time spent descheduled is not counted).

use asi_evolve_kernels::reference::{self, DeltaRuleInput, l2_normalize_rows};
use asi_evolve_kernels::splitmix::SplitMix64;
use asi_evolve_kernels::{Dims, cpu};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// Owned f32 inputs of one problem.
struct Inputs {
    dims: Dims,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    beta: Vec<f32>,
}

impl Inputs {
    fn new(dims: Dims) -> Self {
        let mut rng = SplitMix64::new(1);
        let mut draw = |n: usize| rng.uniform_vec(n).into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let (mut q, mut k, v) = (draw(dims.qk_len()), draw(dims.qk_len()), draw(dims.v_len()));
        let beta = draw(dims.gate_len()).iter().map(|x| 0.5 + 0.4 * x).collect();
        l2_normalize_rows(&mut q, dims.dk, 1e-6).unwrap();
        l2_normalize_rows(&mut k, dims.dk, 1e-6).unwrap();
        Self { dims, q, k, v, beta }
    }

    fn input(&self) -> DeltaRuleInput<'_, f32> {
        DeltaRuleInput {
            dims: self.dims,
            q: &self.q,
            k: &self.k,
            v: &self.v,
            beta: &self.beta,
            g: None,
            initial_state: None,
            scale: self.dims.default_scale() as f32,
        }
    }
}

/// CPU time used by the whole process so far (all threads).
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Which clock a group reads.
#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ProcessCpu,
}

/// Times `f` on `clock`, `iters` calls per sample.
fn run<R>(b: &mut criterion::Bencher<'_>, clock: Clock, f: impl Fn() -> R) {
    match clock {
        Clock::Wall => b.iter(f),
        Clock::ProcessCpu => b.iter_custom(|iters| {
            let start = process_cpu_time();
            for _ in 0..iters {
                black_box(f());
            }
            process_cpu_time() - start
        }),
    }
}

fn bench(c: &mut Criterion) {
    let pools: Vec<(usize, rayon::ThreadPool)> =
        [1, 2].into_iter().map(|n| (n, rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap())).collect();
    for (d, (clock, name)) in
        [64, 128].into_iter().flat_map(|d| [(d, (Clock::Wall, "wall")), (d, (Clock::ProcessCpu, "cpu"))])
    {
        let data = Inputs::new(Dims { batch: 2, seq_len: 4096, heads: 2, dk: d, dv: d });
        let input = data.input();
        let mut group = c.benchmark_group(format!("{name}_f32_B2_T4096_H2_D{d}"));
        // Flat sampling: every sample runs the same number of calls, which
        // keeps the slow D = 128 variants to about ten calls each.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("reference_recurrent", |b| {
            run(b, clock, || reference::recurrent_forward(black_box(&input)).unwrap())
        });
        group.bench_function("reference_chunked_C16", |b| {
            run(b, clock, || reference::chunked_forward(black_box(&input), 16).unwrap())
        });
        for (threads, pool) in &pools {
            group.bench_function(BenchmarkId::new("recurrent", format!("{threads}thr")), |b| {
                run(b, clock, || pool.install(|| cpu::recurrent_forward(black_box(&input)).unwrap()))
            });
            for chunk in [16, 32, 64] {
                group.bench_function(BenchmarkId::new(format!("chunked_C{chunk}"), format!("{threads}thr")), |b| {
                    run(b, clock, || pool.install(|| cpu::chunked_forward(black_box(&input), chunk).unwrap()))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
