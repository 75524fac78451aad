#!/usr/bin/env python3
"""Records what diffusers outputs when the tiny test models edit a real
radiograph: the VAE encoder's moments, StableDiffusionImg2ImgPipeline runs
(every scheduler with a pipeline golden, two strengths) and masked runs
(StableDiffusionInpaintPipeline's loop for a 4-channel UNet, written out
below because that pipeline cannot take latents and a latent-size mask).

    python tests/goldens/edit_goldens.py --work /tmp/goldens-src
    # then, for each model, convert with the encoder (the default):
    cargo run --release -p weights-tools -- convert \
        --from /tmp/goldens-src/NAME --out tests/goldens/NAME/model --dtype f16

The models are rebuilt by make_goldens.build with the same seeds, so their
text encoder, UNet and VAE decoder are the committed ones (the goldens of
make_goldens.py keep passing); this adds the VAE encoder's weights.

Writes tests/goldens/NAME/edit.safetensors and edit.json:
  edit.image   [1, 3, H, W] in [-1, 1] -- the radiograph, resized (PIL bicubic)
  edit.moments [1, 8, h, w]            -- quant_conv(encoder(image)): mean, logvar
  edit.noise   [1, 4, h, w]            -- the noise add_noise mixes in
  edit.mask    [1, 1, h, w]            -- 1 where the masked runs may change
  edit.step_noise [6, 1, 4, h, w]      -- Euler ancestral's fresh noise, k-th step taken
  img2img.<scheduler>.<steps>.<strength>.latents / .image
  masked.<scheduler>.<steps>.<strength>.latents / .image
  txt2img.euler-a.<steps>.latents / .image -- StableDiffusionPipeline from
      latents = edit.noise with edit.step_noise: Euler ancestral's whole
      text-to-image runs need the step noise, as its edits do
Every edit starts from init latents = mean * scaling_factor (the
distribution's mode: we do not sample it) and edit.noise.
"""
import argparse
import json
import os
import sys
import types

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import open_clip  # noqa: F401  (make_goldens writes the CLIP vocab with it)
except ImportError:
    # Without open_clip the vocabulary comes from the committed tokenizer,
    # which make_goldens wrote from open_clip's file in the first place.
    sys.modules["open_clip"] = types.ModuleType("open_clip")
import make_goldens as mg  # noqa: E402
from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionImg2ImgPipeline  # noqa: E402
from diffusers.pipelines.stable_diffusion import pipeline_stable_diffusion_img2img as img2img_mod  # noqa: E402
from diffusers.schedulers import scheduling_euler_ancestral_discrete as euler_a_mod  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RADIOGRAPH = os.path.join(HERE, "..", "fixtures", "radiographs", "nih-cxr14-00000001_000.png")
PROMPT = "large right pleural effusion"
NEGATIVE = "lateral view"
GUIDANCE = 4.0

SCHEDULERS = dict(mg.SCHEDULERS, **{"euler-a": EulerAncestralDiscreteScheduler})


def vocab_from_committed(name):
    def write(out_dir):
        tok = json.load(open(os.path.join(HERE, name, "model", "tokenizer.json"), encoding="utf-8"))
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(tok["model"]["vocab"], f, ensure_ascii=False)
        merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
        with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return write


def radiograph(size):
    """[1, 3, size, size] in [-1, 1], as VaeImageProcessor makes it."""
    img = Image.open(RADIOGRAPH).convert("RGB").resize((size, size), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(img).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return x * 2 - 1


def strength_timesteps(pipe, steps, strength):
    """StableDiffusionImg2ImgPipeline.get_timesteps."""
    pipe.scheduler.set_timesteps(steps)
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    timesteps = pipe.scheduler.timesteps[t_start * pipe.scheduler.order :]
    if hasattr(pipe.scheduler, "set_begin_index"):
        pipe.scheduler.set_begin_index(t_start * pipe.scheduler.order)
    return timesteps


@torch.no_grad()
def masked_edit(pipe, init_latents, noise, mask, steps, strength):
    """StableDiffusionInpaintPipeline.__call__ for a 4-channel UNet, with
    latents and a latent-size mask given: prepare_latents, then after each
    step the known region is put back, noised to the next timestep."""
    ids = torch.tensor([mg.ids_for(pipe.tokenizer, NEGATIVE)["ids"], mg.ids_for(pipe.tokenizer, PROMPT)["ids"]])
    context = pipe.text_encoder(ids)[0]
    timesteps = strength_timesteps(pipe, steps, strength)
    if strength == 1.0:
        latents = noise * pipe.scheduler.init_noise_sigma
    else:
        latents = pipe.scheduler.add_noise(init_latents, noise, timesteps[:1])
    for i, t in enumerate(timesteps):
        x_in = pipe.scheduler.scale_model_input(torch.cat([latents] * 2), t)
        out = pipe.unet(x_in, t, encoder_hidden_states=context).sample
        uncond, cond = out.chunk(2)
        guided = uncond + GUIDANCE * (cond - uncond)
        latents = pipe.scheduler.step(guided, t, latents).prev_sample
        known = init_latents
        if i < len(timesteps) - 1:
            known = pipe.scheduler.add_noise(init_latents, noise, torch.tensor([timesteps[i + 1]]))
        latents = (1 - mask) * known + mask * latents
    return latents


@torch.no_grad()
def record(name, spec, pipe, saved_scheduler, out_dir, runs):
    g = {}
    unet_size = spec["unet"]["sample_size"]
    vae_scale = 2 ** (len(spec["vae"]["block_out_channels"]) - 1)
    size = unet_size * vae_scale
    image = radiograph(size)
    vae = pipe.vae
    moments = vae.quant_conv(vae.encoder(image))
    mean = vae.encode(image).latent_dist.mean
    assert torch.equal(mean, moments[:, :4])
    init_latents = mean * vae.config.scaling_factor
    gen = torch.Generator().manual_seed(11)
    noise = torch.randn(1, 4, unet_size, unet_size, generator=gen)
    # A region over the right lower zone (the image's left half, lower half).
    mask = torch.zeros(1, 1, unet_size, unet_size)
    mask[:, :, unet_size // 2 :, : unet_size // 2] = 1.0
    step_noise = torch.randn(6, 1, 4, unet_size, unet_size, generator=gen)
    g["edit.step_noise"] = step_noise
    g["edit.image"] = image
    g["edit.moments"] = moments
    g["edit.noise"] = noise
    g["edit.mask"] = mask

    img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
    img2img.set_progress_bar_config(disable=True)
    pipe.set_progress_bar_config(disable=True)
    meta = {"prompt": PROMPT, "negative": NEGATIVE, "guidance": GUIDANCE, "runs": []}
    original_randn = img2img_mod.randn_tensor
    original_step_randn = euler_a_mod.randn_tensor
    img2img_mod.randn_tensor = lambda shape, **kw: noise.clone()
    taken = [0]

    def next_step_noise(shape, **kw):
        taken[0] += 1
        return step_noise[taken[0] - 1].clone()

    euler_a_mod.randn_tensor = next_step_noise
    try:
        for kind, sched_name, steps, strength in runs:
            taken[0] = 0
            scheduler = SCHEDULERS[sched_name].from_config(saved_scheduler)
            img2img.scheduler = scheduler
            pipe.scheduler = scheduler
            if kind == "txt2img":
                out = pipe(
                    PROMPT,
                    negative_prompt=NEGATIVE,
                    num_inference_steps=steps,
                    guidance_scale=GUIDANCE,
                    latents=noise.clone(),
                    output_type="latent",
                ).images
            elif kind == "img2img":
                out = img2img(
                    PROMPT,
                    image=init_latents.clone(),
                    strength=strength,
                    negative_prompt=NEGATIVE,
                    num_inference_steps=steps,
                    guidance_scale=GUIDANCE,
                    output_type="latent",
                ).images
            else:
                out = masked_edit(pipe, init_latents, noise, mask, steps, strength)
            decoded = vae.decode(out / vae.config.scaling_factor).sample
            decoded = (decoded / 2 + 0.5).clamp(0, 1)
            key = f"{kind}.{sched_name}.{steps}" + (f".{strength}" if strength is not None else "")
            g[f"{key}.latents"] = out
            g[f"{key}.image"] = decoded
            run = {"kind": kind, "scheduler": sched_name, "steps": steps}
            if strength is not None:
                run["strength"] = strength
            meta["runs"].append(run)
            print(f"  {name} {key}: latents std {out.std():.3f}, image mean {decoded.mean():.3f}")
    finally:
        img2img_mod.randn_tensor = original_randn
        euler_a_mod.randn_tensor = original_step_randn
    save_file({k: v.contiguous() for k, v in g.items()}, os.path.join(out_dir, "edit.safetensors"))
    with open(os.path.join(out_dir, "edit.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="where the diffusers folders go")
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name, spec in mg.MODELS.items():
        if spec.get("family") == "sd2":
            continue  # its goldens are text to image only (make_goldens.py)
        if "open_clip" in sys.modules and not hasattr(sys.modules["open_clip"], "__file__"):
            mg.write_clip_vocab = vocab_from_committed(name)
        pipe = mg.build(name, spec, args.work)
        with open(os.path.join(args.work, name, "scheduler", "scheduler_config.json")) as f:
            saved_scheduler = json.load(f)
        if name == "tiny-sd2":
            runs = [(k, s, 6, st) for k in ("img2img", "masked") for s in SCHEDULERS for st in (0.5, 0.8)]
            runs.append(("masked", "ddim", 4, 1.0))
            runs.append(("img2img", "pndm", 6, 0.9))  # PNDM's warm-up starts on the repeated timestep
            runs.append(("txt2img", "euler-a", 6, None))
        else:
            runs = [("img2img", "dpm++2m", 4, 0.75), ("masked", "euler", 4, 0.75), ("txt2img", "euler-a", 4, None)]
        record(name, spec, pipe, saved_scheduler, os.path.join(HERE, name), runs)
        print(name)


if __name__ == "__main__":
    main()
