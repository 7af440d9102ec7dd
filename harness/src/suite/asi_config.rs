//! The settings of an ASI-Evolve experiment's `config.yaml` that this harness has, in the
//! reference framework's own shape (`pipeline/main.py` reads them the same way), and their
//! translation into a campaign-config fragment. Campaign config files and flags override them.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AsiConfig {
    pub pipeline: Pipeline,
    pub cognition: Cognition,
    pub database: Database,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Pipeline {
    pub engineer_timeout: Option<f64>,
    pub sample_n: Option<usize>,
    pub judge: Judge,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Judge {
    pub enabled: Option<bool>,
    pub ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Cognition {
    pub retrieval: Retrieval,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Retrieval {
    pub top_k: Option<usize>,
    /// Cosine similarity of embeddings: our `cognition.retrieval` of kind `minilm`.
    pub score_threshold: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Database {
    pub max_size: Option<usize>,
    pub sampling: Sampling,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Sampling {
    pub algorithm: Option<String>,
    pub ucb1_c: Option<f64>,
    pub island: Island,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Island {
    pub num_islands: Option<usize>,
    pub migration_interval: Option<u64>,
    pub migration_rate: Option<f64>,
}

impl AsiConfig {
    /// The campaign-config keys these settings give, or an error naming an algorithm we lack.
    pub(super) fn settings(&self) -> Result<toml::Table, String> {
        let mut top = toml::Table::new();
        let mut sampler = toml::Table::new();
        let sampling = &self.database.sampling;
        if let Some(algorithm) = &sampling.algorithm {
            // The reference factory's names; `island` and `islands` both select it.
            let kind = match algorithm.as_str() {
                "greedy" => "greedy",
                "random" => "random",
                "ucb1" => "ucb1",
                "island" | "islands" => "islands",
                other => {
                    return Err(format!(
                        "database.sampling.algorithm `{other}` has no equivalent here (greedy, random, ucb1, island)"
                    ));
                }
            };
            sampler.insert("kind".into(), kind.into());
            if kind == "ucb1" {
                put(&mut sampler, "c", sampling.ucb1_c.map(toml::Value::from));
            }
            if kind == "islands" {
                let island = &sampling.island;
                put(&mut sampler, "islands", island.num_islands.map(|n| toml::Value::from(n as i64)));
                put(&mut sampler, "migration_interval", island.migration_interval.map(|n| toml::Value::from(n as i64)));
                put(&mut sampler, "migration_rate", island.migration_rate.map(toml::Value::from));
            }
            top.insert("sampler".into(), sampler.into());
        }
        put(&mut top, "parents", self.pipeline.sample_n.map(|n| toml::Value::from(n as i64)));
        put(&mut top, "pool_size", self.database.max_size.map(|n| toml::Value::from(n as i64)));
        let mut cognition = toml::Table::new();
        put(&mut cognition, "top_k", self.cognition.retrieval.top_k.map(|n| toml::Value::from(n as i64)));
        // ASI-Evolve's threshold is a cosine similarity of all-MiniLM-L6-v2 embeddings, which is
        // our in-process `minilm` retrieval; BM25 scores have no such scale.
        if let Some(threshold) = self.cognition.retrieval.score_threshold {
            let mut retrieval = toml::Table::new();
            retrieval.insert("kind".into(), "minilm".into());
            retrieval.insert("min_similarity".into(), toml::Value::from(threshold));
            cognition.insert("retrieval".into(), retrieval.into());
        }
        if !cognition.is_empty() {
            top.insert("cognition".into(), cognition.into());
        }
        let mut judge = toml::Table::new();
        put(&mut judge, "enabled", self.pipeline.judge.enabled.map(toml::Value::from));
        put(&mut judge, "ratio", self.pipeline.judge.ratio.map(toml::Value::from));
        if !judge.is_empty() {
            top.insert("judge".into(), judge.into());
        }
        Ok(top)
    }
}

pub(super) fn put(table: &mut toml::Table, key: &str, value: Option<toml::Value>) {
    if let Some(v) = value {
        table.insert(key.into(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::peer_yaml;

    #[test]
    fn reads_the_demo_shape_and_ignores_what_it_does_not_use() {
        let yaml = r#"
experiment_name: "circle # packing"
api:
  extra_body: {top_k: 20, min_p: 0}
pipeline:
  engineer_timeout: 300  # 5 minutes
  sample_n: 3
  judge:
    enabled: false
    ratio: 0.2
cognition:
  retrieval:
    top_k: 5
    score_threshold: 0.4
database:
  max_size: 70
  sampling:
    algorithm: "island"
    island:
      num_islands: 5
      migration_interval: 10
      migration_rate: 0.1
      feature_dimensions: ["complexity", "diversity"]
"#;
        let c: AsiConfig = peer_yaml::parse(yaml).unwrap();
        assert_eq!(c.pipeline.engineer_timeout, Some(300.0));
        let expected: toml::Table = toml::from_str(
            "parents = 3\npool_size = 70\n[sampler]\nkind = \"islands\"\nislands = 5\nmigration_interval = 10\n\
             migration_rate = 0.1\n[cognition]\ntop_k = 5\n\n[cognition.retrieval]\nkind = \"minilm\"\nmin_similarity = 0.4\n[judge]\nenabled = false\nratio = 0.2\n",
        )
        .unwrap();
        assert_eq!(c.settings().unwrap(), expected);
    }

    #[test]
    fn a_wrong_type_or_an_unknown_algorithm_is_named() {
        let err = peer_yaml::parse::<AsiConfig>("pipeline:\n  sample_n: three\n").unwrap_err();
        assert!(err.contains("sample_n") || err.contains("line 2"), "{err}");
        let c: AsiConfig = peer_yaml::parse("database:\n  sampling:\n    algorithm: beam\n").unwrap();
        assert!(c.settings().unwrap_err().contains("`beam`"));
    }
}
