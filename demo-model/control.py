#!/usr/bin/env python3
"""Draws the control prompts with the demo model in torch on the CPU, for
`roentgen bench control --images DIR` to score with the phantom reader.

Why a second generator: on this machine our pipeline runs on lavapipe at
about 1 GFLOP/s, so 16 prompts x 16 seeds x 20 steps of the demo model
(3.9 GFLOP per guided step) take hours there and minutes here. The prompts,
the reader, the scores and the table stay in Rust; the CLI's own control
check (a few prompts and seeds on lavapipe, in CI) holds our pipeline to the
same model. The sampler is the model's own (PNDM, as the pipeline's default),
with the same steps and guidance as `bench control`; the initial noise is
torch's, so the seeds are not the pipeline's.

    PY=/work/venv/bin/python
    $PY demo-model/control.py --work /work/demo-train --out /work/control-images
    target/release/roentgen bench control --images /work/control-images --seeds 16 --grid grid.png

Or from the shipped model itself (`from_weights.py`: the f16 values the page
draws with), at another sampler and step count, to see whether the model
keeps its control at fewer steps:

    $PY demo-model/control.py --model demo-model/model --scheduler dpm++2m --steps 10 --out DIR
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import torch
from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, PNDMScheduler, UNet2DConditionModel
from PIL import Image
from transformers import CLIPTextConfig, CLIPTextModel

import from_weights
import train

# The pipeline's names for the samplers checked here, and diffusers' classes
# for them (DPM-Solver++ 2M with diffusers' defaults, as the pipeline reads
# a PNDM config for it).
SCHEDULERS = {"pndm": PNDMScheduler, "dpm++2m": DPMSolverMultistepScheduler}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--work", help="train.py's checkpoints (EMA weights are used)")
    src.add_argument("--model", help="a roentgen-weights folder (demo-model/model)")
    ap.add_argument("--scheduler", choices=sorted(SCHEDULERS), default="pndm")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--roentgen", default=os.path.join(train.ROOT, "target/release/roentgen"),
                    help="the CLI that lists the control prompts")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prompts = json.loads(subprocess.check_output([args.roentgen, "bench", "control", "--list"]))

    if args.model:
        m = from_weights.load(args.model)
        scale, vae, unet, text = m.scaling_factor, m.vae, m.unet, m.text
        token_ids, config = m.token_ids, m.scheduler_config
        weights = f"the f16 weights of {args.model}"
    else:
        scale = json.load(open(os.path.join(args.work, "latents.json")))["scaling_factor"]
        vae = train.ema_module(args.work, "vae", "vae", AutoencoderKL(**train.VAE))
        unet = train.ema_module(args.work, "unet", "unet", UNet2DConditionModel(**train.UNET))
        text = train.ema_module(args.work, "unet", "text", CLIPTextModel(CLIPTextConfig(**train.TEXT)))
        step = torch.load(os.path.join(args.work, "unet.pt"), weights_only=False)["step"]
        token_ids = lambda c: torch.from_numpy(train.token_ids(c))
        config = train.SCHEDULER
        weights = f"EMA weights at UNet step {step}"
    sched = SCHEDULERS[args.scheduler].from_config(config)
    os.makedirs(args.out, exist_ok=True)
    entries = []
    t0 = time.time()
    with torch.no_grad():
        empty = text(token_ids([""])).last_hidden_state
        for i, prompt in enumerate(prompts):
            cond = text(token_ids([prompt])).last_hidden_state
            n = args.seeds
            hidden = torch.cat([empty.expand(n, -1, -1), cond.expand(n, -1, -1)])
            z = torch.stack([torch.randn(4, 32, 32, generator=torch.Generator().manual_seed(s)) for s in range(n)])
            sched.set_timesteps(args.steps)
            z = z * sched.init_noise_sigma
            for t in sched.timesteps:
                eps = unet(torch.cat([z, z]), t, encoder_hidden_states=hidden).sample
                e_u, e_c = eps.chunk(2)
                z = sched.step(e_u + args.guidance * (e_c - e_u), t, z).prev_sample
            x = vae.decode(z / scale).sample
            grey = ((x.mean(1) / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            for s in range(n):
                name = f"{i:02}-{s:03}.png"
                Image.fromarray(grey[s]).save(os.path.join(args.out, name))
                entries.append({"prompt": prompt, "seed": s, "file": name})
            print(f"{time.time() - t0:6.0f} s  {prompt}", flush=True)
    generator = (f"demo-model/control.py: torch {torch.__version__} on the CPU, {weights}, "
                 f"{args.scheduler} {args.steps} steps, guidance {args.guidance}")
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"generator": generator, "images": entries}, f, indent=1)
    print(f"wrote {len(entries)} images to {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
