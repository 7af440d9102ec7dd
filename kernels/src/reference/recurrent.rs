//! The delta rule token by token: the definition, and the ground truth every
//! other implementation is tested against.

use super::head::{scatter, state_offset};
use super::{DeltaRuleInput, DeltaRuleOutput};
use crate::error::Result;
use crate::float::Float;

/// Runs the recurrence one token at a time. `O(T Dk Dv)` work per head with
/// no parallelism across time.
pub fn recurrent_forward<F: Float>(input: &DeltaRuleInput<'_, F>) -> Result<DeltaRuleOutput<F>> {
    input.validate()?;
    let d = input.dims;
    let mut o = vec![F::ZERO; d.v_len()];
    let mut final_state = vec![F::ZERO; d.state_len()];
    let mut o_head = vec![F::ZERO; d.seq_len * d.dv];
    for b in 0..d.batch {
        for h in 0..d.heads {
            let s_off = state_offset(&d, b, h);
            recurrent_head(input, b, h, &mut final_state[s_off..s_off + d.dk * d.dv], &mut o_head);
            scatter(&o_head, &mut o, &d, d.dv, b, h);
        }
    }
    Ok(DeltaRuleOutput { o, final_state })
}

/// The recurrence for head `(b, h)` of an already validated input: `s`
/// (`Dk x Dv`) ends as the final state, `o_head` (`[T, Dv]`) is overwritten
/// with the head's outputs.
pub(crate) fn recurrent_head<F: Float>(
    input: &DeltaRuleInput<'_, F>,
    b: usize,
    h: usize,
    s: &mut [F],
    o_head: &mut [F],
) {
    let d = input.dims;
    let (dk, dv) = (d.dk, d.dv);
    match input.initial_state {
        Some(h0) => {
            let s_off = state_offset(&d, b, h);
            s.copy_from_slice(&h0[s_off..s_off + dk * dv]);
        }
        None => s.iter_mut().for_each(|e| *e = F::ZERO),
    }
    o_head.iter_mut().for_each(|e| *e = F::ZERO);
    let mut ks = vec![F::ZERO; dv];
    for t in 0..d.seq_len {
        let row = (b * d.seq_len + t) * d.heads + h;
        let q = &input.q[row * dk..(row + 1) * dk];
        let k = &input.k[row * dk..(row + 1) * dk];
        let v = &input.v[row * dv..(row + 1) * dv];
        let beta = input.beta[row];
        if let Some(g) = input.g {
            let alpha = g[row].exp();
            s.iter_mut().for_each(|e| *e *= alpha);
        }
        // ks = S^T k, the value the state currently predicts for k.
        ks.iter_mut().for_each(|e| *e = F::ZERO);
        for (i, &ki) in k.iter().enumerate() {
            for (acc, &sij) in ks.iter_mut().zip(&s[i * dv..(i + 1) * dv]) {
                *acc += ki * sij;
            }
        }
        // Reuse ks as the correction beta (v - S^T k).
        for (e, &vj) in ks.iter_mut().zip(v) {
            *e = beta * (vj - *e);
        }
        let out = &mut o_head[t * dv..(t + 1) * dv];
        for i in 0..dk {
            let srow = &mut s[i * dv..(i + 1) * dv];
            let (ki, qi) = (k[i], q[i] * input.scale);
            for ((sij, &dj), oj) in srow.iter_mut().zip(ks.iter()).zip(out.iter_mut()) {
                *sij += ki * dj;
                *oj += qi * *sij;
            }
        }
    }
}
