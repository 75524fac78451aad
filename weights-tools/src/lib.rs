//! The library behind `weights-tools`: converting a diffusers folder into
//! RoentGen Web's shard format (see `roentgen_weights::manifest`).

pub mod clip_tokenizer;
pub mod convert;
pub mod phantoms;
pub mod random;
pub mod torch_bin;
