//! Reference numbers for each suite, with who reported them, the model and scale that produced
//! them, and where. Reports put them beside our own results; nothing here is computed by us.

use serde::Deserialize;

pub mod linear_attention;
pub mod table3;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub suite: String,
    pub system: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub rounds: Option<u64>,
    pub value: f64,
    pub source: String,
}

#[derive(Deserialize)]
struct Reported {
    baseline: Vec<Baseline>,
}

const REPORTED: &str = include_str!("../reported.toml");

/// Every shipped baseline.
pub fn all() -> Vec<Baseline> {
    toml::from_str::<Reported>(REPORTED).expect("reported.toml is checked by the tests").baseline
}

/// The baselines of one suite, highest value first.
pub fn for_suite(suite: &str) -> Vec<Baseline> {
    let mut v: Vec<Baseline> = all().into_iter().filter(|b| b.suite == suite).collect();
    v.sort_by(|a, b| b.value.total_cmp(&a.value));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_packing_numbers_are_the_papers() {
        let find = |suite: &str, system: &str| {
            for_suite(suite).into_iter().find(|b| b.system == system).map(|b| b.value).unwrap()
        };
        assert_eq!(find("circle-packing", "best known"), 2.635983);
        assert_eq!(find("circle-packing", "AlphaEvolve"), 2.6358627564136983);
        assert_eq!(find("circle-packing", "OpenEvolve"), 2.634292402141039);
        assert_eq!(find("circle-packing", "seed (two rings)"), 0.9597642169962064);
        assert_eq!(find("circle-packing-32", "AlphaEvolve"), 2.937944526205518);
    }

    #[test]
    fn sorted_best_first() {
        let v = for_suite("circle-packing");
        assert!(v.windows(2).all(|w| w[0].value >= w[1].value));
        assert_eq!(v[0].system, "best known");
    }
}
