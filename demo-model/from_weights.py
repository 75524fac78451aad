"""diffusers / transformers modules from a roentgen-weights folder (the
format the page and the CLI read: manifest.json, its shards, tokenizer.json).

Why: the demo model ships only in that format (`demo-model/model`); the
training checkpoints stay on the machine that trained it. Dev-time scripts
that need the model in torch (the control table at other samplers,
`export_onnx.py` for the ONNX Runtime Web comparison) rebuild it from what
ships, so they measure exactly the weights the page draws with (f16 values,
held in f32 modules).

    import from_weights
    m = from_weights.load("demo-model/model")
    m.unet, m.text, m.vae, m.scheduler_config, m.token_ids(["Cardiomegaly."])
"""
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

DTYPES = {"f16": np.float16, "f32": np.float32, "bf16": None}
EOS = 49407


@dataclass
class Model:
    unet: torch.nn.Module
    text: torch.nn.Module
    vae: torch.nn.Module
    scheduler_config: dict
    scaling_factor: float
    tokenizer_path: str

    def token_ids(self, captions):
        return torch.from_numpy(token_ids(self.tokenizer_path, captions))


def token_ids(tokenizer_path, captions):
    """CLIP ids padded to 77 with <|endoftext|>, as the pipeline pads them."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    out = np.full((len(captions), 77), EOS, dtype=np.int64)
    for i, c in enumerate(captions):
        ids = tok.encode(c).ids[:77]
        if ids and ids[-1] != EOS:
            ids[-1] = EOS
        out[i, : len(ids)] = ids
    return out


def tensors(folder):
    """Every tensor of the folder by its (diffusers) name, as float32 torch."""
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    if manifest.get("format") != "roentgen-weights":
        raise SystemExit(f"{folder}: not a roentgen-weights folder (manifest format {manifest.get('format')!r})")
    shards = [np.memmap(os.path.join(folder, s["file"]), dtype=np.uint8, mode="r") for s in manifest["shards"]]
    out = {}
    for t in manifest["tensors"]:
        dtype = DTYPES.get(t["dtype"])
        if dtype is None:
            raise SystemExit(f"{t['name']}: dtype {t['dtype']} is not read here (convert with --dtype f16 or f32)")
        raw = shards[t["shard"]][t["offset"] : t["offset"] + t["length"]]
        out[t["name"]] = torch.from_numpy(np.frombuffer(raw, dtype=dtype).astype(np.float32).reshape(t["shape"]))
    return manifest, out


def _component(all_tensors, prefix, module, encoder_optional=False):
    state = {k[len(prefix) + 1 :]: v for k, v in all_tensors.items() if k.startswith(prefix + ".")}
    missing, unexpected = module.load_state_dict(state, strict=False)
    # CLIP's position_ids is a buffer, not a weight; a shipped VAE may lack
    # its encoder (the page's editing needs it, the decoder does not).
    optional = ("encoder.", "quant_conv.") if encoder_optional else ()
    missing = [m for m in missing if not m.endswith("position_ids") and not m.startswith(optional)]
    if missing or unexpected:
        raise SystemExit(f"{prefix}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return module.eval()


def load(folder):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    manifest, ts = tensors(folder)
    configs = manifest["configs"]
    if manifest.get("model_kind") not in ("sd-v1-txt2img", "sd-v2-txt2img"):
        raise SystemExit(f"{folder}: model kind {manifest.get('model_kind')!r} is not a text-to-image SD model")
    clean = lambda c: {k: v for k, v in c.items() if not k.startswith("_")}
    unet = _component(ts, "unet", UNet2DConditionModel.from_config(clean(configs["unet"])))
    vae = _component(ts, "vae", AutoencoderKL.from_config(clean(configs["vae"])), encoder_optional=True)
    text_cfg = {k: v for k, v in configs["text_encoder"].items() if k not in ("architectures", "dtype")}
    text = _component(ts, "text_encoder", CLIPTextModel(CLIPTextConfig(**text_cfg)))
    return Model(
        unet=unet,
        text=text,
        vae=vae,
        scheduler_config=configs["scheduler"],
        scaling_factor=configs["vae"].get("scaling_factor", 0.18215),
        tokenizer_path=os.path.join(folder, manifest.get("tokenizer", "tokenizer.json")),
    )


def diffusers_unet(folder):
    """The UNet of a diffusers folder (the full-size random graph the golden
    and the peer comparison use), in f32, for inference."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"), torch_dtype=torch.float32).eval()
