//! One chunk of the WY forward with every product on the GEMM microkernels.
//!
//! Same algebra as `reference::chunked::chunk_forward` (see
//! `reference::chunk_math` for the derivation); the differences are only in
//! how the products run: `K K^T`, `Q K^T`, `T K`, `T V`, `W S`, `Q S`,
//! `P Delta` and `K^T Delta` are dense GEMMs (the triangular ones multiply
//! the structural zeros too, which the microkernel does faster than a
//! triangular loop skips them), decays fold into GEMM `alpha`/`beta`, and
//! plain DeltaNet skips the decay factors instead of multiplying by ones.

use super::gemm::{GemmFloat, MatRef, gemm};
use crate::reference::chunk_math::wy_inverse;
use crate::reference::chunked::ChunkRows;
use crate::reference::gating::ChunkDecay;

/// Scratch buffers for one head, sized for the largest chunk and reused.
pub struct ChunkWorkspace<F> {
    /// `c x c`: `K K^T`, then `A` in place.
    a: Vec<F>,
    /// `c x c`: `Q K^T`, then `P` in place.
    p: Vec<F>,
    /// `c x Dk`: `W`.
    w: Vec<F>,
    /// `c x Dv`: `Delta`.
    delta: Vec<F>,
    /// `c x Dk`: rows of `K` or `Q` scaled by a decay (gated only).
    scaled: Vec<F>,
}

impl<F: GemmFloat> ChunkWorkspace<F> {
    pub fn new(chunk: usize, dk: usize, dv: usize) -> Self {
        Self {
            a: vec![F::ZERO; chunk * chunk],
            p: vec![F::ZERO; chunk * chunk],
            w: vec![F::ZERO; chunk * dk],
            delta: vec![F::ZERO; chunk * dv],
            scaled: vec![F::ZERO; chunk * dk],
        }
    }
}

/// `rows` scaled row by row by `s` into `out`, or `rows` itself without decay.
fn decayed<'a, F: GemmFloat>(rows: &'a [F], s: Option<&[F]>, dk: usize, out: &'a mut [F]) -> &'a [F] {
    let Some(s) = s else { return rows };
    for ((dst, src), &si) in out.chunks_exact_mut(dk).zip(rows.chunks_exact(dk)).zip(s) {
        dst.iter_mut().zip(src).for_each(|(d, &x)| *d = x * si);
    }
    &out[..rows.len()]
}

/// Advances `state` (`Dk x Dv`) over one chunk of `c` rows and overwrites
/// `o` (`c x Dv`) with the chunk's outputs.
#[allow(clippy::too_many_arguments)]
pub fn chunk_forward<F: GemmFloat>(
    rows: &ChunkRows<'_, F>,
    c: usize,
    dk: usize,
    dv: usize,
    scale: F,
    state: &mut [F],
    o: &mut [F],
    ws: &mut ChunkWorkspace<F>,
) {
    let decay = rows.g.map(|g| ChunkDecay::new(Some(g), c));
    let (a, p) = (&mut ws.a[..c * c], &mut ws.p[..c * c]);
    let (w, delta, scaled) = (&mut ws.w[..c * dk], &mut ws.delta[..c * dv], &mut ws.scaled[..c * dk]);
    let k = MatRef::row_major(rows.k, c, dk);
    let q = MatRef::row_major(rows.q, c, dk);
    let s0 = MatRef::row_major(&state[..], dk, dv);

    // A = strict_tril(diag(beta) (K K^T) * D); P = tril(Q K^T * D).
    gemm(F::ONE, k, k.t(), F::ZERO, a);
    gemm(F::ONE, q, k.t(), F::ZERO, p);
    for i in 0..c {
        let pair = |j: usize| decay.as_ref().map_or(F::ONE, |d| d.pair[i * c + j]);
        for j in 0..c {
            let (aij, pij) = (&mut a[i * c + j], &mut p[i * c + j]);
            *aij = if j < i { rows.beta[i] * pair(j) * *aij } else { F::ZERO };
            *pij = if j <= i { pair(j) * *pij } else { F::ZERO };
        }
    }
    let t = wy_inverse(a, rows.beta, c);
    let t = MatRef::row_major(&t, c, c);

    // W = T diag(exp gamma) K; Delta = T V - W S0.
    let kg = decayed(rows.k, decay.as_ref().map(|d| &d.from_start[..]), dk, scaled);
    gemm(F::ONE, t, MatRef::row_major(kg, c, dk), F::ZERO, w);
    gemm(F::ONE, t, MatRef::row_major(rows.v, c, dv), F::ZERO, delta);
    gemm(-F::ONE, MatRef::row_major(w, c, dk), s0, F::ONE, delta);

    // O = scale (diag(exp gamma) Q S0 + P Delta).
    let qg = decayed(rows.q, decay.as_ref().map(|d| &d.from_start[..]), dk, scaled);
    gemm(scale, MatRef::row_major(qg, c, dk), s0, F::ZERO, o);
    gemm(scale, MatRef::row_major(p, c, c), MatRef::row_major(delta, c, dv), F::ONE, o);

    // S1 = exp(gamma_last) S0 + (diag(exp(gamma_last - gamma)) K)^T Delta.
    let total = decay.as_ref().map_or(F::ONE, |d| d.total);
    let kd = decayed(rows.k, decay.as_ref().map(|d| &d.to_end[..]), dk, scaled);
    let kd = MatRef::row_major(kd, c, dk).t();
    gemm(F::ONE, kd, MatRef::row_major(delta, c, dv), total, state);
}
