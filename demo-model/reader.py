#!/usr/bin/env python3
"""Trains the phantom reader: the small CNN that `roentgen-phantom`'s
`Reader` runs in Rust (crates/phantom/src/reader.rs holds the architecture;
this file must build the same one) to say which findings, on which side and
of which size, an image shows. Dev-time only (torch); the f16 weights are
committed as crates/phantom/reader.safetensors.

    cargo run --release -p weights-tools -- phantoms --out /work/reader-data --count 30000 --size 128 --seed 0
    /work/venv/bin/python demo-model/reader.py --data /work/reader-data --minutes 25
    /work/venv/bin/python demo-model/reader.py --data /work/reader-data --minutes 25 --resume --lr 1e-3

Seeded. The last --holdout images are never trained on; per-head accuracy on
them is printed and written beside the weights (reader-accuracy.json). Light
augmentation (blur, contrast, noise) keeps the reader from depending on the
generator's exact texture, since it will read images a diffusion model drew.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/phantom/reader.safetensors")


class ReaderNet(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 8 * 8, 128)
        self.fc2 = nn.Linear(128, logits)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = F.max_pool2d(F.relu(self.conv4(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def augment(x, gen):
    """Blur (a VAE's softness), contrast/brightness and noise, per image."""
    b = x.shape[0]
    sigma = torch.rand(b, generator=gen) * 1.2
    k = torch.arange(-3, 4, dtype=torch.float32)
    kern = torch.exp(-(k[None] ** 2) / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    kern = kern / kern.sum(1, keepdim=True)
    xs = F.pad(x, (3, 3, 3, 3), mode="replicate")
    # Separable blur, one kernel per image (grouped conv over the batch).
    xs = xs.transpose(0, 1)
    xs = F.conv2d(xs, kern[:, None, None, :], groups=b)
    xs = F.conv2d(xs, kern[:, None, :, None], groups=b)
    x = xs.transpose(0, 1)
    gain = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.3
    bias = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.1
    noise = torch.randn(x.shape, generator=gen) * torch.rand(b, 1, 1, 1, generator=gen) * 0.03
    return (x * gain + bias + noise).clamp(0, 1)


def loss_and_answers(logits, labels, sizes):
    loss, answers, at = 0.0, [], 0
    for h, n in enumerate(sizes):
        part = logits[:, at : at + n]
        at += n
        loss = loss + F.cross_entropy(part, labels[:, h])
        answers.append(part.argmax(1))
    return loss, torch.stack(answers, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by weights-tools phantoms (128x128)")
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--holdout", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--resume", action="store_true", help="start from --out's weights (a new optimizer and schedule)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--golden-only", action="store_true", help="only write the Rust test's golden from --out's weights")
    ap.add_argument("--eval", action="store_true",
                    help="only print --out's per-head accuracy on every image of --data (JSON), e.g. phantoms passed through the VAE")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(3)
    gen = torch.Generator().manual_seed(3)
    rng = np.random.default_rng(3)

    heads = json.load(open(os.path.join(args.data, "heads.json")))
    sizes = [len(h["classes"]) for h in heads]
    images = np.load(os.path.join(args.data, "images.npy"), mmap_mode="r")
    assert images.shape[1:] == (128, 128), images.shape
    labels = np.array([json.loads(l)["labels"] for l in open(os.path.join(args.data, "captions.jsonl"))], dtype=np.int64)
    n_train = len(images) - args.holdout
    net = ReaderNet(sum(sizes))
    if args.golden_only or args.resume or args.eval:
        net.load_state_dict(load_file(args.out))
    if args.golden_only:
        write_golden(net, images, args.data, n_train)
        return
    if args.eval:
        net.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
        print(json.dumps(accuracy(net, images, labels, heads, sizes, 0, len(images)), indent=1))
        return
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    budget = args.minutes * 60
    t0, step = time.time(), 0
    log = open(os.path.splitext(args.out)[0] + "-loss.csv", "a" if args.resume else "w")
    total_steps = None
    while time.time() - t0 < budget:
        idx = np.sort(rng.integers(0, n_train, size=args.batch))
        x = torch.from_numpy(images[idx].astype(np.float32) / 255.0)[:, None]
        y = torch.from_numpy(labels[idx])
        # Cosine decay over the time budget.
        frac = (time.time() - t0) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + np.cos(np.pi * frac))
        loss, _ = loss_and_answers(net(augment(x, gen)), y, sizes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        log.write(f"{step},{time.time() - t0:.1f},{loss.item():.5f}\n")
        if step % 100 == 0:
            log.flush()
            print(f"step {step} loss {loss.item():.4f} ({(time.time() - t0) / 60:.1f} of {args.minutes} min)", flush=True)
    total_steps = step

    acc = accuracy(net, images, labels, heads, sizes, n_train, len(images))
    report = {
        "steps": total_steps,
        "minutes": round((time.time() - t0) / 60, 1),
        "train_images": n_train,
        "holdout_images": args.holdout,
        "holdout_accuracy_per_head": acc["per_head"],
        "holdout_all_heads_right": acc["all_heads_right"],
    }
    print(json.dumps(report, indent=1))
    json.dump(report, open(os.path.splitext(args.out)[0] + "-accuracy.json", "w"), indent=1)
    save_file({k: v.detach().half().contiguous() for k, v in net.state_dict().items()}, args.out)
    print(f"wrote {args.out}: {sum(p.numel() for p in net.parameters()):,} parameters")

    write_golden(net, images, args.data, n_train)


def accuracy(net, images, labels, heads, sizes, first, end):
    """Share of images[first:end] each head reads right, and all at once."""
    net.eval()
    correct = np.zeros(len(sizes))
    exact = 0
    with torch.no_grad():
        for i in range(first, end, 256):
            j = min(i + 256, end)
            x = torch.from_numpy(images[i:j].astype(np.float32) / 255.0)[:, None]
            y = torch.from_numpy(labels[i:j])
            _, ans = loss_and_answers(net(x), y, sizes)
            correct += (ans == y).float().sum(0).numpy()
            exact += int((ans == y).all(1).sum())
    n = end - first
    return {
        "images": n,
        "per_head": {h["name"]: round(float(c) / n, 4) for h, c in zip(heads, correct)},
        "all_heads_right": round(exact / n, 4),
    }


def write_golden(net, images, data, first):
    """A golden for the Rust reader: torch's logits, with the weights as
    stored (f16), for three held-out phantoms given by seed (the Rust test
    redraws them and quantizes to 8 bits as images.npy holds them)."""
    net.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
    net.eval()
    seeds = [json.loads(l)["seed"] for l in open(os.path.join(data, "captions.jsonl"))]
    pick = [first, first + 1, first + 2]
    with torch.no_grad():
        x = torch.from_numpy(images[pick].astype(np.float32) / 255.0)[:, None]
        logits = net(x)
    golden = {"seeds": [seeds[i] for i in pick], "logits": logits.tolist()}
    path = os.path.join(ROOT, "crates/phantom/tests/reader-golden.json")
    json.dump(golden, open(path, "w"))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
