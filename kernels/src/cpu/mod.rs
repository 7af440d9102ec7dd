//! Fast CPU passes: heads (and batch entries) in parallel on the current
//! rayon pool, and the chunked forward's products on `matrixmultiply`'s GEMM
//! microkernels. The backward is the reference's, parallel over heads.
//!
//! Each function here has its plain counterpart in [`crate::reference`],
//! which stays the definition; `tests/cpu.rs` compares them. Every head is
//! computed by one task with a fixed operation order, so results are
//! bit-identical whatever the thread count. Run inside
//! `rayon::ThreadPool::install` to choose the thread count.

mod chunk;
mod gemm;

pub use gemm::GemmFloat;

use rayon::prelude::*;

use crate::error::Result;
use crate::reference::backward::{HeadGrads, backward_head, validate_backward};
use crate::reference::chunked::ChunkRows;
use crate::reference::head::{HeadInputs, scatter};
use crate::reference::recurrent::recurrent_head;
use crate::reference::{DeltaRuleGrads, DeltaRuleInput, DeltaRuleOutput, check_chunk};
use crate::shape::Dims;
use chunk::{ChunkWorkspace, chunk_forward};

/// One head's results: outputs `[T, Dv]` and final state `Dk x Dv`.
struct HeadOutput<F> {
    o: Vec<F>,
    state: Vec<F>,
}

/// Runs `head(b, h)` for every head in parallel and assembles the
/// `[B, T, H, Dv]` outputs and `[B, H, Dk, Dv]` states.
fn per_head<F: GemmFloat>(dims: Dims, head: impl Fn(usize, usize) -> HeadOutput<F> + Sync) -> DeltaRuleOutput<F> {
    let heads: Vec<HeadOutput<F>> =
        (0..dims.batch * dims.heads).into_par_iter().map(|bh| head(bh / dims.heads, bh % dims.heads)).collect();
    let mut o = vec![F::ZERO; dims.v_len()];
    let mut final_state = Vec::with_capacity(dims.state_len());
    for (bh, out) in heads.iter().enumerate() {
        scatter(&out.o, &mut o, &dims, dims.dv, bh / dims.heads, bh % dims.heads);
        final_state.extend_from_slice(&out.state);
    }
    DeltaRuleOutput { o, final_state }
}

/// [`crate::reference::recurrent_forward`] with heads in parallel; each head
/// runs the reference's own token loop, so the result is bit-identical to it.
pub fn recurrent_forward<F: GemmFloat>(input: &DeltaRuleInput<'_, F>) -> Result<DeltaRuleOutput<F>> {
    input.validate()?;
    let d = input.dims;
    Ok(per_head(d, |b, h| {
        let mut out = HeadOutput { o: vec![F::ZERO; d.seq_len * d.dv], state: vec![F::ZERO; d.dk * d.dv] };
        recurrent_head(input, b, h, &mut out.state, &mut out.o);
        out
    }))
}

/// [`crate::reference::chunked_forward`] with heads in parallel and the
/// chunk products on GEMM microkernels. Chunks of `chunk` tokens, the last
/// one possibly shorter; DeltaNet and Gated DeltaNet (`input.g`).
pub fn chunked_forward<F: GemmFloat>(input: &DeltaRuleInput<'_, F>, chunk: usize) -> Result<DeltaRuleOutput<F>> {
    input.validate()?;
    check_chunk(chunk)?;
    let d = input.dims;
    let (dk, dv) = (d.dk, d.dv);
    Ok(per_head(d, |b, h| {
        let head = HeadInputs::gather(input, b, h);
        let mut state = vec![F::ZERO; dk * dv];
        if let Some(h0) = input.initial_state {
            let off = crate::reference::head::state_offset(&d, b, h);
            state.copy_from_slice(&h0[off..off + dk * dv]);
        }
        let mut o = vec![F::ZERO; d.seq_len * dv];
        let mut ws = ChunkWorkspace::new(chunk.min(d.seq_len), dk, dv);
        for start in (0..d.seq_len).step_by(chunk) {
            let c = chunk.min(d.seq_len - start);
            let rows = ChunkRows::slice(&head, start, c, dk, dv);
            chunk_forward(&rows, c, dk, dv, input.scale, &mut state, &mut o[start * dv..(start + c) * dv], &mut ws);
        }
        HeadOutput { o, state }
    }))
}

/// [`crate::reference::chunked_backward`] with heads in parallel; each head
/// runs the reference's own per-head backward, so the gradients are
/// bit-identical to it.
pub fn chunked_backward<F: GemmFloat>(
    input: &DeltaRuleInput<'_, F>,
    chunk: usize,
    d_o: &[F],
    d_final_state: Option<&[F]>,
) -> Result<DeltaRuleGrads<F>> {
    validate_backward(input, chunk, d_o, d_final_state)?;
    let d = input.dims;
    let heads: Vec<HeadGrads<F>> = (0..d.batch * d.heads)
        .into_par_iter()
        .map(|bh| backward_head(input, chunk, d_o, d_final_state, bh / d.heads, bh % d.heads))
        .collect();
    let mut out = DeltaRuleGrads::zeros(&d, input.g.is_some());
    for (bh, grads) in heads.iter().enumerate() {
        grads.scatter_into(&mut out, &d, bh / d.heads, bh % d.heads);
    }
    Ok(out)
}
