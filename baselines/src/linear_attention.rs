//! The linear-attention suite's comparison table (`linear-attention.toml`): the paper's Table 1
//! rows at their scale, and our baseline designs as measured at each of the suite's scales.

use serde::Deserialize;

/// One row of the paper's Table 1, as reported.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperRow {
    pub system: String,
    /// The model size and training the numbers come from.
    pub scale: String,
    /// Average over the 10 "dev" benchmarks.
    pub dev_avg: f64,
    /// Average over the 6 generalisation benchmarks.
    pub gen_avg: f64,
    pub overall: f64,
    pub source: String,
}

/// One of our baseline designs evaluated at one of the suite's scales.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredRow {
    pub system: String,
    /// The suite scale: `cpu`, `ci` or `gpu`.
    pub scale: String,
    /// The seeds evaluated (`LA_SEED`).
    pub seeds: Vec<u64>,
    pub score_mean: f64,
    pub score_std: Option<f64>,
    /// Held-out loss of the language-model stage, nats per byte.
    pub val_loss_mean: f64,
    pub val_loss_std: Option<f64>,
    pub mqar_accuracy_mean: f64,
    /// What the design is, e.g. "quadratic ceiling, not a linear design".
    #[serde(default)]
    pub label: Option<String>,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    paper: Vec<PaperRow>,
    #[serde(default)]
    measured: Vec<MeasuredRow>,
}

const TABLE: &str = include_str!("../linear-attention.toml");

fn table() -> Table {
    toml::from_str(TABLE).expect("linear-attention.toml is checked by the tests")
}

/// The paper's Table 1, in its order.
pub fn paper_table1() -> Vec<PaperRow> {
    table().paper
}

/// Our baselines measured at `scale` (`cpu`, `ci`, `gpu`), in file order.
pub fn measured(scale: &str) -> Vec<MeasuredRow> {
    table().measured.into_iter().filter(|m| m.scale == scale).collect()
}

/// The scale a linear-attention suite name runs at, or `None` for other suites.
pub fn scale_of_suite(suite: &str) -> Option<&'static str> {
    match suite {
        "linear-attention" => Some("cpu"),
        "linear-attention-ci" => Some("ci"),
        "linear-attention-gpu" => Some("gpu"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table1_is_the_papers() {
        let rows = paper_table1();
        let find = |s: &str| rows.iter().find(|r| r.system.starts_with(s)).unwrap();
        assert_eq!(
            (find("DeltaNet").dev_avg, find("DeltaNet").gen_avg, find("DeltaNet").overall),
            (55.76, 44.74, 51.04)
        );
        assert_eq!(find("Gated DeltaNet").overall, 50.46);
        assert_eq!(find("Mamba2").overall, 51.38);
        assert_eq!((find("best discovered").dev_avg, find("best discovered").overall), (57.28, 52.01));
        assert!(rows.iter().all(|r| r.scale == "1.3B parameters, 100B tokens"));
    }

    #[test]
    fn measured_rows_name_a_known_scale_and_their_seeds() {
        let all = table().measured;
        assert!(all.len() >= 4, "the four baselines at one scale at least");
        for m in &all {
            assert!(["cpu", "ci", "gpu"].contains(&m.scale.as_str()), "{m:?}");
            assert!(!m.seeds.is_empty(), "{m:?}");
            assert_eq!(m.score_std.is_some(), m.seeds.len() > 1, "a spread needs several seeds: {m:?}");
        }
        for scale in ["cpu", "ci"] {
            let names: Vec<String> = measured(scale).into_iter().map(|m| m.system).collect();
            for want in ["DeltaNet", "Gated DeltaNet", "linear attention (ELU+1)", "softmax attention"] {
                assert!(names.iter().any(|n| n == want), "{want} missing at {scale}: {names:?}");
            }
        }
    }
}
