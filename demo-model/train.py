#!/usr/bin/env python3
"""Trains the demo model from scratch on procedural chest phantoms: an SD v1
architecture (CLIP text encoder with CLIP's tokenizer, UNet2DConditionModel,
AutoencoderKL) small enough to train on a 2-core CPU, which our pipeline then
runs like RoentGen. Dev-time only: CI never runs this (it needs torch).

    python3 -m venv /work/venv && /work/venv/bin/pip install torch diffusers transformers safetensors numpy
    cargo run --release -p weights-tools -- phantoms --out /work/phantoms --count 40000 --size 128
    PY=/work/venv/bin/python
    $PY demo-model/train.py vae    --data /work/phantoms --work /work/demo-train --minutes 16 --crop 64 --batch 16
    $PY demo-model/train.py vae    --data /work/phantoms --work /work/demo-train --minutes 20 --batch 8
    $PY demo-model/train.py latents --data /work/phantoms --work /work/demo-train
    cargo run --release -p weights-tools -- phantoms --out /work/heldout --count 1000 --size 128 --seed 7000000
    $PY demo-model/train.py roundtrip --data /work/heldout --work /work/demo-train --out /work/heldout-vae
    $PY demo-model/reader.py --data /work/heldout --eval; $PY demo-model/reader.py --data /work/heldout-vae --eval
    $PY demo-model/train.py unet   --data /work/phantoms --work /work/demo-train --minutes 90
    $PY demo-model/train.py export --work /work/demo-train --out /work/demo-diffusers
    cargo run --release -p weights-tools -- convert --from /work/demo-diffusers \
        --out demo-model/model --dtype f16

Every stage is seeded and resumable: it checkpoints to --work every few
minutes (weights, optimizer, EMA, step, elapsed time, RNG state) and a rerun
continues where the last one stopped, until the stage's --minutes of training
are spent. Losses go to WORK/<stage>-loss.csv (step, seconds, loss).
"""
import argparse
import json
import os
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

import from_weights

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# CLIP's BPE (49,408 tokens), as tokenizer.json: the same file the pipeline reads.
TOKENIZER = os.path.join(ROOT, "tests/goldens/tiny-sd2/model/tokenizer.json")
BOS, EOS = 49406, 49407

# SD v1.5's scheduler config (RoentGen's), as the test models carry it.
SCHEDULER = json.load(open(os.path.join(ROOT, "tests/goldens/tiny-sd2/model/manifest.json")))["configs"]["scheduler"]

TEXT = dict(
    vocab_size=49408,
    hidden_size=64,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    projection_dim=64,
    bos_token_id=BOS,
    eos_token_id=EOS,
    pad_token_id=EOS,
)
# 128x128 images -> 32x32x4 latents (two downsamplings, not SD's three:
# 16x16 latents lost the thin lines a pneumothorax and the tubes are made of).
VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(32, 64, 64),
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    layers_per_block=1,
    norm_num_groups=16,
    sample_size=128,
)
# Attention only at 16x16 and 8x8: at 32x32 it would cost most of the time.
UNET = dict(
    sample_size=32,
    in_channels=4,
    out_channels=4,
    block_out_channels=(48, 96, 144),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=4,
    cross_attention_dim=64,
    norm_num_groups=16,
)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def load_images(data):
    """uint8 [N, S, S] from weights-tools phantoms, memory-mapped."""
    return np.load(os.path.join(data, "images.npy"), mmap_mode="r")


def to_pixels(batch_u8):
    """uint8 [B, S, S] -> float [B, 3, S, S] in [-1, 1] (grey in RGB)."""
    x = torch.from_numpy(np.asarray(batch_u8, dtype=np.float32)) / 127.5 - 1.0
    return x[:, None].expand(-1, 3, -1, -1).contiguous()


def token_ids(captions):
    """CLIP ids padded to 77 with <|endoftext|>, as the pipeline pads them."""
    return from_weights.token_ids(TOKENIZER, captions)


class Stage:
    """Checkpointed training state of one stage: resumes where it stopped."""

    def __init__(self, work, name, modules, lr, seed):
        self.path = os.path.join(work, f"{name}.pt")
        self.csv = os.path.join(work, f"{name}-loss.csv")
        self.modules = modules
        params = [p for m in modules.values() for p in m.parameters()]
        self.opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        self.ema = {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in modules.items()}
        self.step = 0
        self.seconds = 0.0
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        if os.path.exists(self.path):
            s = torch.load(self.path, weights_only=False)
            for k, m in modules.items():
                m.load_state_dict(s["model"][k])
            self.opt.load_state_dict(s["opt"])
            self.ema = s["ema"]
            self.step, self.seconds = s["step"], s["seconds"]
            self.gen.set_state(s["gen"])
            self.rng.bit_generator.state = s["rng"]
            log(f"resumed {name} at step {self.step}, {self.seconds / 60:.1f} min trained")

    def update_ema(self, decay):
        with torch.no_grad():
            for k, m in self.modules.items():
                for n, t in m.state_dict().items():
                    if t.dtype.is_floating_point:
                        self.ema[k][n].mul_(decay).add_(t, alpha=1 - decay)
                    else:
                        self.ema[k][n].copy_(t)

    def save(self):
        tmp = self.path + ".tmp"
        torch.save(
            {
                "model": {k: m.state_dict() for k, m in self.modules.items()},
                "opt": self.opt.state_dict(),
                "ema": self.ema,
                "step": self.step,
                "seconds": self.seconds,
                "gen": self.gen.get_state(),
                "rng": self.rng.bit_generator.state,
            },
            tmp,
        )
        os.replace(tmp, self.path)

    def run(self, minutes, loss_fn, lr, warmup, ema_decay, every_s=300):
        budget = minutes * 60.0
        last_save = time.time()
        t_prev = time.time()
        with open(self.csv, "a") as csv:
            while self.seconds < budget:
                for g in self.opt.param_groups:
                    g["lr"] = lr * min(1.0, (self.step + 1) / warmup)
                loss = loss_fn(self)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for m in self.modules.values() for p in m.parameters()], 1.0)
                self.opt.step()
                self.update_ema(min(ema_decay, (1 + self.step) / (10 + self.step)))
                now = time.time()
                self.seconds += now - t_prev
                t_prev = now
                self.step += 1
                csv.write(f"{self.step},{self.seconds:.1f},{loss.item():.5f}\n")
                if self.step % 50 == 0:
                    csv.flush()
                    log(f"step {self.step} loss {loss.item():.4f} ({self.seconds / 60:.1f} of {minutes} min)")
                if now - last_save > every_s:
                    self.save()
                    last_save = time.time()
        self.save()
        log(f"done: {self.step} steps in {self.seconds / 60:.1f} min")


def stage_vae(args):
    torch.manual_seed(1)
    vae = AutoencoderKL(**VAE)
    images = load_images(args.data)
    st = Stage(args.work, "vae", {"vae": vae}, 1e-3, seed=1)

    def loss_fn(st):
        idx = st.rng.integers(0, len(images), size=args.batch)
        x = to_pixels(images[np.sort(idx)])
        # Convolutions do not care where a patch sits: random crops train the
        # same weights at a quarter of the cost of whole images (--crop 64).
        # The mid-block attention does see the field's size, so the last
        # minutes run on whole images (--crop 0).
        if args.crop:
            y, x0 = st.rng.integers(0, x.shape[2] - args.crop + 1, size=2)
            x = x[:, :, y : y + args.crop, x0 : x0 + args.crop]
        post = vae.encode(x).latent_dist
        z = post.sample(generator=st.gen)
        rec = vae.decode(z).sample
        kl = post.kl().mean() / (3 * x.shape[2] * x.shape[3])
        return F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-4 * kl

    st.run(args.minutes, loss_fn, lr=1e-3, warmup=100, ema_decay=0.995)


def ema_module(work, stage, key, module):
    s = torch.load(os.path.join(work, f"{stage}.pt"), weights_only=False)
    module.load_state_dict(s["ema"][key])
    return module.eval()


def stage_latents(args):
    """Encodes every phantom once (the posterior's mean) and fixes the
    scaling factor that gives the latents unit variance, as SD's 0.18215 does."""
    vae = ema_module(args.work, "vae", "vae", AutoencoderKL(**VAE))
    images = load_images(args.data)
    out = np.zeros((len(images), 4, 32, 32), dtype=np.float16)
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_pixels(images[i : i + 64])
            out[i : i + 64] = vae.encode(x).latent_dist.mean.numpy().astype(np.float16)
            if i % 6400 == 0:
                log(f"encoded {i} of {len(images)}")
    np.save(os.path.join(args.work, "latents.npy"), out)
    std = float(out.astype(np.float32).std())
    with open(os.path.join(args.work, "latents.json"), "w") as f:
        json.dump({"std": std, "scaling_factor": 1.0 / std}, f)
    log(f"latents std {std:.4f}: scaling_factor {1 / std:.5f}")


def stage_roundtrip(args):
    """Phantoms the VAE never saw, encoded and decoded by its EMA weights,
    written as another phantoms folder (same captions and labels): the
    reader's accuracy there against on the originals says what the VAE
    loses, so a weak control score can be traced to the VAE or the UNet."""
    vae = ema_module(args.work, "vae", "vae", AutoencoderKL(**VAE))
    images = load_images(args.data)
    out = np.zeros_like(images)
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_pixels(images[i : i + 64])
            y = vae.decode(vae.encode(x).latent_dist.mean).sample.mean(1)
            out[i : i + 64] = ((y / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "images.npy"), out)
    for name in ("captions.jsonl", "heads.json"):
        shutil.copy(os.path.join(args.data, name), os.path.join(args.out, name))
    err = np.abs(out.astype(np.float32) - np.asarray(images, dtype=np.float32)).mean()
    log(f"{len(images)} phantoms through the VAE to {args.out}: mean |error| {err:.2f} of 255")


def stage_unet(args):
    torch.manual_seed(2)
    unet = UNet2DConditionModel(**UNET)
    text = CLIPTextModel(CLIPTextConfig(**TEXT))
    latents = np.load(os.path.join(args.work, "latents.npy"), mmap_mode="r")
    scale = json.load(open(os.path.join(args.work, "latents.json")))["scaling_factor"]
    captions = [json.loads(line)["caption"] for line in open(os.path.join(args.data, "captions.jsonl"))]
    ids = token_ids(captions)
    empty = token_ids([""])[0]
    sched = DDPMScheduler(
        num_train_timesteps=SCHEDULER["num_train_timesteps"],
        beta_start=SCHEDULER["beta_start"],
        beta_end=SCHEDULER["beta_end"],
        beta_schedule=SCHEDULER["beta_schedule"],
    )
    st = Stage(args.work, "unet", {"unet": unet, "text": text}, 5e-4, seed=2)

    def loss_fn(st):
        idx = np.sort(st.rng.integers(0, len(latents), size=args.batch))
        z0 = torch.from_numpy(latents[idx].astype(np.float32)) * scale
        batch_ids = ids[idx].copy()
        # Unconditional 10% of the time: classifier-free guidance needs it.
        drop = st.rng.random(args.batch) < 0.1
        batch_ids[drop] = empty
        # Random horizontal flips would swap right and left: never.
        noise = torch.randn(z0.shape, generator=st.gen)
        t = torch.randint(0, 1000, (args.batch,), generator=st.gen)
        zt = sched.add_noise(z0, noise, t)
        # bfloat16 autocast: oneDNN's AMX/AVX-512 bf16 paths make a step about
        # a quarter faster on this CPU; weights, optimizer and loss stay f32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(args.bf16)):
            hidden = text(torch.from_numpy(batch_ids)).last_hidden_state
            eps = unet(zt, t, encoder_hidden_states=hidden).sample
        return F.mse_loss(eps.float(), noise)

    st.run(args.minutes, loss_fn, lr=5e-4, warmup=200, ema_decay=0.999)


def stage_export(args):
    """A diffusers folder of the EMA weights, ready for weights-tools convert."""
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    scale = json.load(open(os.path.join(args.work, "latents.json")))["scaling_factor"]
    vae = ema_module(args.work, "vae", "vae", AutoencoderKL(**VAE, scaling_factor=scale))
    unet = ema_module(args.work, "unet", "unet", UNet2DConditionModel(**UNET))
    text = ema_module(args.work, "unet", "text", CLIPTextModel(CLIPTextConfig(**TEXT)))
    vae.save_pretrained(os.path.join(out, "vae"))
    unet.save_pretrained(os.path.join(out, "unet"))
    text.save_pretrained(os.path.join(out, "text_encoder"))
    os.makedirs(os.path.join(out, "tokenizer"))
    shutil.copy(TOKENIZER, os.path.join(out, "tokenizer/tokenizer.json"))
    os.makedirs(os.path.join(out, "scheduler"))
    with open(os.path.join(out, "scheduler/scheduler_config.json"), "w") as f:
        json.dump(SCHEDULER, f, indent=2)
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(
            {
                "_class_name": "StableDiffusionPipeline",
                "_diffusers_version": "0.6.0",
                "scheduler": ["diffusers", "PNDMScheduler"],
                "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
            },
            f,
            indent=2,
        )
    n = lambda m: sum(p.numel() for p in m.parameters())
    log(f"exported to {out}: text {n(text):,}, unet {n(unet):,}, vae {n(vae):,} parameters")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["vae", "latents", "roundtrip", "unet", "export"])
    ap.add_argument("--data", help="folder written by weights-tools phantoms")
    ap.add_argument("--work", required=True, help="checkpoints, latents and loss logs")
    ap.add_argument("--out", help="export: the diffusers folder to write; roundtrip: the phantoms folder")
    ap.add_argument("--minutes", type=float, default=10.0, help="training time of the stage, in all runs together")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=int, default=0, help="vae: train on random square crops of this size (0: whole images)")
    ap.add_argument("--bf16", type=int, default=1, help="unet: bfloat16 autocast (1) or f32 throughout (0)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    {
        "vae": stage_vae,
        "latents": stage_latents,
        "roundtrip": stage_roundtrip,
        "unet": stage_unet,
        "export": stage_export,
    }[args.stage](args)


if __name__ == "__main__":
    main()
