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

/// The token transformers' `CLIPTokenizer` pads with: `pad_token` from
/// `special_tokens_map.json` (which wins), else from
/// `tokenizer_config.json`, else its default `<|endoftext|>`. SD v1 folders
/// pad with `<|endoftext|>`; SD 2.x folders with `!` (id 0), and a prompt
/// padded with the wrong one is encoded to other hidden states: the image
/// changes without any error.
pub fn pad_token(
    special_tokens_map: Option<&str>,
    tokenizer_config: Option<&str>,
    dir: &str,
) -> Result<String> {
    for (text, file) in [
        (special_tokens_map, "special_tokens_map.json"),
        (tokenizer_config, "tokenizer_config.json"),
    ] {
        let Some(text) = text else { continue };
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            ConvertError::malformed(format!("{dir}/{file}"), format!("not JSON: {e}"))
        })?;
        match doc.get("pad_token") {
            None | Some(Value::Null) => continue,
            // A plain string, or an AddedToken object with its content.
            Some(Value::String(t)) => return Ok(t.clone()),
            Some(v) => match v.get("content").and_then(Value::as_str) {
                Some(t) => return Ok(t.to_string()),
                None => {
                    return Err(ConvertError::malformed(
                        format!("{dir}/{file}"),
                        format!("pad_token {v} is neither a string nor a token object"),
                    ));
                }
            },
        }
    }
    Ok(EOS.to_string())
}

/// `tokenizer_json` set to pad to CLIP's 77 tokens with `pad` (its
/// `padding` section, which `roentgen_model`'s tokenizer reads) and with
/// `pad` a special token; unchanged when `pad` is `<|endoftext|>`, the
/// padding it assumes without one.
pub fn with_padding(tokenizer_json: &str, pad: &str, dir: &str) -> Result<String> {
    if pad == EOS {
        return Ok(tokenizer_json.to_string());
    }
    let file = format!("{dir}/tokenizer.json");
    let mut doc: Value = serde_json::from_str(tokenizer_json)
        .map_err(|e| ConvertError::malformed(&file, format!("not JSON: {e}")))?;
    let id = doc
        .pointer("/model/vocab")
        .and_then(|v| v.get(pad))
        .and_then(Value::as_u64)
        .or_else(|| {
            doc.get("added_tokens")?
                .as_array()?
                .iter()
                .find(|t| t.get("content").and_then(Value::as_str) == Some(pad))?
                .get("id")?
                .as_u64()
        })
        .ok_or_else(|| {
            ConvertError::malformed(
                &file,
                format!("has no token {pad:?}, which the tokenizer's files name as padding"),
            )
        })?;
    // transformers registers the pad token as a special token, so the text's
    // own "!" is matched whole before BPE (id 0, not "!</w>"): as it does.
    let listed = doc
        .get("added_tokens")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|t| t.get("content").and_then(Value::as_str) == Some(pad))
        });
    if !listed {
        let token = json!({"id": id, "content": pad, "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": false, "special": true});
        match doc.get_mut("added_tokens").and_then(Value::as_array_mut) {
            Some(a) => a.push(token),
            None => doc["added_tokens"] = json!([token]),
        }
    }
    doc["padding"] = json!({
        "strategy": {"Fixed": 77}, "direction": "Right", "pad_to_multiple_of": null,
        "pad_id": id, "pad_type_id": 0, "pad_token": pad
    });
    Ok(serde_json::to_string(&doc).expect("a JSON value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: &str = r#"{"!": 0, "a": 1, "a</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}"#;

    #[test]
    fn the_pad_token_is_read_as_transformers_reads_it() {
        let sd2_map = r#"{"pad_token": "!", "eos_token": {"content": "<|endoftext|>"}}"#;
        let object = r#"{"pad_token": {"content": "!", "special": true}}"#;
        let v1_config = r#"{"pad_token": "<|endoftext|>"}"#;
        assert_eq!(pad_token(Some(sd2_map), Some(v1_config), "t").unwrap(), "!");
        assert_eq!(pad_token(Some(object), None, "t").unwrap(), "!");
        // special_tokens_map.json wins; without pad_token there, the config.
        assert_eq!(
            pad_token(Some("{}"), Some(r#"{"pad_token": "!"}"#), "t").unwrap(),
            "!"
        );
        assert_eq!(pad_token(None, Some(v1_config), "t").unwrap(), EOS);
        assert_eq!(pad_token(None, None, "t").unwrap(), EOS);
        let e = pad_token(Some(r#"{"pad_token": 7}"#), None, "t").unwrap_err();
        assert!(e.to_string().contains("special_tokens_map.json"), "{e}");
        assert!(pad_token(Some("not json"), None, "t").is_err());
    }

    #[test]
    fn padding_is_written_only_where_it_is_not_endoftext() {
        let base = tokenizer_json(VOCAB, "#version: 0.2\na </w>\n", "t").unwrap();
        assert_eq!(with_padding(&base, EOS, "t").unwrap(), base);
        let padded: Value = serde_json::from_str(&with_padding(&base, "!", "t").unwrap()).unwrap();
        assert_eq!(padded["padding"]["pad_id"], 0);
        assert_eq!(padded["padding"]["pad_token"], "!");
        let added = padded["added_tokens"].as_array().unwrap();
        assert!(
            added
                .iter()
                .any(|t| t["content"] == "!" && t["id"] == 0 && t["special"] == true)
        );
        let e = with_padding(&base, "<pad>", "t").unwrap_err();
        assert!(e.to_string().contains("<pad>"), "{e}");
    }
}
