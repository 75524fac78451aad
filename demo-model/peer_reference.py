#!/usr/bin/env python3
"""Holds both engines of `scripts/browser-peer-bench.mjs` to torch in f32:
the same UNet call on the inputs the benchmark dumped (PEER_DUMP=DIR), and
each engine's largest and mean distance from it.

Why: where both engines compute in f16 (Firefox, shader-f16), their
distance from each other is the sum of two rounding errors; each one's
distance from the exact answer says which, if either, computes wrongly.

    PY=/work/venv/bin/python
    $PY demo-model/peer_reference.py DUMP_DIR [--diffusers DIR]   (default: the dump's roentgen-weights model)
"""
import argparse
import glob
import json
import os

import numpy as np
import torch

import from_weights


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--diffusers", help="the diffusers folder the ONNX graph was exported from")
    args = ap.parse_args()
    meta = json.load(open(os.path.join(args.dump, "dump.json")))
    read = lambda name, shape: torch.from_numpy(np.fromfile(os.path.join(args.dump, name), dtype="<f4").reshape(shape))
    sample = read("sample.f32", meta["sample"])
    context = read("context.f32", meta["encoder_hidden_states"])
    unet = from_weights.diffusers_unet(args.diffusers) if args.diffusers else from_weights.load(meta["model"]).unet
    with torch.no_grad():
        ref = unet(sample, torch.tensor([float(meta["timestep"])]), encoder_hidden_states=context).sample.numpy()
    scale = float(np.abs(ref).max())
    print(f"torch {torch.__version__} f32 reference: largest |value| {scale:.3f}")
    result = {"reference_max_abs": scale, "engines": {}}
    for path in sorted(glob.glob(os.path.join(args.dump, "*.f32"))):
        name = os.path.basename(path)[:-4]
        if name in ("sample", "context"):
            continue
        got = np.fromfile(path, dtype="<f4").reshape(ref.shape)
        d = np.abs(got - ref)
        result["engines"][name] = {"max_abs": float(d.max()), "mean_abs": float(d.mean())}
        print(f"{name:24} max |diff| {d.max():.3e} ({d.max() / scale:.2%} of the largest), mean {d.mean():.3e}")
    with open(os.path.join(args.dump, "reference.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
