#!/usr/bin/env bash
# Runs every test: formatting, native `cargo test` (GPU tests on the machine's
# Vulkan adapter, lavapipe without a GPU), the full-size goldens (from the test build),
# `roentgen dataset` as a Slurm array job on a single-node cluster started here,
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

step "roentgen dataset on a real Slurm cluster (single node, this machine; from the test build)"
tests/slurm/run.sh target/debug/roentgen

step "trunk build --release (wasm32 page)"
trunk build --release
ls -l dist/*.wasm

# Every browser test file runs on both engines; each test says where it runs
# (tests/e2e/browser.mjs: `runsOn`; docs/testing.md lists the split). The two
# engines run side by side: neither keeps both cores busy (measured: 543 s
# for both together against about 630 one after the other), and no test
# depends on speed. Each writes its own log, printed whole when both are done.
step "browser end-to-end tests: Chromium (WebGPU on SwiftShader) and Firefox ESR (wgpu on Vulkan, shader-f16), side by side"
mkdir -p target
node --test --test-concurrency=1 tests/e2e/ > target/e2e-chromium.log 2>&1 &
chromium_pid=$!
E2E_BROWSER=firefox node --test --test-concurrency=1 tests/e2e/ > target/e2e-firefox.log 2>&1 &
firefox_pid=$!
chromium_rc=0
firefox_rc=0
wait "$chromium_pid" || chromium_rc=$?
wait "$firefox_pid" || firefox_rc=$?
printf '\n\033[1m-- Chromium (exit %s)\033[0m\n' "$chromium_rc"
cat target/e2e-chromium.log
printf '\n\033[1m-- Firefox ESR (exit %s)\033[0m\n' "$firefox_rc"
cat target/e2e-firefox.log
if [ "$chromium_rc" -ne 0 ] || [ "$firefox_rc" -ne 0 ]; then
  echo "browser tests failed: Chromium exit $chromium_rc, Firefox exit $firefox_rc" >&2
  exit 1
fi

step "all tests passed in $((SECONDS - t0)) s"
