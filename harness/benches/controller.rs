//! Per-round controller cost at 10³, 10⁴ and 10⁵ stored nodes: a node enters the sampler's
//! horizon, the next round's parents are selected and its context assembled (parent copies and
//! cognition retrieval), and a node is committed to SQLite. Evaluation is not included: it is
//! the suite's cost, not the controller's.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use asi_evolve::campaign::assemble_round;
use asi_evolve::cognition::CognitionBase;
use asi_evolve::config::{CampaignConfig, SamplerConfig, SamplerKind};
use asi_evolve::database::Database;
use asi_evolve::node::{Node, Status, Timings};
use asi_evolve::sampler::{self, Sampler};

const SIZES: [u64; 3] = [1_000, 10_000, 100_000];

fn seed_program() -> String {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/initial_program.py");
    std::fs::read_to_string(suite).expect("the circle-packing seed ships with the source")
}

/// A plausible node: the seed with one literal changed, a lesson, a score.
fn node(id: u64, seed: &str, rng: &mut ChaCha8Rng) -> Node {
    let score = rng.random_range(0.9..1.6);
    let valid = rng.random_bool(0.85);
    Node {
        id,
        round: id,
        parents: if id == 0 { vec![] } else { vec![rng.random_range(0..id)] },
        name: format!("perturb {} literals", 1 + id % 3),
        motivation: format!("Offline evolutionary step from node #{}: changed line 14", id / 2),
        code: seed.replacen("0.3 *", &format!("{:.6} *", rng.random_range(0.2..0.4)), 1),
        researcher: "mutate".into(),
        status: if valid { Status::Valid } else { Status::Failed },
        failure: None,
        reason: None,
        score: valid.then_some(score),
        metrics: serde_json::from_str(&format!("{{\"sum_radii\": {score}, \"lp_gap\": {}}}", score / 10.0)).unwrap(),
        feedback: "valid packing of 26 circles".into(),
        lesson: Some(format!(
            "`perturb` is valid with score {score:.6}, +0.01 against parent: an improvement. The LP optimum for these centres leaves radii on the table; rings waste the corners."
        )),
        cognition: vec![],
        // As the island sampler assigns them; the other samplers ignore it.
        island: Some((id % 5) as u32),
        cell: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        timings: Timings::default(),
    }
}

fn bench(c: &mut Criterion) {
    let seed = seed_program();
    let cognition =
        CognitionBase::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/cognition"))
            .expect("cognition items load");
    let mut group = c.benchmark_group("controller_round");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for kind in [SamplerKind::Greedy, SamplerKind::Ucb1, SamplerKind::MapElites, SamplerKind::Islands] {
        for &size in &SIZES {
            let config = CampaignConfig { sampler: SamplerConfig::of_kind(kind), ..CampaignConfig::default() };
            let dir = tempfile::tempdir().unwrap();
            let mut db = Database::open(dir.path()).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(size);
            let mut nodes: Vec<Node> = (0..size).map(|id| node(id, &seed, &mut rng)).collect();
            db.insert_nodes(&nodes).unwrap();
            let mut sampler: Box<dyn Sampler> = sampler::build(&config, &seed);
            // The last `window` nodes are still in flight: each iteration brings one into view.
            for n in &nodes[..(size - config.window) as usize] {
                sampler.observe(n);
            }
            group.bench_function(BenchmarkId::new(kind.as_str(), size), |b| {
                b.iter(|| {
                    let id = nodes.len() as u64;
                    let new = node(id, &seed, &mut rng);
                    sampler.observe(&nodes[(id - config.window) as usize]);
                    let job = assemble_round(sampler.as_mut(), Some(&cognition), None, &config, id + 1, &nodes, None)
                        .unwrap();
                    black_box(job);
                    db.insert_node(&new).unwrap();
                    nodes.push(new);
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
