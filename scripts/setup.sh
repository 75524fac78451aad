#!/usr/bin/env bash
# Installs what building and testing RoentGen Web needs, and only what is
# missing: a second run on a ready machine takes a second or two.
# Everything comes from package registries (Debian, crates.io, npm); no tool
# downloads a binary of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.22.1
WASM_OPT_VERSION=version_132 # npm binaryen@132; Debian's wasm-opt 108 miscompiles

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# Debian packages: lavapipe (Vulkan on the CPU) for native GPU tests,
# Chromium and Firefox ESR (WebGPU over wgpu and Vulkan) for the page's.
apt_missing=()
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || apt_missing+=(mesa-vulkan-drivers)
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
[ -x /usr/bin/firefox-esr ] || apt_missing+=(firefox-esr)
# Chromium only recommends fonts; text in screenshots needs one.
[ -d /usr/share/fonts/truetype/liberation ] || apt_missing+=(fonts-liberation)
command -v node >/dev/null && command -v npm >/dev/null || apt_missing+=(nodejs npm)
# A single-node Slurm cluster for `roentgen dataset`'s test (tests/slurm/run.sh).
command -v slurmctld >/dev/null && command -v slurmd >/dev/null || apt_missing+=(slurm-wlm)
command -v munged >/dev/null || apt_missing+=(munge)
# Real DICOM toolkits check the DICOM files `roentgen generate --format dicom` writes.
command -v dciodvfy >/dev/null || apt_missing+=(dicom3tools)
command -v dcmdump >/dev/null || apt_missing+=(dcmtk)
# nginx hosts the page over HTTPS in tests/e2e/hosting.test.mjs, on the site
# deploy/nginx/site.sh writes; openssl makes its certificate.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_missing+=(nginx)
command -v openssl >/dev/null || apt_missing+=(openssl)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

# Rust target for the page.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen in Cargo.lock, and Trunk.toml must pin it.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print }' Cargo.lock)
grep -q "^wasm_bindgen = \"$WB_VERSION\"" Trunk.toml || {
  echo "Trunk.toml must pin wasm_bindgen = \"$WB_VERSION\" (the version in Cargo.lock)" >&2
  exit 1
}
grep -q "^wasm_opt = \"$WASM_OPT_VERSION\"" Trunk.toml || {
  echo "Trunk.toml must pin wasm_opt = \"$WASM_OPT_VERSION\"" >&2
  exit 1
}
# Both tools are built once per machine, unoptimised: their release profiles
# (LTO, one codegen unit) suit binaries shipped to many, and their work here is
# light (wasm-opt, from npm, does the heavy part). Measured on the AVX2-only
# 2-core machine: Trunk 3 min 39 s unoptimised against 11 min at opt level 1
# and about 19 min as published, wasm-bindgen-cli 57 s against about 6 min;
# `trunk build --release` of the page (its cargo builds done) took 60 s with
# the unoptimised tools and 58 s with the optimised ones.
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install "$@"
}
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
  say "cargo install wasm-bindgen-cli $WB_VERSION (about a minute)"
  # Not --locked: its lock names a dependency version the registry no longer has.
  fast_install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "cargo install trunk $TRUNK_VERSION (about four minutes)"
  # 0.22.1 declares rustc 1.96.1 but builds and runs on 1.95.
  fast_install trunk --version "$TRUNK_VERSION" --locked --ignore-rust-version --force
fi

# npm tools, exact versions from package-lock.json: wasm-opt, playwright-core,
# puppeteer-core, and jsqr (reads the presenter view's QR code back).
if ! node_modules/.bin/wasm-opt --version 2>/dev/null | grep -q "($WASM_OPT_VERSION)" \
  || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/puppeteer-core ] || [ ! -d node_modules/jsqr ]; then
  say "npm ci (binaryen, playwright-core, puppeteer-core, jsqr)"
  npm ci --no-audit --no-fund --loglevel=error
fi
