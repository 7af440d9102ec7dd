//! `mutate`: the offline researcher. No language model: seeded evolutionary operators on the
//! program text inside the EVOLVE blocks — hunk-wise crossover of two parents' blocks and
//! scale-aware perturbation of numeric literals. It never edits outside the blocks.

use std::ops::Range;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use similar::{DiffOp, TextDiff};

use super::literals::{Literal, find_literals, format_float};
use super::{Proposal, ProposalError, ResearchContext, Researcher};
use crate::config::MutateSettings;
use crate::edit::evolve_block::{evolvable_regions, line_of};

/// Smallest relative step: below it a change is lost in the evaluator's noise floor.
const MIN_RELATIVE_STEP: f64 = 1e-4;
/// At most this many literals change in one round.
const MAX_EDITS: usize = 4;

pub(crate) struct Mutate {
    crossover_rate: f64,
    max_relative_step: f64,
    integer_weight: f64,
}

impl Mutate {
    pub(crate) fn new(config: &MutateSettings) -> Self {
        Self {
            crossover_rate: config.crossover_rate,
            max_relative_step: config.max_relative_step,
            integer_weight: config.integer_weight,
        }
    }
}

impl Researcher for Mutate {
    fn id(&self) -> String {
        "mutate".into()
    }

    fn describe(&self) -> String {
        "mutate — offline evolutionary researcher (literal perturbation and block crossover; no LLM)".into()
    }

    fn propose(&self, ctx: ResearchContext<'_>) -> Result<Proposal, ProposalError> {
        let base = ctx.parents.first().ok_or_else(|| ProposalError::Unusable("no parent was sampled".into()))?;
        let regions =
            evolvable_regions(&base.code).map_err(|e| ProposalError::Unusable(format!("parent #{}: {e}", base.id)))?;
        let mut code = base.code.clone();
        let mut notes = Vec::new();
        let mut name_parts = Vec::new();

        if ctx.parents.len() > 1 && ctx.rng.random_bool(self.crossover_rate) {
            let partner = ctx.parents[1..].choose(ctx.rng).expect("at least one other parent");
            if let Some((crossed, hunks)) = crossover(&base.code, &partner.code, ctx.rng) {
                code = crossed;
                name_parts.push(format!("crossover with #{}", partner.id));
                notes.push(format!("took {hunks} differing hunk(s) of the EVOLVE blocks from node #{}", partner.id));
            }
        }

        let regions = if code == base.code {
            regions
        } else {
            evolvable_regions(&code).map_err(|e| ProposalError::Unusable(format!("crossover result: {e}")))?
        };
        let candidates: Vec<Literal> =
            find_literals(&code).into_iter().filter(|l| regions.iter().any(|r| contains(r, &l.span))).collect();
        let edits = self.perturb(&code, &candidates, ctx.rng);
        if edits.is_empty() && name_parts.is_empty() {
            return Err(ProposalError::Unusable(format!(
                "parent #{} has no numeric literal inside its EVOLVE blocks to perturb and no partner to cross with",
                base.id
            )));
        }
        if !edits.is_empty() {
            name_parts.push(format!("perturb {} literal{}", edits.len(), if edits.len() == 1 { "" } else { "s" }));
            let described: Vec<String> = edits
                .iter()
                .map(|e| format!("line {}: {} -> {}", line_of(&code, e.span.start), &code[e.span.clone()], e.text))
                .collect();
            notes.push(format!("changed {}", described.join("; ")));
            code = apply(&code, &edits);
        }

        let parent_score = base.score.map_or("no score".to_string(), |s| format!("score {s:.6}"));
        Ok(Proposal {
            name: name_parts.join(", "),
            motivation: format!(
                "Offline evolutionary step (no LLM) from node #{} ({parent_score}): {}.",
                base.id,
                notes.join("; ")
            ),
            code,
        })
    }
}

struct Edit {
    span: Range<usize>,
    text: String,
}

impl Mutate {
    fn perturb(&self, code: &str, literals: &[Literal], rng: &mut ChaCha8Rng) -> Vec<Edit> {
        let weight = |l: &Literal| if l.is_integer { self.integer_weight } else { 1.0 };
        let mut pool: Vec<&Literal> = literals.iter().filter(|l| weight(l) > 0.0).collect();
        let mut count = 1;
        while count < MAX_EDITS && rng.random_bool(0.5) {
            count += 1;
        }
        let mut edits = Vec::new();
        while edits.len() < count && !pool.is_empty() {
            let Ok(index) = weighted_index(&pool, weight, rng) else { break };
            let literal = pool.swap_remove(index);
            let text = if literal.is_integer {
                perturb_integer(literal.value, rng)
            } else {
                perturb_float(literal.value, self.max_relative_step, rng)
            };
            if text != code[literal.span.clone()] {
                edits.push(Edit { span: literal.span.clone(), text });
            }
        }
        edits.sort_by_key(|e| e.span.start);
        edits
    }
}

fn weighted_index(pool: &[&Literal], weight: impl Fn(&Literal) -> f64, rng: &mut ChaCha8Rng) -> Result<usize, ()> {
    let total: f64 = pool.iter().map(|l| weight(l)).sum();
    if total <= 0.0 {
        return Err(());
    }
    let mut target = rng.random_range(0.0..total);
    for (i, l) in pool.iter().enumerate() {
        target -= weight(l);
        if target < 0.0 {
            return Ok(i);
        }
    }
    Ok(pool.len() - 1)
}

/// A step whose size is log-uniform between 1e-4 and `max_relative` of the value's magnitude,
/// so both fine polishing and coarse jumps happen. Source literals are unsigned (a sign is an
/// operator), so the result is reflected to stay non-negative.
fn perturb_float(value: f64, max_relative: f64, rng: &mut ChaCha8Rng) -> String {
    let scale = if value == 0.0 { 0.1 } else { value.abs() };
    let relative = (rng.random_range(MIN_RELATIVE_STEP.ln()..max_relative.max(2.0 * MIN_RELATIVE_STEP).ln())).exp();
    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    format_float((value + sign * relative * scale).abs())
}

fn perturb_integer(value: f64, rng: &mut ChaCha8Rng) -> String {
    let step = if rng.random_bool(0.75) { 1 } else { 2 };
    let v = value as i64;
    let up = v + step;
    let down = (v - step).max(0);
    let next = if down == v || rng.random_bool(0.5) { up } else { down };
    next.to_string()
}

fn apply(code: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(code.len());
    let mut at = 0;
    for e in edits {
        out.push_str(&code[at..e.span.start]);
        out.push_str(&e.text);
        at = e.span.end;
    }
    out.push_str(&code[at..]);
    out
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Crosses two programs block by block: where their EVOLVE blocks differ, each differing hunk
/// is taken from either parent with equal chance. Text outside the blocks is the base's.
/// `None` when the block structure differs or the blocks are identical.
fn crossover(base: &str, partner: &str, rng: &mut ChaCha8Rng) -> Option<(String, usize)> {
    let base_regions = evolvable_regions(base).ok()?;
    let partner_regions = evolvable_regions(partner).ok()?;
    if base_regions.len() != partner_regions.len() {
        return None;
    }
    let mut out = String::with_capacity(base.len());
    let mut at = 0;
    let mut taken = 0;
    for (br, pr) in base_regions.iter().zip(&partner_regions) {
        out.push_str(&base[at..br.start]);
        let (merged, hunks) = merge_hunks(&base[br.clone()], &partner[pr.clone()], rng);
        out.push_str(&merged);
        taken += hunks;
        at = br.end;
    }
    out.push_str(&base[at..]);
    (taken > 0).then_some((out, taken))
}

fn merge_hunks(a: &str, b: &str, rng: &mut ChaCha8Rng) -> (String, usize) {
    let diff = TextDiff::from_lines(a, b);
    let a_lines: Vec<&str> = a.split_inclusive('\n').collect();
    let b_lines: Vec<&str> = b.split_inclusive('\n').collect();
    let mut out = String::with_capacity(a.len().max(b.len()));
    let mut taken = 0;
    for op in diff.ops() {
        let from_partner = !matches!(op, DiffOp::Equal { .. }) && rng.random_bool(0.5);
        let lines = if from_partner {
            taken += 1;
            &b_lines[op.new_range()]
        } else {
            &a_lines[op.old_range()]
        };
        lines.iter().for_each(|l| out.push_str(l));
    }
    (out, taken)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;
    use crate::sampler::testing::node;

    const PROGRAM: &str = "import numpy as np\nSCALE = 2.5\n# EVOLVE-BLOCK-START\ndef f():\n    return 0.3 * 7 + 1e-2\n# EVOLVE-BLOCK-END\nLIMIT = 9.75\n";

    fn propose(parents: &[crate::node::Node], seed: u64) -> Result<Proposal, ProposalError> {
        let researcher = Mutate::new(&MutateSettings::default());
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        researcher.propose(ResearchContext {
            task: "",
            parents,
            cognition: &[],
            rng: &mut rng,
            calls: &mut crate::llm::CallLog::new(seed, 1),
        })
    }

    fn with_code(id: u64, code: &str) -> crate::node::Node {
        let mut n = node(id, Some(1.0));
        n.code = code.into();
        n
    }

    /// The program text outside the EVOLVE blocks, marker lines included.
    fn outside(code: &str) -> String {
        let regions = evolvable_regions(code).unwrap();
        let mut out = String::new();
        let mut at = 0;
        for r in regions {
            out.push_str(&code[at..r.start]);
            out.push('|');
            at = r.end;
        }
        out + &code[at..]
    }

    #[test]
    fn same_seed_same_proposal_and_something_changes() {
        let parents = [with_code(0, PROGRAM)];
        let a = propose(&parents, 11).unwrap();
        assert_eq!(a, propose(&parents, 11).unwrap());
        assert_ne!(a.code, PROGRAM);
        assert!(a.motivation.contains("no LLM"), "{}", a.motivation);
    }

    #[test]
    fn nothing_to_mutate_is_a_proposal_error() {
        let err =
            propose(&[with_code(3, "# EVOLVE-BLOCK-START\nx = y\n# EVOLVE-BLOCK-END\nz = 5.0\n")], 0).unwrap_err();
        assert!(err.to_string().contains("#3"), "{err}");
    }

    #[test]
    fn crossover_takes_hunks_from_both_parents() {
        let a = "# EVOLVE-BLOCK-START\nx = 1.0\ny = 2.0\nz = 3.0\n# EVOLVE-BLOCK-END\n";
        let b = "# EVOLVE-BLOCK-START\nx = 1.5\ny = 2.0\nz = 3.5\n# EVOLVE-BLOCK-END\n";
        let mut seen = std::collections::HashSet::new();
        for seed in 0..40 {
            if let Some((child, _)) = crossover(a, b, &mut ChaCha8Rng::seed_from_u64(seed)) {
                seen.insert(child);
            }
        }
        assert!(seen.contains("# EVOLVE-BLOCK-START\nx = 1.5\ny = 2.0\nz = 3.0\n# EVOLVE-BLOCK-END\n"));
        assert!(seen.contains("# EVOLVE-BLOCK-START\nx = 1.0\ny = 2.0\nz = 3.5\n# EVOLVE-BLOCK-END\n"));
    }

    proptest! {
        #[test]
        fn never_edits_outside_the_blocks(
            before in "[a-z =0-9.\\n]{0,40}",
            inside in "[a-z =0-9.+*\\n]{0,60}",
            other in "[a-z =0-9.+*\\n]{0,60}",
            after in "[a-z =0-9.\\n]{0,40}",
            seed: u64,
        ) {
            let wrap = |body: &str| format!("{before}\n# EVOLVE-BLOCK-START\n{body}\n# EVOLVE-BLOCK-END\n{after}");
            let parents = [with_code(0, &wrap(&inside)), with_code(1, &wrap(&other))];
            if let Ok(p) = propose(&parents, seed) {
                prop_assert_eq!(outside(&p.code), outside(&parents[0].code));
            }
        }
    }
}
