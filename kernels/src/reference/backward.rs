//! Reverse-mode gradients of the chunked delta rule, derived by hand.
//!
//! The forward pass is replayed once to record the state entering every
//! chunk; chunks are then visited last to first. Inside a chunk the forward
//! map is written in the substitution form of the WY system (same function,
//! fewer intermediates to differentiate):
//!
//! ```text
//! X     = V - diag(G) K S0              G_i = exp(gamma_i)
//! R     = diag(beta) X
//! Delta = (I + A)^-1 R                  A = strict_tril(diag(beta) (K K^T) * D)
//! P     = tril(Q K^T * D)               D_ij = exp(gamma_i - gamma_j)
//! O     = scale (diag(G) Q S0 + P Delta)
//! S1    = exp(gamma_last) S0 + (diag(E) K)^T Delta      E_i = exp(gamma_last - gamma_i)
//! ```
//!
//! and each line is differentiated in reverse. Gradients with respect to the
//! cumulative `gamma` are turned into gradients with respect to `g` at the end
//! of each chunk.

use super::chunk_math::{intra_scores, scale_rows, wy_matrix};
use super::chunked::{ChunkRows, chunk_forward};
use super::gating::{ChunkDecay, gamma_grad_to_g};
use super::head::{HeadInputs, gather, scatter, state_offset};
use super::linalg::{axpy, dot, gemm_nn, gemm_nt, gemm_tn};
use super::{DeltaRuleGrads, DeltaRuleInput, check_chunk};
use crate::error::Result;
use crate::float::Float;
use crate::shape::{Dims, check_len};

/// Gradient buffers of one chunk, each `c` rows long.
struct ChunkGrads<'a, F> {
    dq: &'a mut [F],
    dk: &'a mut [F],
    dv: &'a mut [F],
    dbeta: &'a mut [F],
    dgamma: &'a mut [F],
}

/// Back-propagates through one chunk. `ds` holds the gradient with respect to
/// the state leaving the chunk on entry and with respect to `s0` on exit.
#[allow(clippy::too_many_arguments)]
fn chunk_backward<F: Float>(
    rows: &ChunkRows<'_, F>,
    c: usize,
    dk: usize,
    dv: usize,
    scale: F,
    s0: &[F],
    d_o: &[F],
    ds: &mut [F],
    grads: ChunkGrads<'_, F>,
) {
    let ChunkGrads { dq, dk: dkey, dv: dval, dbeta, dgamma } = grads;
    let (q, k, beta) = (rows.q, rows.k, rows.beta);

    // Replay the chunk's forward intermediates.
    let decay = ChunkDecay::new(rows.g, c);
    let a = wy_matrix(k, beta, &decay, c, dk);
    let kg = scale_rows(k, &decay.from_start, dk);
    let mut x = rows.v.to_vec();
    gemm_nn(-F::ONE, c, dk, dv, &kg, s0, &mut x);
    let mut delta = scale_rows(&x, beta, dv);
    for i in 0..c {
        let (done, rest) = delta.split_at_mut(i * dv);
        for j in 0..i {
            axpy(-a[i * c + j], &done[j * dv..(j + 1) * dv], &mut rest[..dv]);
        }
    }
    let p = intra_scores(q, k, &decay, c, dk);
    let d_out: Vec<F> = d_o.iter().map(|&e| e * scale).collect();
    let mut d_delta = vec![F::ZERO; c * dv];
    let mut ds0 = vec![F::ZERO; dk * dv];

    // S1 = exp(gamma_last) S0 + (diag(E) K)^T Delta.
    let kd = scale_rows(k, &decay.to_end, dk);
    gemm_nn(F::ONE, c, dk, dv, &kd, ds, &mut d_delta);
    let mut d_kd = vec![F::ZERO; c * dk];
    gemm_nt(F::ONE, c, dv, dk, &delta, ds, &mut d_kd);
    for i in 0..c {
        let row = &d_kd[i * dk..(i + 1) * dk];
        axpy(decay.to_end[i], row, &mut dkey[i * dk..(i + 1) * dk]);
        let xg = decay.to_end[i] * dot(row, &k[i * dk..(i + 1) * dk]);
        dgamma[c - 1] += xg;
        dgamma[i] -= xg;
    }
    dgamma[c - 1] += decay.total * dot(s0, ds);
    axpy(decay.total, ds, &mut ds0);

    // O = scale (diag(G) Q S0 + P Delta).
    let qg = scale_rows(q, &decay.from_start, dk);
    gemm_tn(F::ONE, dk, c, dv, &qg, &d_out, &mut ds0);
    let mut d_qs = vec![F::ZERO; c * dk];
    gemm_nt(F::ONE, c, dv, dk, &d_out, s0, &mut d_qs);
    for i in 0..c {
        let row = &d_qs[i * dk..(i + 1) * dk];
        let gi = decay.from_start[i];
        axpy(gi, row, &mut dq[i * dk..(i + 1) * dk]);
        dgamma[i] += gi * dot(row, &q[i * dk..(i + 1) * dk]);
    }
    for i in 0..c {
        let doi = &d_out[i * dv..(i + 1) * dv];
        for j in 0..=i {
            let pij = p[i * c + j];
            axpy(pij, doi, &mut d_delta[j * dv..(j + 1) * dv]);
            let dp = dot(doi, &delta[j * dv..(j + 1) * dv]);
            let dqk = dp * decay.pair[i * c + j];
            axpy(dqk, &k[j * dk..(j + 1) * dk], &mut dq[i * dk..(i + 1) * dk]);
            axpy(dqk, &q[i * dk..(i + 1) * dk], &mut dkey[j * dk..(j + 1) * dk]);
            let xg = dp * pij;
            dgamma[i] += xg;
            dgamma[j] -= xg;
        }
    }

    // Delta = (I + A)^-1 R, so dR = (I + A)^-T dDelta (back substitution).
    let mut d_r = d_delta;
    for i in (0..c).rev() {
        let (head_rows, tail) = d_r.split_at_mut((i + 1) * dv);
        let dri = &mut head_rows[i * dv..];
        for j in i + 1..c {
            axpy(-a[j * c + i], &tail[(j - i - 1) * dv..(j - i) * dv], dri);
        }
    }

    // R = diag(beta) X, X = V - diag(G) K S0.
    let mut d_x = vec![F::ZERO; c * dv];
    for i in 0..c {
        let dri = &d_r[i * dv..(i + 1) * dv];
        dbeta[i] += dot(dri, &x[i * dv..(i + 1) * dv]);
        axpy(beta[i], dri, &mut d_x[i * dv..(i + 1) * dv]);
    }
    for (dst, &e) in dval.iter_mut().zip(&d_x) {
        *dst += e;
    }
    gemm_tn(-F::ONE, dk, c, dv, &kg, &d_x, &mut ds0);
    let mut d_kg = vec![F::ZERO; c * dk];
    gemm_nt(-F::ONE, c, dv, dk, &d_x, s0, &mut d_kg);
    for i in 0..c {
        let row = &d_kg[i * dk..(i + 1) * dk];
        let gi = decay.from_start[i];
        axpy(gi, row, &mut dkey[i * dk..(i + 1) * dk]);
        dgamma[i] += gi * dot(row, &k[i * dk..(i + 1) * dk]);
    }

    // A_ij = beta_i D_ij k_i . k_j for j < i, entering Delta with dA = -dR Delta^T.
    for i in 1..c {
        let dri = &d_r[i * dv..(i + 1) * dv];
        for j in 0..i {
            let da = -dot(dri, &delta[j * dv..(j + 1) * dv]);
            let dij = decay.pair[i * c + j];
            let (ki, kj) = (&k[i * dk..(i + 1) * dk], &k[j * dk..(j + 1) * dk]);
            dbeta[i] += da * dij * dot(ki, kj);
            let dkk = da * beta[i] * dij;
            let (lo, hi) = dkey.split_at_mut(i * dk);
            axpy(dkk, kj, &mut hi[..dk]);
            axpy(dkk, ki, &mut lo[j * dk..(j + 1) * dk]);
            let xg = da * a[i * c + j];
            dgamma[i] += xg;
            dgamma[j] -= xg;
        }
    }
    ds.copy_from_slice(&ds0);
}

/// Gradients of a scalar loss given `d_o = dL/dO` (`[B, T, H, Dv]`) and,
/// optionally, `d_final_state = dL/dS_T` (`[B, H, Dk, Dv]`).
///
/// The result does not depend on `chunk` beyond rounding; it is a parameter so
/// tests can exercise ragged last chunks.
pub fn chunked_backward<F: Float>(
    input: &DeltaRuleInput<'_, F>,
    chunk: usize,
    d_o: &[F],
    d_final_state: Option<&[F]>,
) -> Result<DeltaRuleGrads<F>> {
    validate_backward(input, chunk, d_o, d_final_state)?;
    let d = input.dims;
    let mut out = DeltaRuleGrads::zeros(&d, input.g.is_some());
    for b in 0..d.batch {
        for h in 0..d.heads {
            backward_head(input, chunk, d_o, d_final_state, b, h).scatter_into(&mut out, &d, b, h);
        }
    }
    Ok(out)
}

/// Checks everything [`chunked_backward`] takes.
pub(crate) fn validate_backward<F: Float>(
    input: &DeltaRuleInput<'_, F>,
    chunk: usize,
    d_o: &[F],
    d_final_state: Option<&[F]>,
) -> Result<()> {
    input.validate()?;
    check_chunk(chunk)?;
    let d = input.dims;
    check_len("d_o", d_o.len(), d.v_len())?;
    if let Some(ds) = d_final_state {
        check_len("d_final_state", ds.len(), d.state_len())?;
    }
    Ok(())
}

impl<F: Float> DeltaRuleGrads<F> {
    /// All-zero gradients for `d`, with `dg` exactly when `gated`.
    pub(crate) fn zeros(d: &Dims, gated: bool) -> Self {
        Self {
            dq: vec![F::ZERO; d.qk_len()],
            dk: vec![F::ZERO; d.qk_len()],
            dv: vec![F::ZERO; d.v_len()],
            dbeta: vec![F::ZERO; d.gate_len()],
            dg: gated.then(|| vec![F::ZERO; d.gate_len()]),
            d_initial_state: vec![F::ZERO; d.state_len()],
        }
    }
}

/// One head's gradients, contiguous `[T, D]` (or `[T]`), and its
/// `Dk x Dv` initial-state gradient.
pub(crate) struct HeadGrads<F> {
    dq: Vec<F>,
    dk: Vec<F>,
    dv: Vec<F>,
    dbeta: Vec<F>,
    dg: Option<Vec<F>>,
    ds: Vec<F>,
}

impl<F: Float> HeadGrads<F> {
    /// Writes this head's gradients into head `(b, h)` of `out`.
    pub(crate) fn scatter_into(&self, out: &mut DeltaRuleGrads<F>, d: &Dims, b: usize, h: usize) {
        scatter(&self.dq, &mut out.dq, d, d.dk, b, h);
        scatter(&self.dk, &mut out.dk, d, d.dk, b, h);
        scatter(&self.dv, &mut out.dv, d, d.dv, b, h);
        scatter(&self.dbeta, &mut out.dbeta, d, 1, b, h);
        if let (Some(dg), Some(dg_out)) = (self.dg.as_ref(), out.dg.as_mut()) {
            scatter(dg, dg_out, d, 1, b, h);
        }
        let s_off = state_offset(d, b, h);
        out.d_initial_state[s_off..s_off + d.dk * d.dv].copy_from_slice(&self.ds);
    }
}

/// The backward pass of head `(b, h)` of an already validated input.
pub(crate) fn backward_head<F: Float>(
    input: &DeltaRuleInput<'_, F>,
    chunk: usize,
    d_o: &[F],
    d_final_state: Option<&[F]>,
    b: usize,
    h: usize,
) -> HeadGrads<F> {
    let d = input.dims;
    let (dk, dv, t_len) = (d.dk, d.dv, d.seq_len);
    let starts: Vec<usize> = (0..t_len).step_by(chunk).collect();
    let head = HeadInputs::gather(input, b, h);
    let d_o_head = gather(d_o, &d, dv, b, h);
    let s_off = state_offset(&d, b, h);

    // Forward replay: the state entering each chunk.
    let mut entry_states = vec![F::ZERO; starts.len() * dk * dv];
    let mut state = match input.initial_state {
        Some(h0) => h0[s_off..s_off + dk * dv].to_vec(),
        None => vec![F::ZERO; dk * dv],
    };
    let mut scratch = vec![F::ZERO; chunk * dv];
    for (n, &start) in starts.iter().enumerate() {
        entry_states[n * dk * dv..(n + 1) * dk * dv].copy_from_slice(&state);
        let c = chunk.min(t_len - start);
        let rows = ChunkRows::slice(&head, start, c, dk, dv);
        chunk_forward(&rows, c, dk, dv, input.scale, &mut state, &mut scratch[..c * dv]);
    }

    let mut dq = vec![F::ZERO; t_len * dk];
    let mut dkey = vec![F::ZERO; t_len * dk];
    let mut dval = vec![F::ZERO; t_len * dv];
    let mut dbeta = vec![F::ZERO; t_len];
    let mut dgamma = vec![F::ZERO; t_len];
    let mut ds = match d_final_state {
        Some(ds) => ds[s_off..s_off + dk * dv].to_vec(),
        None => vec![F::ZERO; dk * dv],
    };
    for (n, &start) in starts.iter().enumerate().rev() {
        let c = chunk.min(t_len - start);
        let rows = ChunkRows::slice(&head, start, c, dk, dv);
        let grads = ChunkGrads {
            dq: &mut dq[start * dk..(start + c) * dk],
            dk: &mut dkey[start * dk..(start + c) * dk],
            dv: &mut dval[start * dv..(start + c) * dv],
            dbeta: &mut dbeta[start..start + c],
            dgamma: &mut dgamma[start..start + c],
        };
        chunk_backward(
            &rows,
            c,
            dk,
            dv,
            input.scale,
            &entry_states[n * dk * dv..(n + 1) * dk * dv],
            &d_o_head[start * dv..(start + c) * dv],
            &mut ds,
            grads,
        );
    }

    let dg = input.g.map(|_| {
        let mut dg = vec![F::ZERO; t_len];
        for &start in &starts {
            let end = (start + chunk).min(t_len);
            gamma_grad_to_g(&dgamma[start..end], &mut dg[start..end]);
        }
        dg
    });
    HeadGrads { dq, dk: dkey, dv: dval, dbeta, dg, ds }
}
