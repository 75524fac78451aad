#!/usr/bin/env bash
# The full-size golden (crates/cli/tests/full_size.rs): SD v1.5's graph at
# RoentGen's size with seeded random weights, made as a diffusers folder,
# converted to f16 and f32, generated at 128x128 (2 DDIM steps) on this
# machine's adapter and compared with diffusers' output
# (tests/goldens/sd15-full, recorded by tests/goldens/full_size.py).
# Release build: the test writes and converts 2 GB of weights; needs about
# 7 GB of free disk under $TMPDIR while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p roentgen-cli --test full_size -- --ignored --nocapture
