//! `[executor]` in a campaign config: where evaluator stages run.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ExecutorConfig {
    /// A sandboxed child process on the controller's machine. (A struct variant, so that a
    /// Slurm key under `kind = "local"` is an error rather than ignored.)
    Local {},
    /// One Slurm batch job per stage (shared filesystem: the node folders must be at the same
    /// path on the compute nodes).
    Slurm(Box<SlurmConfig>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmConfig {
    /// `--partition`; the cluster's default partition when unset.
    pub partition: Option<String>,
    /// `--time` in Slurm's syntax (`MM`, `HH:MM:SS`, `D-HH`); defaults to the stage timeout
    /// rounded up to whole minutes. The harness enforces the stage timeout itself either way.
    pub time_limit: Option<String>,
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `"16G"`.
    pub mem: Option<String>,
    /// `--gres`, e.g. `"gpu:1"`.
    pub gres: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// Further `sbatch` flags, passed verbatim.
    pub extra_args: Vec<String>,
    /// Shell lines run in the job before the command (`module load …`, activating an environment).
    pub setup: Vec<String>,
    /// Seconds between `squeue` polls (one poll covers every job in flight).
    pub poll_interval_s: f64,
    /// A job still pending after this many seconds is cancelled and its stage failed; unset:
    /// wait as long as the queue takes.
    pub max_pending_s: Option<f64>,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        Self {
            partition: None,
            time_limit: None,
            cpus_per_task: None,
            mem: None,
            gres: None,
            account: None,
            qos: None,
            extra_args: Vec::new(),
            setup: Vec::new(),
            poll_interval_s: 1.0,
            max_pending_s: None,
        }
    }
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self::Local {}
    }
}

impl ExecutorConfig {
    /// Checks the values that parse but make no sense: `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let Self::Slurm(c) = self else { return Ok(()) };
        let words = [
            ("executor.partition", &c.partition),
            ("executor.time_limit", &c.time_limit),
            ("executor.mem", &c.mem),
            ("executor.gres", &c.gres),
            ("executor.account", &c.account),
            ("executor.qos", &c.qos),
        ];
        for (key, value) in words {
            if let Some(v) = value
                && (v.trim().is_empty() || v.chars().any(char::is_whitespace))
            {
                return Err((key, format!("`{v}` must be one word (leave the key out for Slurm's default)")));
            }
        }
        if let Some(t) = &c.time_limit
            && !t.chars().all(|ch| ch.is_ascii_digit() || ch == ':' || ch == '-')
        {
            return Err(("executor.time_limit", format!("`{t}` is not a Slurm time (MM, HH:MM:SS, D-HH:MM)")));
        }
        if c.cpus_per_task == Some(0) {
            return Err(("executor.cpus_per_task", "must be at least 1".into()));
        }
        if !(c.poll_interval_s >= 0.05 && c.poll_interval_s.is_finite()) {
            return Err(("executor.poll_interval_s", "must be at least 0.05 seconds".into()));
        }
        if let Some(p) = c.max_pending_s
            && !(p > 0.0 && p.is_finite())
        {
            return Err(("executor.max_pending_s", "must be a positive number of seconds".into()));
        }
        for arg in &c.extra_args {
            let owned = ["--parsable", "--wait", "--output", "--error", "--chdir", "--job-name", "--export", "--time"];
            if owned.iter().any(|o| arg == o || arg.starts_with(&format!("{o}="))) {
                return Err((
                    "executor.extra_args",
                    format!("`{arg}` is set by the harness (use time_limit for --time)"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Holder {
        #[serde(default)]
        executor: ExecutorConfig,
    }

    fn parse(text: &str) -> Result<ExecutorConfig, String> {
        toml::from_str::<Holder>(text).map(|h| h.executor).map_err(|e| e.to_string())
    }

    #[test]
    fn kinds_parse_and_round_trip() {
        assert_eq!(parse("").unwrap(), ExecutorConfig::Local {});
        assert_eq!(parse("[executor]\nkind = \"local\"\n").unwrap(), ExecutorConfig::Local {});
        let slurm = parse(
            "[executor]\nkind = \"slurm\"\npartition = \"gpu\"\ngres = \"gpu:1\"\nsetup = [\"module load cuda\"]\n",
        )
        .unwrap();
        let ExecutorConfig::Slurm(c) = &slurm else { panic!("{slurm:?}") };
        assert_eq!((c.partition.as_deref(), c.gres.as_deref(), c.poll_interval_s), (Some("gpu"), Some("gpu:1"), 1.0));
        let holder = Holder { executor: slurm.clone() };
        assert_eq!(parse(&toml::to_string(&holder).unwrap()).unwrap(), slurm);
    }

    #[test]
    fn a_key_that_does_not_apply_is_an_error() {
        let err = parse("[executor]\nkind = \"local\"\npartition = \"gpu\"\n").unwrap_err();
        assert!(err.contains("partition"), "{err}");
        let err = parse("[executor]\nkind = \"slurm\"\npartiton = \"gpu\"\n").unwrap_err();
        assert!(err.contains("partiton"), "{err}");
        let err = parse("[executor]\nkind = \"pbs\"\n").unwrap_err();
        assert!(err.contains("pbs"), "{err}");
    }

    #[test]
    fn a_campaign_config_names_the_section_and_kind_and_round_trips() {
        use crate::config::CampaignConfig;
        let err = CampaignConfig::from_toml("[executor]\nkind = \"local\"\ngres = \"gpu:1\"\n").unwrap_err();
        assert!(err.contains("[executor] kind `local`") && err.contains("gres"), "{err}");
        let c = CampaignConfig::from_toml("[executor]\nkind = \"slurm\"\nmem = \"4G\"\n").unwrap();
        assert!(matches!(&c.executor, ExecutorConfig::Slurm(s) if s.mem.as_deref() == Some("4G")));
        assert_eq!(CampaignConfig::from_toml(&c.to_toml()).unwrap(), c);
        assert_eq!(CampaignConfig::from_toml("").unwrap().executor, ExecutorConfig::Local {});
    }

    #[test]
    fn nonsense_values_are_named() {
        let bad = |c: SlurmConfig| ExecutorConfig::Slurm(Box::new(c)).validate().unwrap_err().0;
        assert_eq!(bad(SlurmConfig { time_limit: Some("1 hour".into()), ..Default::default() }), "executor.time_limit");
        assert_eq!(bad(SlurmConfig { time_limit: Some("1h".into()), ..Default::default() }), "executor.time_limit");
        assert_eq!(bad(SlurmConfig { cpus_per_task: Some(0), ..Default::default() }), "executor.cpus_per_task");
        assert_eq!(bad(SlurmConfig { poll_interval_s: 0.0, ..Default::default() }), "executor.poll_interval_s");
        assert_eq!(bad(SlurmConfig { max_pending_s: Some(-1.0), ..Default::default() }), "executor.max_pending_s");
        assert_eq!(bad(SlurmConfig { extra_args: vec!["--wait".into()], ..Default::default() }), "executor.extra_args");
        assert!(ExecutorConfig::Slurm(Box::default()).validate().is_ok());
    }
}
