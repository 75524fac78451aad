#!/usr/bin/env bash
# Runs every test: formatting, native `cargo test` (GPU tests on the machine's
# Vulkan adapter, lavapipe without a GPU), the full-size golden (release),
# the wasm32 build of the page by Trunk, and the browser end-to-end tests in
# headless Chromium (WebGPU).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
t0=$SECONDS

step "disk (the builds and the full-size golden need about 15 GB)"
df -h . "${TMPDIR:-/tmp}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo test (native; GPU tests on the Vulkan adapter)"
cargo test --workspace --exclude roentgen-app --exclude roentgen-burn-peer

step "full-size golden (release: SD v1.5's graph at full width vs diffusers)"
scripts/full-size-golden.sh

step "trunk build --release (wasm32 page)"
trunk build --release
ls -l dist/*.wasm

step "browser end-to-end tests (Chromium, WebGPU)"
node --test --test-concurrency=1 tests/e2e/

step "all tests passed in $((SECONDS - t0)) s"
