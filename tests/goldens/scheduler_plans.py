#!/usr/bin/env python3
"""Records diffusers' sampling plans for every scheduler and every
`timestep_spacing` our config check accepts, from SD v1.5's scheduler config
(RoentGen's): the timesteps of each UNet call, the initial noise scale, the
input scale, and each step's coefficients (epsilon prediction, and
v-prediction for DDIM, Euler and DPM-Solver++; DDIM with clip_sample probed
at inputs inside and outside the clip range) where a step is linear in its
inputs (probed: diffusers' `step` run on unit inputs). No model runs; the
output is tests/goldens/scheduler-plans.json (with image-to-image's
truncated plans and add_noise coefficients), compared by
crates/model/tests/scheduler_plans.rs.

    pip install torch diffusers
    python tests/goldens/scheduler_plans.py
"""
import copy
import json
import os

import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
)

# runwayml/stable-diffusion-v1-5's scheduler_config.json, as make_goldens.py has it.
SD15 = {
    "_class_name": "PNDMScheduler",
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
SCHEDULERS = {
    "pndm": PNDMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler-a": EulerAncestralDiscreteScheduler,
    "dpm++2m": DPMSolverMultistepScheduler,
}
SPACINGS = ["leading", "linspace", "trailing"]
STEPS = [1, 4, 7, 25, 50]
ONE = torch.ones(1)
ZERO = torch.zeros(1)


def probe(s, t, eps, x, seed=None):
    """diffusers' step on a copy, so `s` keeps its own position."""
    c = copy.deepcopy(s)
    kw = {"generator": torch.Generator().manual_seed(seed)} if seed is not None else {}
    return c.step(eps, t, x, **kw).prev_sample.item()


PROBES = [(0.3, 0.2), (10.0, 0.0), (-10.0, 0.0), (0.0, 10.0), (2.0, -3.0)]


def record_clipped(spacing, steps, prediction):
    """DDIM with clip_sample (not linear: probed at inputs inside and outside
    the clip range)."""
    s = DDIMScheduler.from_config(dict(SD15, timestep_spacing=spacing, prediction_type=prediction, clip_sample=True))
    s.set_timesteps(steps)
    probes = []
    for t in s.timesteps:
        probes.append([[x, e, probe(s, t, torch.tensor([e]), torch.tensor([x]))] for x, e in PROBES])
    return {
        "scheduler": "ddim",
        "spacing": spacing,
        "steps": steps,
        "prediction": prediction,
        "clip_sample": True,
        "timesteps": [float(t) for t in s.timesteps],
        "init_noise_sigma": float(s.init_noise_sigma),
        "probes": probes,
    }


def record(name, cls, spacing, steps, prediction="epsilon"):
    s = cls.from_config(dict(SD15, timestep_spacing=spacing, prediction_type=prediction))
    s.set_timesteps(steps)
    case = {
        "scheduler": name,
        "spacing": spacing,
        "steps": steps,
        "prediction": prediction,
        "timesteps": [float(t) for t in s.timesteps],
        "init_noise_sigma": float(s.init_noise_sigma),
    }
    if name in ("ddim", "euler", "euler-a"):
        c0, c1, scales, sigma_up = [], [], [], []
        for t in s.timesteps:
            scales.append(s.scale_model_input(ONE, t).item())
            # prev = c0 x + c1 eps (+ sigma_up noise for euler-a, same seed both times)
            p_x = probe(s, t, ZERO, ONE, seed=0)
            p_e = probe(s, t, ONE, ZERO, seed=0)
            p_0 = probe(s, t, ZERO, ZERO, seed=0)
            c0.append(p_x - p_0)
            c1.append(p_e - p_0)
            if name == "euler-a":
                noise = torch.randn(1, generator=torch.Generator().manual_seed(0)).item()
                sigma_up.append(p_0 / noise)
            s.step(ZERO, t, ZERO, **({"generator": torch.Generator().manual_seed(0)} if name == "euler-a" else {}))
        case.update(input_scale=scales, c0=c0, c1=c1)
        if name == "euler-a":
            case["sigma_up"] = sigma_up
    if name == "dpm++2m":
        # Only the first step is linear in (sample, output): no history yet.
        t = s.timesteps[0]
        p_0 = probe(s, t, ZERO, ZERO)
        case.update(c0=[probe(s, t, ZERO, ONE) - p_0], c1=[probe(s, t, ONE, ZERO) - p_0])
    return case


STRENGTHS = [0.3, 0.75, 0.9, 1.0]


def record_strength(name, cls, spacing, steps, strength):
    """Image-to-image's truncated plan (StableDiffusionImg2ImgPipeline.
    get_timesteps, set_begin_index): where it starts, each UNet call's
    timestep and input scale, add_noise's two coefficients at the start and
    after each step (masked editing noises the known region to the next
    level), and the first step's coefficients (no history yet)."""
    s = cls.from_config(dict(SD15, timestep_spacing=spacing))
    s.set_timesteps(steps)
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    ts = s.timesteps[t_start * s.order :]
    if hasattr(s, "set_begin_index"):
        s.set_begin_index(t_start * s.order)

    def noised(t):
        t = t.reshape(1)
        return [s.add_noise(ONE, ZERO, t).item(), s.add_noise(ZERO, ONE, t).item()]

    seed = 0 if name == "euler-a" else None
    kw = lambda: {"generator": torch.Generator().manual_seed(0)} if seed is not None else {}  # noqa: E731
    add = [noised(ts[0])]
    t = ts[0]
    s.scale_model_input(ONE, t)
    p_0 = probe(s, t, ZERO, ZERO, seed)
    first = [probe(s, t, ZERO, ONE, seed) - p_0, probe(s, t, ONE, ZERO, seed) - p_0]
    scales = []
    for i, t in enumerate(ts):
        scales.append(s.scale_model_input(ONE, t).item())
        s.step(ZERO, t, ZERO, **kw())
        if i + 1 < len(ts):
            add.append(noised(ts[i + 1]))
    return {
        "scheduler": name,
        "spacing": spacing,
        "steps": steps,
        "strength": strength,
        "begin": t_start,
        "timesteps": [float(t) for t in ts],
        "input_scale": scales,
        "add_noise": add,
        "first_step": first,
    }


def main():
    cases = [
        record(name, cls, spacing, steps)
        for name, cls in SCHEDULERS.items()
        for spacing in SPACINGS
        for steps in STEPS
    ]
    # v-prediction, every sampler.
    cases += [
        record(name, SCHEDULERS[name], spacing, steps, "v_prediction")
        for name in ("pndm", "ddim", "euler", "euler-a", "dpm++2m")
        for spacing in SPACINGS
        for steps in STEPS
    ]
    # DDIM's clip_sample (its default when a config does not say).
    cases += [
        record_clipped(spacing, steps, prediction)
        for spacing in SPACINGS
        for steps in STEPS
        for prediction in ("epsilon", "v_prediction")
    ]
    # Image-to-image: every scheduler started part way, at SD v1.5's spacing
    # and one other.
    strength_cases = [
        record_strength(name, cls, spacing, steps, strength)
        for name, cls in SCHEDULERS.items()
        for spacing in ("leading", "trailing")
        for steps in (4, 7, 25)
        for strength in STRENGTHS
    ]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheduler-plans.json")
    with open(out, "w") as f:
        json.dump({"config": SD15, "cases": cases, "strength_cases": strength_cases}, f, indent=0)
    print(f"{len(cases)} plans, {len(strength_cases)} truncated plans -> {out}")


if __name__ == "__main__":
    main()
