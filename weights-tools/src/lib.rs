//! The library behind `weights-tools`: random models and phantoms here; the
//! converter itself is `roentgen-convert` (shared with the page), re-exported
//! under its old paths.

pub use roentgen_convert::{clip_tokenizer, converter as convert, torch_bin};
pub mod export;
pub mod manifest_edit;
pub mod options;
pub mod phantoms;
pub mod random;
