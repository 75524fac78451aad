#!/usr/bin/env python3
"""Exports the demo model's UNet and VAE decoder to ONNX, from the weights the
page draws with, for `scripts/browser-peer-bench.mjs` to run the same UNet
call through ONNX Runtime Web beside ours.

Dev-time only (torch, diffusers and onnxscript from PyPI, in a venv outside
the repository); the files go to an ignored folder (target/onnx by default)
and never into git. Each graph is written in f32, and in f16 for adapters
with `shader-f16`; the f32 UNet is checked against torch on the same inputs
with onnxruntime on the CPU before anything is written as done.

    PY=/work/venv/bin/python
    $PY demo-model/export_onnx.py [--model demo-model/model] [--out target/onnx]

The full-size SD v1.5 UNet (random weights, as the full-size golden makes
them) from a diffusers folder instead, the UNet only, at 16x16 latents, f16
(its f32 graph is 3.4 GB, past the 2 GB a single ONNX file holds and the
4 GB of a wasm heap):

    $PY demo-model/export_onnx.py --diffusers DIR --latent 16 --only-f16 --out target/onnx-full

Writes OUT/unet-f32.onnx, unet-f16.onnx, vae-decoder-f32.onnx,
vae-decoder-f16.onnx and OUT/export.json (shapes, input names, versions,
the torch / onnxruntime agreement).

The graphs take: UNet `sample` [B, 4, h, w], `timestep` [1] (float),
`encoder_hidden_states` [B, 77, D], giving `out_sample` (the noise
prediction); the decoder `latents` [1, 4, h, w] (already divided by the
scaling factor), giving `image` in [-1, 1]. Batch and spatial sizes are
dynamic, so one file serves the CFG batch of 2 at any size.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import from_weights

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class UnetCall(torch.nn.Module):
    """One UNet call as the pipeline makes it: the noise prediction alone."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states).sample


class Decode(torch.nn.Module):
    """The VAE decoder on latents already divided by the scaling factor."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents):
        return self.vae.decode(latents).sample


def export(module, args, names, outputs, dynamic, path):
    t0 = time.time()
    torch.onnx.export(
        module,
        args,
        path,
        input_names=names,
        output_names=outputs,
        dynamic_axes=dynamic,
        opset_version=18,
        dynamo=False,
    )
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t0:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "demo-model/model"))
    ap.add_argument("--out", default=os.path.join(ROOT, "target/onnx"))
    ap.add_argument("--diffusers", help="a diffusers folder: its UNet only (no VAE graph)")
    ap.add_argument("--latent", type=int, help="latent side of the example inputs (default: the UNet's own)")
    ap.add_argument("--only-f16", action="store_true", help="no f32 graphs (nor the CPU check, which needs one)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.diffusers:
        unet, vae = from_weights.diffusers_unet(args.diffusers), None
        source = os.path.abspath(args.diffusers)
    else:
        m = from_weights.load(args.model)
        unet, vae = m.unet, m.vae
        source = os.path.abspath(args.model)
    cfg = unet.config
    d = cfg.cross_attention_dim
    lat = args.latent or cfg.sample_size
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(2, cfg.in_channels, lat, lat, generator=g)
    timestep = torch.tensor([500.0])
    context = torch.randn(2, 77, d, generator=g)
    latents = torch.randn(1, cfg.in_channels, lat, lat, generator=g)
    unet_names = ["sample", "timestep", "encoder_hidden_states"]
    unet_dynamic = {"sample": {0: "batch", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch"},
                    "out_sample": {0: "batch", 2: "height", 3: "width"}}
    vae_dynamic = {"latents": {2: "height", 3: "width"}, "image": {2: "image_height", 3: "image_width"}}
    files = {}
    dtypes = [(torch.float16, "f16")] if args.only_f16 else [(torch.float32, "f32"), (torch.float16, "f16")]
    # Module.to converts in place: after the loop the modules are f16, and the
    # check below takes the UNet back to f32.
    for dtype, name in dtypes:
        with torch.no_grad():
            path = os.path.join(args.out, f"unet-{name}.onnx")
            export(UnetCall(unet).to(dtype), (sample.to(dtype), timestep.to(dtype), context.to(dtype)),
                   unet_names, ["out_sample"], unet_dynamic, path)
            files[f"unet-{name}"] = os.path.basename(path)
            if vae is not None:
                path = os.path.join(args.out, f"vae-decoder-{name}.onnx")
                export(Decode(vae).to(dtype), (latents.to(dtype),), ["latents"], ["image"], vae_dynamic, path)
                files[f"vae-decoder-{name}"] = os.path.basename(path)

    # The f32 graph must compute what torch computes before anyone times it.
    err = None
    if not args.only_f16:
        import onnxruntime as ort

        with torch.no_grad():
            want = UnetCall(unet.float())(sample, timestep, context).numpy()
        sess = ort.InferenceSession(os.path.join(args.out, "unet-f32.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"sample": sample.numpy(), "timestep": timestep.numpy(),
                              "encoder_hidden_states": context.numpy()})[0]
        err = float(np.abs(got - want).max())
        print(f"onnxruntime {ort.__version__} (CPU) against torch on the f32 UNet: max |diff| {err:.2e}")
        if err > 1e-3:
            raise SystemExit("the exported UNet does not compute what torch does")
    with open(os.path.join(args.out, "export.json"), "w") as f:
        json.dump({
            "model": source,
            "files": files,
            "unet_inputs": {"sample": [2, cfg.in_channels, lat, lat], "timestep": [1],
                            "encoder_hidden_states": [2, 77, d]},
            "torch": torch.__version__,
            "onnxruntime_cpu_vs_torch_max_abs": err,
        }, f, indent=1)
    print(f"wrote {args.out}/export.json")


if __name__ == "__main__":
    main()
