//! The paper's Table 3 (RL algorithm design): several benchmark scores per method, which the
//! one-number baselines of `reported.toml` cannot hold. Reports show it for the rl-algorithm
//! suites beside our held-out accuracies, each row labelled with its scale.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table3 {
    pub benchmarks: Vec<String>,
    pub row: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub method: String,
    pub model: String,
    /// What size of experiment produced the row, in words.
    pub scale: String,
    /// One per benchmark, in `benchmarks` order, as the paper prints them (%).
    pub scores: Vec<f64>,
    pub source: String,
}

const TABLE3: &str = include_str!("../table3.toml");

/// The paper's Table 3.
pub fn table3() -> Table3 {
    toml::from_str(TABLE3).expect("table3.toml is checked by the tests")
}

/// Whether a suite is the RL-algorithm task (any of its scales' suite variants).
pub fn is_rl_suite(suite: &str) -> bool {
    suite == "rl-algorithm" || suite.starts_with("rl-algorithm-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_are_the_papers() {
        let t = table3();
        assert_eq!(t.benchmarks, ["Math500", "AMC32", "AIME25", "AIME24", "OlympiadBench"]);
        let find = |m: &str| t.row.iter().find(|r| r.method == m).unwrap().scores.clone();
        assert_eq!(find("GRPO"), [82.0, 67.5, 20.0, 20.0, 45.92]);
        assert_eq!(find("best discovered"), [85.6, 80.0, 29.58, 31.67, 50.96]);
        assert!(t.row.iter().all(|r| r.scores.len() == t.benchmarks.len() && !r.scale.is_empty()));
    }

    #[test]
    fn rl_suites_are_recognised() {
        assert!(is_rl_suite("rl-algorithm") && is_rl_suite("rl-algorithm-ci"));
        assert!(!is_rl_suite("circle-packing") && !is_rl_suite("rl-algorithms"));
    }
}
