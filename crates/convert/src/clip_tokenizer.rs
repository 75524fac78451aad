//! A HuggingFace `tokenizer.json` for CLIP built from `vocab.json` +
//! `merges.txt`, for diffusers folders saved before tokenizers wrote one.
//!
//! The pipeline is the one transformers' `CLIPTokenizer` assembles from the
//! same two files (transformers 5, `tokenization_clip.py`): NFC, runs of
//! whitespace to one space, lower case; split on CLIP's pattern (specials,
//! English contractions, letter runs, single digits, other symbol runs), then
//! byte-level mapping; BPE with the `</w>` end-of-word suffix; BOS/EOS added
//! around the ids. The `tokenizers` crate loads it natively and in wasm32.

use serde_json::{Map, Value, json};

use crate::error::{ConvertError, Result};

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
const SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// The tokenizer.json text for a CLIP `vocab.json` and `merges.txt`, both
/// in `dir` (where messages say they are).
pub fn tokenizer_json(vocab_json: &str, merges_txt: &str, dir: &str) -> Result<String> {
    let vocab_file = format!("{dir}/vocab.json");
    let vocab: Map<String, Value> = serde_json::from_str(vocab_json)
        .map_err(|e| ConvertError::malformed(&vocab_file, format!("not a JSON object: {e}")))?;
    let id = |t: &str| -> Result<u64> {
        vocab.get(t).and_then(Value::as_u64).ok_or_else(|| {
            ConvertError::malformed(&vocab_file, format!("has no {t} (not a CLIP vocabulary)"))
        })
    };
    let (bos, eos) = (id(BOS)?, id(EOS)?);
    let mut merges = Vec::new();
    for (i, line) in merges_txt.lines().enumerate() {
        if line.starts_with("#version") || line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        let [a, b] = parts[..] else {
            return Err(ConvertError::malformed(
                format!("{dir}/merges.txt"),
                format!("line {}: {line:?} is not two tokens", i + 1),
            ));
        };
        merges.push(json!([a, b]));
    }
    let added = |id: u64, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [added(bos, BOS), added(eos, EOS)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"}
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT}, "behavior": "Removed", "invert": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS, eos], "cls": [BOS, bos],
                           "trim_offsets": false, "add_prefix_space": false},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": EOS,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>",
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    Ok(serde_json::to_string(&doc).expect("a JSON value serializes"))
}
