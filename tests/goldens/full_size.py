#!/usr/bin/env python3
"""Records what diffusers outputs for a full-size Stable Diffusion v1.5 graph
(RoentGen's architecture, every channel width as in the real model) with
random weights, at a small image size: the full-size golden. With
`--arch sd-2.1-base`, the same for SD 2.1-base's graph (RoentGen-v2's).

    cargo run --release -p weights-tools -- random --layout diffusers \
        --dtype f16 --seed 0 --out /tmp/sd15-diffusers \
        --tokenizer tests/goldens/tiny-sd2/model/tokenizer.json
    pip install torch diffusers transformers safetensors
    python tests/goldens/full_size.py --folder /tmp/sd15-diffusers
    # SD 2.1-base: `random --arch sd-2.1-base ... --out /tmp/sd21b-diffusers`, then
    python tests/goldens/full_size.py --arch sd-2.1-base --folder /tmp/sd21b-diffusers

The weights are regenerated bit for bit by that command (seeded, in Rust),
so only this script's few kilobytes of output are committed:
tests/goldens/sd15-full/golden.safetensors and golden.json. CI regenerates
the folder, converts it with weights-tools (f16 and f32) and compares
`roentgen generate` with these numbers (scripts/full-size-golden.sh).

Stored weights are f16, so our f32 conversion holds exactly the weights
diffusers ran in f32 here.
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

PROMPT = "small left apical pneumothorax"
NEGATIVE = "lateral view"
# (guidance, steps, golden folder) per architecture. SD 2.1-base's text
# encoder alone is 52 GFLOP a prompt, so its golden runs without guidance
# (one prompt; guidance is proven by SD v1.5's). Two steps, not one: with
# SD's leading spacing one step is taken at t=1, where the UNet's output
# moves the latents by 4% and a wrong UNet would hardly show.
ARCHS = {
    "sd-v1.5": (4.0, 2, "sd15-full"),
    "sd-2.1-base": (1.0, 2, "sd21-base-full"),
}
# Pixels; latents are 8x smaller: 8x16, whose UNet levels are 8x16, 4x8, 2x4
# and 1x2, every width of the real model at the least cost (half of 128x128).
# Not 64x64: its 1x1 bottom level has an odd pixel count, which the conv2d
# kernel refuses (it writes outputs in pairs).
HEIGHT, WIDTH = 64, 128
POOL = 4  # the image is committed average-pooled 4x4 (3x16x32)


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", required=True)
    ap.add_argument("--arch", default="sd-v1.5", choices=list(ARCHS))
    ap.add_argument("--out", help="default: tests/goldens/<the architecture's golden folder>")
    args = ap.parse_args()
    GUIDANCE, STEPS, golden = ARCHS[args.arch]
    args.out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), golden)
    torch.set_num_threads(os.cpu_count() or 2)
    f = args.folder
    text_encoder = CLIPTextModel.from_pretrained(os.path.join(f, "text_encoder"), torch_dtype=torch.float32).eval()
    unet = UNet2DConditionModel.from_pretrained(os.path.join(f, "unet"), torch_dtype=torch.float32).eval()
    vae = AutoencoderKL.from_config(AutoencoderKL.load_config(os.path.join(f, "vae")))
    # The folder has the decoder only (as our converter keeps it); the
    # encoder stays at its init and is never used.
    from safetensors.torch import load_file

    missing, unexpected = vae.load_state_dict(
        load_file(os.path.join(f, "vae", "diffusion_pytorch_model.safetensors")), strict=False
    )
    assert not unexpected, unexpected
    assert all(k.startswith(("encoder.", "quant_conv.")) for k in missing), missing
    vae = vae.float().eval()
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(f, "tokenizer"))
    with open(os.path.join(f, "scheduler", "scheduler_config.json")) as fh:
        scheduler = DDIMScheduler.from_config(json.load(fh))
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
    g = {}
    gen = torch.Generator().manual_seed(7)
    init = torch.randn(1, 4, HEIGHT // 8, WIDTH // 8, generator=gen)
    g["init.latents"] = init

    ids = tokenizer([NEGATIVE, PROMPT], padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    hidden = text_encoder(ids)[0]
    # Not compared: how far the random UNet's noise prediction is from unit
    # variance (weights-tools random scales conv_out for that; see EPS_GAIN).
    eps = unet(torch.cat([init, init]), torch.tensor(981), encoder_hidden_states=hidden).sample
    print(f"UNet output std at t=981: {eps.std():.3f} (a trained model: about 1)")

    out = pipe(
        PROMPT,
        negative_prompt=NEGATIVE,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        latents=init.clone(),
        output_type="latent",
    ).images
    image = vae.decode(out / vae.config.scaling_factor).sample
    image = (image / 2 + 0.5).clamp(0, 1)
    g[f"run.ddim.{STEPS}.latents"] = out
    g[f"run.ddim.{STEPS}.image_pooled"] = F.avg_pool2d(image, POOL)
    for k, v in g.items():
        print(f"  {k:28s} {tuple(v.shape)} mean {v.mean():.4f} std {v.std() if v.numel() > 1 else 0:.4f} absmax {v.abs().max():.4f}")
    print(f"  image: mean {image.mean():.3f}, std {image.std():.3f}, clipped {((image == 0) | (image == 1)).float().mean():.3f}")
    os.makedirs(args.out, exist_ok=True)
    save_file({k: v.contiguous() for k, v in g.items()}, os.path.join(args.out, "golden.safetensors"))
    meta = {
        "weights": f"weights-tools random --layout diffusers --dtype f16 --seed 0 ({args.arch})",
        "arch": args.arch,
        "prompt": PROMPT,
        "negative": NEGATIVE,
        "guidance": GUIDANCE,
        "scheduler": "ddim",
        "steps": STEPS,
        "height": HEIGHT,
        "width": WIDTH,
        "pool": POOL,
        "text_ids": ids.tolist(),
    }
    with open(os.path.join(args.out, "golden.json"), "w") as fh:
        json.dump(meta, fh, indent=1)


if __name__ == "__main__":
    main()
