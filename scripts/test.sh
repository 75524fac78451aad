#!/usr/bin/env bash
# Runs every test: formatting, native `cargo test` (GPU tests on the machine's
# Vulkan adapter, lavapipe without a GPU), the full-size goldens (release),
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

step "full-size goldens (release: SD v1.5's and SD 2.1-base's graphs at full width vs diffusers)"
scripts/full-size-golden.sh

step "trunk build --release (wasm32 page)"
trunk build --release
ls -l dist/*.wasm

step "browser end-to-end tests (Chromium, WebGPU on SwiftShader)"
node --test --test-concurrency=1 tests/e2e/

# Firefox runs what a visitor does (the page finds the GPU and checks its
# kernels, the demo model draws, a share link equals the CLI's pixels, a
# radiograph edits, weights stream, resume, pass a gate and are cached) on the
# f16 arithmetic SwiftShader lacks. Tests that choose a folder in a file input
# say they are skipped there (WebDriver BiDi cannot set one), so convert.test.mjs
# (all three choose a diffusers folder) is left to Chromium, and so is most of
# teaching.test.mjs, which measures main-thread long tasks (Firefox does not
# report them). shaders.test.mjs compiles every kernel with Firefox's WGSL
# front end (naga) as it does with Chromium's (Tint).
step "browser end-to-end tests (Firefox ESR, WebGPU over wgpu and Vulkan, shader-f16)"
E2E_BROWSER=firefox node --test --test-concurrency=1 \
  tests/e2e/smoke.test.mjs tests/e2e/demo.test.mjs tests/e2e/generate.test.mjs \
  tests/e2e/edit.test.mjs tests/e2e/weights.test.mjs tests/e2e/shaders.test.mjs
# The two lost-device tests of teaching.test.mjs (recovery by "Load model",
# and a run carrying on from its last finished step) run on Firefox as well.
E2E_BROWSER=firefox node --test --test-concurrency=1 --test-name-pattern='GPU device|device lost' \
  tests/e2e/teaching.test.mjs

step "all tests passed in $((SECONDS - t0)) s"
