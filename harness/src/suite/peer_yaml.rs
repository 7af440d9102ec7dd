//! The peers' `config.yaml` files, read with a maintained YAML parser (serde-saphyr) into typed
//! structs holding only the settings this harness has an equivalent for; every other key is
//! ignored, and a key we read with the wrong type is an error naming the file and the key.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::SuiteError;

pub(super) fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T, SuiteError> {
    if !path.is_file() {
        return Ok(T::default());
    }
    let text = super::read(path)?;
    parse(&text).map_err(|message| SuiteError::Manifest { path: path.to_owned(), message })
}

pub(super) fn parse<T: DeserializeOwned + Default>(text: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_saphyr::from_str::<Option<T>>(text).map(Option::unwrap_or_default).map_err(|e| e.to_string())
}
