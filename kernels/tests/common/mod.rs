//! Seeded random problems shared by the integration tests.

#![allow(dead_code)]

use asi_evolve_kernels::reference::{DeltaRuleInput, l2_normalize_rows};
use asi_evolve_kernels::{Dims, Float};

/// The crate's one seeded generator, under the name the tests use.
pub use asi_evolve_kernels::splitmix::SplitMix64 as Rng;

/// Owned tensors of one problem, in `f64`; cast with [`Problem::cast`].
#[derive(Clone)]
pub struct Problem<F> {
    pub dims: Dims,
    pub q: Vec<F>,
    pub k: Vec<F>,
    pub v: Vec<F>,
    pub beta: Vec<F>,
    pub g: Option<Vec<F>>,
    pub h0: Option<Vec<F>>,
    pub scale: F,
}

impl Problem<f64> {
    /// Normalised `q`, `k`; `beta = sigmoid(x)`; `g` in `(-0.5, 0)`.
    pub fn random(seed: u64, dims: Dims, gated: bool, with_h0: bool) -> Self {
        let mut rng = Rng::new(seed);
        let mut q = rng.uniform_vec(dims.qk_len());
        let mut k = rng.uniform_vec(dims.qk_len());
        l2_normalize_rows(&mut q, dims.dk, 1e-6).unwrap();
        l2_normalize_rows(&mut k, dims.dk, 1e-6).unwrap();
        let v = rng.uniform_vec(dims.v_len());
        let beta = rng.uniform_vec(dims.gate_len()).into_iter().map(|x| 1.0 / (1.0 + (-2.0 * x).exp())).collect();
        let g = gated.then(|| rng.uniform_vec(dims.gate_len()).into_iter().map(|x| -0.25 * (x + 1.0) - 1e-3).collect());
        let h0 = with_h0.then(|| rng.uniform_vec(dims.state_len()));
        Self { dims, q, k, v, beta, g, h0, scale: dims.default_scale() }
    }

    pub fn cast<F: Float>(&self) -> Problem<F> {
        let c = |x: &Vec<f64>| x.iter().map(|&e| F::from_f64(e)).collect::<Vec<F>>();
        Problem {
            dims: self.dims,
            q: c(&self.q),
            k: c(&self.k),
            v: c(&self.v),
            beta: c(&self.beta),
            g: self.g.as_ref().map(c),
            h0: self.h0.as_ref().map(c),
            scale: F::from_f64(self.scale),
        }
    }
}

impl<F: Float> Problem<F> {
    pub fn input(&self) -> DeltaRuleInput<'_, F> {
        DeltaRuleInput {
            dims: self.dims,
            q: &self.q,
            k: &self.k,
            v: &self.v,
            beta: &self.beta,
            g: self.g.as_deref(),
            initial_state: self.h0.as_deref(),
            scale: self.scale,
        }
    }
}

pub fn max_abs_diff<F: Float>(a: &[F], b: &[F]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| (x.to_f64() - y.to_f64()).abs()).fold(0.0, f64::max)
}

pub fn dims(batch: usize, seq_len: usize, heads: usize, dk: usize, dv: usize) -> Dims {
    Dims { batch, seq_len, heads, dk, dv }
}
