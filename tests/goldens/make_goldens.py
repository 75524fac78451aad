#!/usr/bin/env python3
"""Builds the small SD-v1- and SD-2-architecture test models and records what
transformers and diffusers output for them: the goldens our Rust pipeline is
tested against.

    pip install torch diffusers transformers safetensors open_clip_torch
    python tests/goldens/make_goldens.py --work /tmp/goldens-src
    # then, for each model NAME printed at the end:
    cargo run --release -p weights-tools -- convert \
        --from /tmp/goldens-src/NAME --out tests/goldens/NAME/model --dtype f16

Random weights are rounded to f16 before anything runs, so the committed f16
conversion holds exactly the weights diffusers ran in f32: the f32 path is
compared against the f32 reference with nothing lost in the weights, and the
f16 path measures only f16 arithmetic.

Writes, per model, tests/goldens/NAME/golden.safetensors (float32 tensors,
names below) and golden.json (prompts, token ids, the runs' settings):
  text.ids / text.hidden     -- [negative; prompt] ids and CLIP last hidden state
  unet.sample / unet.t / unet.out -- one UNet call with CFG batch 2
  vae.latents / vae.out      -- one VAE decode (decoder output, before [0,1])
  init.latents               -- the initial noise every pipeline run starts from
  run.<scheduler>.<steps>.latents / .image -- final latents and image in [0,1]
  run.v.<scheduler>.<steps>.*  -- the same with the scheduler set to v-prediction
                                  (golden.json's runs say each run's prediction)
"""
import argparse
import gzip
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

import importlib.util
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

# runwayml/stable-diffusion-v1-5's scheduler_config.json, verbatim.
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}

# stabilityai/stable-diffusion-2-1-base's scheduler_config.json (epsilon);
# stable-diffusion-2-1 (768) differs in its class (DDIM) and
# "prediction_type": "v_prediction", which the v runs below apply.
SD21_BASE_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.10.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

SCHEDULERS = {
    "pndm": PNDMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "dpm++2m": DPMSolverMultistepScheduler,
}

# Radiology prompts for the tokenizer goldens: numbers with units,
# abbreviations, punctuation, laterality, unicode, and over-long text.
PROMPTS = [
    "",
    "small left apical pneumothorax",
    "Large right pleural effusion.",
    "No acute cardiopulmonary process.",
    "Moderate cardiomegaly; mild pulmonary edema.",
    "Bilateral pleural effusions, L>R, with bibasilar atelectasis.",
    "ET tube terminates 4.5 cm above the carina.",
    "NG tube tip in the stomach; R IJ central line tip at the cavoatrial junction",
    "Left PICC terminates in the mid SVC.",
    "3 cm nodule in the RUL",
    "1.2x0.8cm opacity, LLL",
    "s/p CABG with intact sternotomy wires",
    "Pneumothorax (small, ~10%) at the right apex",
    "No pneumothorax. No focal consolidation!",
    "Heart size is normal. Mediastinal contours are unremarkable.",
    "Retrocardiac opacity ?pneumonia vs atelectasis",
    "AP portable upright view of the chest",
    "PA and lateral views of the chest",
    "Interval increase in the right-sided pleural effusion",
    "Pacemaker/ICD leads in the RA and RV",
    "Diffuse interstitial opacities c/w edema",
    "Hyperinflated lungs - consistent with COPD",
    "Opacité pulmonaire gauche",
    "Rippenfraktur rechts, Pneumothorax ausgeschlossen",
    "Pleural effusion \u2014 moderate, left \u2192 right shift",
    "\u80f8\u90e8X\u7ebf\u7247",
    "CXR:   multiple    spaces\tand\ttabs\nand newlines",
    "UPPERCASE FINDINGS: CARDIOMEGALY",
    "It's the patient's 2nd film; they're stable",
    "Emoji test \U0001f600 lungs",
    "Café-au-lait ½ inch, 37.5°C",
    "small left apical pneumothorax " * 12,
    "There is a large left-sided pleural effusion with associated compressive atelectasis "
    "of the left lower lobe, a small right pleural effusion, moderate cardiomegaly, "
    "mild pulmonary vascular congestion, and a right internal jugular central venous "
    "catheter terminating in the mid superior vena cava without pneumothorax.",
]

MODELS = {
    # Four UNet levels, two resnets per level, mid-block attention; a VAE with
    # four levels and mid-block attention: SD v1's shape, scaled down.
    "tiny-sd4": dict(
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
        unet=dict(
            sample_size=16,
            block_out_channels=(32, 32, 64, 64),
            layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            attention_head_dim=8,
            cross_attention_dim=32,
            norm_num_groups=8,
        ),
        vae=dict(
            block_out_channels=(16, 16, 32, 32),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            norm_num_groups=8,
            sample_size=128,
        ),
        steps=[4],
    ),
    # Two levels, one resnet per level, a different head count: proves the
    # graph follows the config. Small enough for the browser test.
    "tiny-sd2": dict(
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
        unet=dict(
            sample_size=8,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            attention_head_dim=4,
            cross_attention_dim=32,
            norm_num_groups=8,
        ),
        vae=dict(
            block_out_channels=(16, 32),
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            layers_per_block=1,
            norm_num_groups=8,
            sample_size=16,
        ),
        steps=[3, 6],
    ),
}

# An SD 2.x pipeline, scaled down: the OpenCLIP text encoder as transformers
# holds it (gelu, SD 2's odd special-token ids), a tokenizer folder with only
# the legacy files (vocab.json, merges.txt, special_tokens_map.json,
# tokenizer_config.json) padding with "!", a UNet with linear projections,
# per-level head counts of different head sizes and upcast attention; the
# SD 2.1-base scheduler. Runs: PNDM and DPM-Solver++ on epsilon; PNDM, DDIM
# and Euler with the same weights read as v-prediction (SD 2.1 at 768).
MODELS["tiny-v2"] = dict(
    family="sd2",
    text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2),
    unet=dict(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=[4, 2],
        cross_attention_dim=32,
        norm_num_groups=8,
        use_linear_projection=True,
        upcast_attention=True,
    ),
    vae=dict(
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=16,
    ),
    steps=[4],
    runs={"epsilon": ["pndm", "dpm++2m"], "v_prediction": ["pndm", "ddim", "euler"]},
)

PROMPT = "small left apical pneumothorax"
NEGATIVE = "lateral view"
GUIDANCE = 4.0


def bytes_to_unicode():
    """GPT-2's (and CLIP's) byte-to-character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_clip_vocab(out_dir):
    """vocab.json + merges.txt from open_clip's BPE file, as OpenAI's
    SimpleTokenizer builds them (first 48,894 merges; 256 bytes, their
    </w> forms, the merges, then the two specials: 49,408 tokens)."""
    # open_clip's package would import torchvision; only its BPE file is read.
    clip_dir = os.path.dirname(importlib.util.find_spec("open_clip").origin)
    path = os.path.join(clip_dir, "bpe_simple_vocab_16e6.txt.gz")
    merges = gzip.open(path).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    byte_chars = list(bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


@torch.no_grad()
def calibrate_eps(unet, spec, hidden):
    """A trained UNet predicts noise of unit variance; a random one predicts
    about a third of that, and the sampled latents then leave any realistic
    range. Scale conv_out so the prediction has unit variance."""
    size = spec["unet"]["sample_size"]
    x = torch.randn(2, 4, size, size)
    ctx = torch.randn(2, 77, hidden)
    std = unet(x, torch.tensor(500), encoder_hidden_states=ctx).sample.std()
    unet.conv_out.weight /= std
    unet.conv_out.bias /= std


def round_to_f16(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    return module


def build(name, spec, work):
    torch.manual_seed(sum(map(ord, name)))
    sd2 = spec.get("family") == "sd2"
    # SD 2's text_encoder/config.json: gelu, and the ids OpenCLIP's
    # conversion left (pad 1, bos 0, eos 2), which only the pooled output reads.
    ids = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1) if sd2 else dict(
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    text_cfg = CLIPTextConfig(
        vocab_size=49408,
        max_position_embeddings=77,
        hidden_act="gelu" if sd2 else "quick_gelu",
        projection_dim=32,
        **ids,
        **spec["text"],
    )
    text_encoder = round_to_f16(CLIPTextModel(text_cfg).eval())
    unet = UNet2DConditionModel(**spec["unet"]).eval()
    calibrate_eps(unet, spec, text_cfg.hidden_size)
    unet = round_to_f16(unet)
    vae = round_to_f16(AutoencoderKL(latent_channels=4, **spec["vae"]).eval())
    tok_dir = os.path.join(work, name, "tokenizer")
    write_clip_vocab(tok_dir)
    if sd2:
        write_sd2_tokenizer_files(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    tokenizer.model_max_length = 77
    scheduler = PNDMScheduler.from_config(SD21_BASE_SCHEDULER if sd2 else SD15_SCHEDULER)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(os.path.join(work, name), safe_serialization=True)
    if sd2:
        # As Stability's folders hold it: the legacy files alone.
        for f in os.listdir(tok_dir):
            os.remove(os.path.join(tok_dir, f))
        write_clip_vocab(tok_dir)
        write_sd2_tokenizer_files(tok_dir)
        assert CLIPTokenizer.from_pretrained(tok_dir).pad_token_id == 0
    else:
        # Newer tools save tokenizer.json beside vocab/merges; the converter takes it.
        tokenizer.save_pretrained(tok_dir)
    return pipe


def write_sd2_tokenizer_files(tok_dir):
    """special_tokens_map.json and tokenizer_config.json as
    stabilityai/stable-diffusion-2-1-base ships them: "!" pads."""
    special = {
        "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True,
                      "rstrip": False, "single_word": False},
        "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True,
                      "rstrip": False, "single_word": False},
        "pad_token": "!",
        "unk_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True,
                      "rstrip": False, "single_word": False},
    }
    config = dict(special, add_prefix_space=False, do_lower_case=True, errors="replace",
                  model_max_length=77, name_or_path="openai/clip-vit-large-patch14",
                  special_tokens_map_file="./special_tokens_map.json",
                  tokenizer_class="CLIPTokenizer")
    for fname, doc in [("special_tokens_map.json", special), ("tokenizer_config.json", config)]:
        with open(os.path.join(tok_dir, fname), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)


def ids_for(tokenizer, text):
    full = tokenizer(text, truncation=False)["input_ids"]
    padded = tokenizer(text, padding="max_length", max_length=77, truncation=True)["input_ids"]
    return {"prompt": text, "ids": padded, "untruncated_len": len(full)}


@torch.no_grad()
def record(name, spec, pipe, out_dir, saved_scheduler):
    g = {}
    meta = {"prompt": PROMPT, "negative": NEGATIVE, "guidance": GUIDANCE, "runs": []}
    tok = pipe.tokenizer
    meta["tokens"] = [ids_for(tok, p) for p in PROMPTS]

    ids = torch.tensor([ids_for(tok, NEGATIVE)["ids"], ids_for(tok, PROMPT)["ids"]])
    hidden = pipe.text_encoder(ids)[0]
    g["text.ids"] = ids.to(torch.int32)
    g["text.hidden"] = hidden

    size = spec["unet"]["sample_size"]
    gen = torch.Generator().manual_seed(7)
    sample = torch.randn(2, 4, size, size, generator=gen)
    t = torch.tensor(501)
    g["unet.sample"] = sample
    g["unet.t"] = t.reshape(1).float()
    g["unet.out"] = pipe.unet(sample, t, encoder_hidden_states=hidden).sample

    latents = torch.randn(1, 4, size, size, generator=gen)
    g["vae.latents"] = latents
    g["vae.out"] = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample

    init = torch.randn(1, 4, size, size, generator=gen)
    g["init.latents"] = init
    plan = spec.get("runs", {"epsilon": list(SCHEDULERS)})
    for prediction, sched_name in [(p, n) for p, names in plan.items() for n in names]:
        # As users switch samplers: from the config saved with the model
        # (which spells out PNDM's defaults, timestep_spacing included).
        config = dict(saved_scheduler, prediction_type=prediction)
        pipe.scheduler = SCHEDULERS[sched_name].from_config(config)
        for steps in spec["steps"]:
            out = pipe(
                PROMPT,
                negative_prompt=NEGATIVE,
                num_inference_steps=steps,
                guidance_scale=GUIDANCE,
                latents=init.clone(),
                output_type="latent",
            ).images
            image = pipe.vae.decode(out / pipe.vae.config.scaling_factor).sample
            image = (image / 2 + 0.5).clamp(0, 1)
            v = "v." if prediction == "v_prediction" else ""
            g[f"run.{v}{sched_name}.{steps}.latents"] = out
            g[f"run.{v}{sched_name}.{steps}.image"] = image
            meta["runs"].append({"scheduler": sched_name, "steps": steps, "prediction": prediction})
            print(f"  {name} {prediction} {sched_name} {steps} steps: latents std {out.std():.3f}, image mean {image.mean():.3f}")

    for k, v in g.items():
        if v.dtype == torch.float32:
            print(f"  {k:32s} {tuple(v.shape)} std {v.std():.4f} absmax {v.abs().max():.4f}")
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.contiguous() for k, v in g.items()}, os.path.join(out_dir, "golden.safetensors"))
    with open(os.path.join(out_dir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="where the diffusers folders go")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", help="one model of MODELS")
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name, spec in MODELS.items():
        if args.only and name != args.only:
            continue
        pipe = build(name, spec, args.work)
        with open(os.path.join(args.work, name, "scheduler", "scheduler_config.json")) as f:
            saved_scheduler = json.load(f)
        record(name, spec, pipe, os.path.join(args.out, name), saved_scheduler)
        print(name)


if __name__ == "__main__":
    main()
