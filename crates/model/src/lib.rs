//! The SD v1 text-to-image model: tokenizer, CLIP text encoder, UNet, VAE
//! decoder, schedulers and the pipeline, generic over where ops run.
//!
//! Empty so far: the pipeline issue fills it. The dependencies are declared
//! now so the wasm32 build already proves `tokenizers` compiles for the page.
