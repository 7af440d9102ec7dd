//! A campaign's config in layers: the defaults, then the settings a suite folder's own config
//! gives (a peer's `config.yaml`, see `Suite::settings`), then the campaign's config file; the
//! command line's flags go on top of the result. A section naming a `kind` replaces the layer
//! below's section instead of merging into it, so a sampler chosen in the campaign file never
//! inherits another sampler's settings from the suite.

use std::path::Path;

use crate::config::{CampaignConfig, ConfigError};
use crate::suite::{Suite, SuiteError};

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error("the settings suite {suite} gives in its own config do not fit a campaign config: {message}")]
    Settings { suite: String, message: String },
}

/// The config of a campaign on `suite` (else the file's `suite`, else the default suite), from
/// the optional campaign file over the suite's own settings.
pub fn load(file: Option<&Path>, suite: Option<&str>) -> Result<CampaignConfig, LayerError> {
    let user: toml::Table = match file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?
        }
        None => toml::Table::new(),
    };
    let name = match (suite, user.get("suite").and_then(toml::Value::as_str)) {
        (Some(s), _) | (None, Some(s)) => s.to_owned(),
        (None, None) => CampaignConfig::default().suite,
    };
    let settings = Suite::resolve(&name)?.settings;
    let mut merged = settings.clone();
    let user_alone = user.clone();
    overlay(&mut merged, user);
    merged.insert("suite".into(), name.clone().into());
    let parse = |t: toml::Table| toml::Value::Table(t).try_into::<CampaignConfig>().map_err(|e| e.to_string());
    match parse(merged) {
        Ok(c) => Ok(c),
        Err(message) => {
            // Blame the campaign file if it is wrong on its own, else the suite's settings.
            if let Some(path) = file
                && (settings.is_empty() || parse(user_alone).is_err())
            {
                return Err(ConfigError::Parse { path: path.to_owned(), message }.into());
            }
            Err(LayerError::Settings { suite: name, message })
        }
    }
}

/// Merges `top` into `base`: tables merge key by key unless `top`'s names a `kind`.
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(below)), toml::Value::Table(above)) if !above.contains_key("kind") => {
                overlay(below, above);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_campaign_file_wins_and_a_kind_replaces_the_section() {
        let mut base =
            table("parents = 3\npool_size = 70\n[sampler]\nkind = \"islands\"\nislands = 5\n[cognition]\ntop_k = 5\n");
        overlay(&mut base, table("parents = 2\n[cognition]\nmin_score = 1.0\n"));
        assert_eq!(
            base,
            table(
                "parents = 2\npool_size = 70\n[sampler]\nkind = \"islands\"\nislands = 5\n[cognition]\ntop_k = 5\nmin_score = 1.0\n"
            )
        );
        overlay(&mut base, table("[sampler]\nkind = \"greedy\"\n"));
        assert_eq!(base["sampler"], toml::Value::Table(table("kind = \"greedy\"\n")));
    }
}
