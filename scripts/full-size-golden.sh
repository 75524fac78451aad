#!/usr/bin/env bash
# The full-size goldens (crates/cli/tests/full_size.rs): SD v1.5's graph at
# RoentGen's size with seeded random weights, made as a diffusers folder,
# converted to f16 (and f32 with FULL_SIZE_F32=1), generated at 64x128 (2 DDIM steps) on this
# machine's adapter and compared with diffusers' output
# (tests/goldens/sd15-full, recorded by tests/goldens/full_size.py); then SD
# 2.1-base's (RoentGen-v2's graph) in f16 (tests/goldens/sd21-base-full).
# One at a time: each needs the disk below and both cores.
# The test build of `cargo test --workspace` (scripts/test.sh builds it just
# before; the same package selection, so nothing is rebuilt): the dev profile
# optimises the crates that write, hash and convert the weights (Cargo.toml),
# and the rest of the time is the GPU's. A release build of its own cost
# 4 minutes here for nothing the test needs. The test writes a 2-2.6 GB f16
# diffusers folder and converts it (the f32 conversion with FULL_SIZE_F32=1:
# 4.3 GB), so it needs about 7 GB of free disk under $TMPDIR while it runs;
# it says so up front rather than failing half-way.
set -euo pipefail
cd "$(dirname "$0")/.."
need_gb=7
tmp=${TMPDIR:-/tmp}
free_gb=$(df -Pk "$tmp" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
if [ "$free_gb" -lt "$need_gb" ]; then
  echo "full-size golden: needs about $need_gb GB free under $tmp, has $free_gb GB" >&2
  df -h "$tmp" "$PWD/target" >&2
  exit 1
fi
cargo test --workspace --exclude roentgen-app --exclude roentgen-burn-peer \
  --test full_size -- --ignored --nocapture --test-threads=1
