#!/usr/bin/env bash
# Runs every test: formatting, native `cargo test` (GPU tests on the machine's
# Vulkan adapter, lavapipe without a GPU), the full-size goldens (from the test build),
# the wasm32 build of the page by Trunk, and the browser end-to-end tests in
# headless Chromium (WebGPU on SwiftShader) and headless Firefox ESR (WebGPU
# over wgpu and Vulkan, with shader-f16).
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

step "full-size goldens (SD v1.5's and SD 2.1-base's graphs at full width vs diffusers, from the test build)"
scripts/full-size-golden.sh

step "trunk build --release (wasm32 page)"
trunk build --release
ls -l dist/*.wasm

# Every browser test file runs on both engines; each test says where it runs
# (tests/e2e/browser.mjs: `runsOn`). What depends on the engine runs on both:
# the adapter and kernel check, every kernel compiled by Tint and by naga, the
# demo model's image, a share link equal to the CLI's pixels, an SD 2.x model,
# an edit, OPFS storage, a dropped converted folder and a lost device. The
# page's own logic (links, loaders, cancel, compare, attention maps, resume
# after a lost device) runs once, on Firefox, three times faster there than
# on SwiftShader. Chromium alone: choosing a folder (Firefox's WebDriver BiDi
# cannot set one: conversion, quota), and main-thread long tasks (Firefox
# reports none).
step "browser end-to-end tests (Chromium, WebGPU on SwiftShader)"
node --test --test-concurrency=1 tests/e2e/

step "browser end-to-end tests (Firefox ESR, WebGPU over wgpu and Vulkan, shader-f16)"
E2E_BROWSER=firefox node --test --test-concurrency=1 tests/e2e/

step "all tests passed in $((SECONDS - t0)) s"
