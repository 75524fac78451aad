#!/usr/bin/env python3
"""Records diffusers' sampling plans for every scheduler and every
`timestep_spacing` our config check accepts, from SD v1.5's scheduler config
(RoentGen's): the timesteps of each UNet call, the initial noise scale, the
input scale, and each step's coefficients (epsilon prediction, and
v-prediction for DDIM, Euler and DPM-Solver++; DDIM with clip_sample probed
at inputs inside and outside the clip range) where a step is linear in its
inputs (probed: diffusers' `step` run on unit inputs). No model runs; the
output is tests/goldens/scheduler-plans.json, compared by
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


def main():
    cases = [
        record(name, cls, spacing, steps)
        for name, cls in SCHEDULERS.items()
        for spacing in SPACINGS
        for steps in STEPS
    ]
    # v-prediction where this build supports it (PNDM and Euler ancestral refuse it).
    cases += [
        record(name, SCHEDULERS[name], spacing, steps, "v_prediction")
        for name in ("ddim", "euler", "dpm++2m")
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
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheduler-plans.json")
    with open(out, "w") as f:
        json.dump({"config": SD15, "cases": cases}, f, indent=0)
    print(f"{len(cases)} plans -> {out}")


if __name__ == "__main__":
    main()
