//! CPU reference implementations of the (gated) delta rule.
//!
//! Per head, with `S` stored `Dk x Dv` (the `[B, H, Dk, Dv]` state layout):
//!
//! ```text
//! S'  = exp(g_t) S_{t-1}                       (gated only)
//! S_t = S' + beta_t k_t (v_t^T - k_t^T S')
//! o_t = scale * S_t^T q_t
//! ```
//!
//! Without `g` this is DeltaNet; with `g` it is Gated DeltaNet.
//!
//! **Normalisation is the caller's job.** The kernels take `q` and `k` as
//! given; DeltaNet expects them L2-normalised per head (fla does that inside
//! its kernels when `use_qk_l2norm_in_kernel` is set). Use
//! [`l2_normalize_rows`] first. Keeping it outside keeps the backward pass
//! about the delta rule alone; the chain rule through the normalisation is a
//! separate, standard step.

pub(crate) mod backward;
pub(crate) mod chunk_math;
pub(crate) mod chunked;
pub(crate) mod gating;
pub(crate) mod head;
pub(crate) mod linalg;
pub(crate) mod recurrent;

pub use backward::chunked_backward;
pub use chunked::chunked_forward;
pub use recurrent::recurrent_forward;

use crate::error::{KernelError, Result};
use crate::float::Float;
use crate::shape::{Dims, check_len};

/// Inputs of one forward or backward call.
#[derive(Debug, Clone, Copy)]
pub struct DeltaRuleInput<'a, F> {
    pub dims: Dims,
    /// `[B, T, H, Dk]`, expected L2-normalised per head.
    pub q: &'a [F],
    /// `[B, T, H, Dk]`, expected L2-normalised per head.
    pub k: &'a [F],
    /// `[B, T, H, Dv]`.
    pub v: &'a [F],
    /// `[B, T, H]`, writing strengths in `(0, 1)`.
    pub beta: &'a [F],
    /// `[B, T, H]` log decays (`alpha_t = exp(g_t)`, so `g_t <= 0`);
    /// `None` is plain DeltaNet, `Some` is Gated DeltaNet.
    pub g: Option<&'a [F]>,
    /// `[B, H, Dk, Dv]`; `None` starts from zero.
    pub initial_state: Option<&'a [F]>,
    /// Output scale, usually `Dk^-1/2` (see [`Dims::default_scale`]).
    pub scale: F,
}

impl<F: Float> DeltaRuleInput<'_, F> {
    /// Checks every length against `dims`.
    pub fn validate(&self) -> Result<()> {
        let d = &self.dims;
        d.validate()?;
        check_len("q", self.q.len(), d.qk_len())?;
        check_len("k", self.k.len(), d.qk_len())?;
        check_len("v", self.v.len(), d.v_len())?;
        check_len("beta", self.beta.len(), d.gate_len())?;
        if let Some(g) = self.g {
            check_len("g", g.len(), d.gate_len())?;
        }
        if let Some(h0) = self.initial_state {
            check_len("initial_state", h0.len(), d.state_len())?;
        }
        Ok(())
    }
}

/// Result of a forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRuleOutput<F> {
    /// `[B, T, H, Dv]`.
    pub o: Vec<F>,
    /// `[B, H, Dk, Dv]`, the state after the last token.
    pub final_state: Vec<F>,
}

/// Gradients of a scalar loss with respect to every input.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaRuleGrads<F> {
    pub dq: Vec<F>,
    pub dk: Vec<F>,
    pub dv: Vec<F>,
    pub dbeta: Vec<F>,
    /// Present exactly when the input had `g`.
    pub dg: Option<Vec<F>>,
    /// Gradient with respect to the initial state (a zero one when none was
    /// given), `[B, H, Dk, Dv]`.
    pub d_initial_state: Vec<F>,
}

/// Normalises every contiguous row of length `d` to unit L2 norm in place;
/// `eps` guards all-zero rows (fla uses `1e-6`).
pub fn l2_normalize_rows<F: Float>(x: &mut [F], d: usize, eps: F) -> Result<()> {
    if d == 0 || !x.len().is_multiple_of(d) {
        return Err(KernelError::InvalidArgument(format!("length {} is not a multiple of row length {d}", x.len())));
    }
    for row in x.chunks_exact_mut(d) {
        let norm = row.iter().fold(F::ZERO, |acc, &e| acc + e * e).sqrt();
        let inv = F::ONE / (norm + eps);
        row.iter_mut().for_each(|e| *e *= inv);
    }
    Ok(())
}

pub(crate) fn check_chunk(chunk: usize) -> Result<()> {
    if chunk == 0 {
        return Err(KernelError::InvalidArgument("chunk size must be positive".into()));
    }
    Ok(())
}
