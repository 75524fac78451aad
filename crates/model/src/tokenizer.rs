//! CLIP's BPE tokenizer on the `tokenizers` crate, loading the converted
//! `tokenizer.json`, with the truncation and padding transformers'
//! `CLIPTokenizer(padding="max_length", max_length=77, truncation=True)` applies.

use tokenizers::Tokenizer;

use crate::ModelError;

/// CLIP's context: BOS, 75 prompt tokens, EOS.
pub const CONTEXT: usize = 77;

/// A prompt as the text encoder sees it, and what the UI shows about it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    /// BOS, the prompt's tokens, EOS, then padding to 77 (EOS for SD v1, `!` for SD 2.x).
    pub ids: Vec<u32>,
    /// Tokens the whole prompt needs, BOS and EOS included (may exceed 77).
    pub used: usize,
    /// The part of the prompt that did not fit, as the user typed it ("" if none).
    pub truncated: String,
}

pub struct ClipTokenizer {
    inner: Tokenizer,
    bos: u32,
    eos: u32,
    /// The padding token: `<|endoftext|>` (SD v1) unless tokenizer.json's
    /// `padding` names another (the converter sets it from the folder's
    /// tokenizer files: `!` for SD 2.x).
    pad: u32,
}

impl ClipTokenizer {
    /// From the bytes of a HuggingFace `tokenizer.json`.
    pub fn from_bytes(json: &[u8]) -> Result<Self, ModelError> {
        let mut inner = Tokenizer::from_bytes(json)
            .map_err(|e| ModelError::Tokenizer(format!("tokenizer.json does not load: {e}")))?;
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| {
                ModelError::Tokenizer(format!(
                    "tokenizer.json has no {t} token (not a CLIP tokenizer)"
                ))
            })
        };
        let (bos, eos) = (id("<|startoftext|>")?, id("<|endoftext|>")?);
        let pad = match inner.get_padding() {
            None => eos,
            Some(p) if inner.id_to_token(p.pad_id).is_some() => p.pad_id,
            Some(p) => {
                return Err(ModelError::Tokenizer(format!(
                    "tokenizer.json pads with id {}, which is not in its vocabulary",
                    p.pad_id
                )));
            }
        };
        // We pad ourselves (after truncating to 77); the library must not.
        inner.with_padding(None);
        Ok(Self {
            inner,
            bos,
            eos,
            pad,
        })
    }

    pub fn encode(&self, text: &str) -> Result<Tokens, ModelError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let content = enc.get_ids();
        let room = CONTEXT - 2;
        let kept = content.len().min(room);
        let truncated = match enc.get_offsets().get(room) {
            Some(&(start, _)) => text.get(start..).unwrap_or("").trim().to_string(),
            None => String::new(),
        };
        let mut ids = Vec::with_capacity(CONTEXT);
        ids.push(self.bos);
        ids.extend_from_slice(&content[..kept]);
        ids.push(self.eos);
        ids.resize(CONTEXT, self.pad);
        Ok(Tokens {
            ids,
            used: content.len() + 2,
            truncated,
        })
    }

    /// A token's vocabulary entry (`</w>` marks a word's last token).
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The text of some token ids (a word, for the attention-map chips);
    /// `</w>` (which the tokenizer files may not decode) read as a space.
    pub fn decode(&self, ids: &[u32]) -> String {
        let text = self.inner.decode(ids, true).unwrap_or_default();
        text.replace("</w>", " ").trim().to_string()
    }
}
