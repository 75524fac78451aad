#!/usr/bin/env bash
# Speed, memory and correctness on a real GPU, in one command that fits a short
# lease of a lent machine (the `device` tool: 15 minutes in all, start
# included), so every lease yields the same comparable numbers.
#
#   scripts/device-bench.sh prepare     # here: release binaries and GPU tests (xz), Vulkan loader -> .device/
#   scripts/device-bench.sh run OUT     # there, with .device carried; writes OUT/*.json*
#   scripts/device-bench.sh run OUT --quick   # here, on lavapipe: the tiny model, to test this script
#
# `run` needs nothing but what `prepare` put in .device/: the machine there is
# bare (no Rust, maybe no Vulkan loader) and cannot reach the internet, so the
# full-size SD v1.5 model is made there by `weights-tools random`.
#
# It writes at most 8 files (what the tool brings back):
#   stages.jsonl   one line per stage: name, exit status, seconds
#   adapter.json   `roentgen adapter --json`: limits, features, f32+f16 self-check
#   tests.log      the op tests and the tiny-model goldens, run on that adapter
#   kernels.jsonl  `roentgen bench kernels --json`: every kernel on SD shapes, vs burn-wgpu
#   models.jsonl   UNet call, VAE decode and whole images at 512x512 (f16, f32,
#                  q8 weights held int8), peak GPU memory, and what a UNet call
#                  asks of the GPU API (dispatches, buffers, bind groups); each
#                  UNet line carries `profile`: one more call with every
#                  dispatch timed alone (GPU timestamps), by kernel family
#   plan.json      `roentgen plan` of the full-size model at 512x512 (f16, then q8)
#   submissions.json `roentgen bench submissions` at 512x512: every submission
#                  of a CFG step + text encoder + VAE decode timed on the GPU
#   summary.json   the above gathered, with each kernel's share of the best matmul rate
#   log.txt        every stage's output
set -uo pipefail
cd "$(dirname "$0")/.."
D=.device

# The GPU op tests and the tiny-model goldens (CPU-only test files stay home).
GPU_TESTS="attention conv2d coop elementwise epilogues layout_ops matmul norms q8 reuse scheduler selfcheck split_bindings submit_budget goldens no_churn burn_agrees"

prepare() {
    set -e
    cargo build --release -p roentgen-cli --features burn-peer -p weights-tools
    rm -rf "$D" /tmp/device-bundle
    mkdir -p "$D" /tmp/device-bundle/tests
    cp target/release/roentgen target/release/weights-tools /tmp/device-bundle/
    # Built once here; they find their data through the path they were
    # compiled in (run links it to the checkout there).
    cargo test --release -p roentgen-gpu -p roentgen-model -p roentgen-burn-peer --no-run --message-format=json |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])' |
        while read -r name exe; do
            case " $GPU_TESTS " in *" $name "*) cp "$exe" "/tmp/device-bundle/tests/$name" ;; esac
        done
    strip /tmp/device-bundle/roentgen /tmp/device-bundle/weights-tools /tmp/device-bundle/tests/*
    # xz: the working tree and what it carries travel within 64 MiB.
    tar -C /tmp/device-bundle -cf - . | xz -6 -T0 >"$D/bundle.tar.xz"
    pwd >"$D/srcdir"
    git rev-parse HEAD >"$D/commit"
    # The Vulkan loader, for a machine that has the NVIDIA driver but no loader.
    local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    mkdir -p /tmp/amd64/partial
    apt-get "${o[@]}" update >/dev/null
    # libglvnd too: NVIDIA's Vulkan driver (libGLX_nvidia) links libGLdispatch.
    (cd "$D" && apt-get "${o[@]}" download libvulkan1 libglvnd0 libegl1 libopengl0 libgl1 libglx0 libgles2 2>/dev/null)
    du -sh "$D"
    echo "next: the device tool's run with carry [\".device\"] and command"
    echo "  scripts/device-bench.sh run \$OUT"
}

run() {
    local out=${1:?usage: device-bench.sh run OUT [--quick]} quick=${2:-}
    mkdir -p "$out"
    local bin=/tmp/device-bundle deadline=$((SECONDS + ${BUDGET_S:-450}))
    [ -n "$quick" ] && bin=target/release
    if [ -z "$quick" ]; then
        mkdir -p $bin
        xz -dc "$D/bundle.tar.xz" | tar -C $bin -xf -
        # The loader and glvnd, where the image lacks them (never replacing its own).
        local f lib
        for f in "$D"/*.deb; do
            lib=$(dpkg-deb -c "$f" | grep -o 'lib[A-Za-z0-9_]*\.so\.[0-9]\+' | head -1)
            if [ -n "$lib" ] && ! ldconfig -p | grep -q "$lib "; then
                dpkg -x "$f" /
            fi
        done
        ldconfig
        [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH=/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        # The driver's own manifest (the lent machines mount it here).
        local icd
        for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
            /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
            if [ -f $icd ]; then
                export VK_DRIVER_FILES=$icd
                break
            fi
        done
        # The goldens read tests/ through the path the test binaries were built in.
        local src
        src=$(cat "$D/srcdir")
        if [ ! -e "$src" ]; then
            mkdir -p "$(dirname "$src")"
            ln -s "$PWD" "$src"
        fi
    fi

    # stage NAME LIMIT_S FILE CMD...: runs CMD with its stdout appended to FILE
    # (log.txt too), stopped at LIMIT_S or at the script's deadline.
    stage() {
        local name=$1 limit=$2 file=$3
        shift 3
        local left=$((deadline - SECONDS - 5))
        [ "$limit" -gt "$left" ] && limit=$left
        if [ "$limit" -lt 5 ]; then
            echo "{\"stage\":\"$name\",\"skipped\":\"out of time\"}" >>"$out/stages.jsonl"
            return
        fi
        printf '\n== %s (limit %s s)\n' "$name" "$limit" >>"$out/log.txt"
        local t=$SECONDS rc
        if [ "$file" = log.txt ]; then
            timeout "$limit" "$@" >>"$out/log.txt" 2>&1
        else
            timeout "$limit" "$@" > >(tee -a "$out/$file" >>"$out/log.txt") 2>>"$out/log.txt"
        fi
        rc=$?
        echo "{\"stage\":\"$name\",\"rc\":$rc,\"seconds\":$((SECONDS - t))}" >>"$out/stages.jsonl"
    }

    local model=/tmp/sd15-f16 size=512 tok=tests/goldens/tiny-sd2/model/tokenizer.json
    local kernels=(bench kernels --json)
    if [ -n "$quick" ]; then
        model=tests/goldens/tiny-sd2/model size=64 kernels=(bench kernels --json --quick --max-gflop 0.5 --no-burn)
    fi
    stage environment 20 log.txt bash -c 'nvidia-smi -L 2>/dev/null; uname -srm; cat '"$D"'/commit 2>/dev/null; nproc;
        ldconfig -p | grep -i vulkan; echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}";
        ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1;
        ldconfig -p | grep -i "GLdispatch\|GLX_nvidia"; cat "$VK_DRIVER_FILES";
        VK_LOADER_DEBUG=error,warn '"$bin"'/roentgen adapter 2>&1 | head -40'
    stage adapter 90 adapter.json "$bin/roentgen" adapter --json
    [ -z "$quick" ] && stage random-model 120 log.txt "$bin/weights-tools" random --arch sd-v1.5 --out "$model" --tokenizer "$tok" --dtype f16
    stage plan 60 plan.json "$bin/roentgen" plan --model "$model" --size "$size" --json
    # Each submission timed at the full size itself (the tiny model in --quick
    # carries too few FLOPs for the rated share).
    stage submissions 90 submissions.json "$bin/roentgen" bench submissions --model "$model" \
        --size "$size" --full-size "$size" --json ${quick:+--rated-share 0}
    for p in f16 f32; do
        stage "unet-$p" 90 models.jsonl "$bin/roentgen" bench unet --model "$model" --size "$size" --precision $p --iters 5 --json --profile
        stage "vae-$p" 90 models.jsonl "$bin/roentgen" bench vae --model "$model" --size "$size" --precision $p --iters 3 --json
        stage "image-25-steps-$p" 120 models.jsonl "$bin/roentgen" bench pipeline --model "$model" --size "$size" --precision $p --steps 25 --json
    done
    # q8 weights stay int8 on the GPU: memory and speed of the same model.
    if [ -z "$quick" ]; then
        stage random-model-q8 120 log.txt "$bin/weights-tools" random --arch sd-v1.5 --out /tmp/sd15-q8 --tokenizer "$tok" --dtype q8
        stage plan-q8 60 plan.json "$bin/roentgen" plan --model /tmp/sd15-q8 --size "$size" --json
        stage unet-q8 90 models.jsonl "$bin/roentgen" bench unet --model /tmp/sd15-q8 --size "$size" --iters 5 --json
        stage image-25-steps-q8 120 models.jsonl "$bin/roentgen" bench pipeline --model /tmp/sd15-q8 --size "$size" --steps 25 --json
    fi
    stage kernels 180 kernels.jsonl "$bin/roentgen" "${kernels[@]}"
    if [ -z "$quick" ]; then
        for t in "$bin"/tests/*; do
            stage "test-$(basename "$t")" 120 tests.log "$t" --test-threads 4
        done
        # Tensor cores where wgpu offers them (off by default: asked here).
        stage test-coop-enabled 60 tests.log env ROENTGEN_COOPERATIVE_MATRIX=1 "$bin/tests/coop" --nocapture
    fi
    summarize "$out"
}

# summary.json: the stages, the adapter, the model rows, and each kernel row with
# its rate as a share of the best matmul rate of the same storage type (the
# adapter's practical peak as our own GEMM measures it).
summarize() {
    python3 - "$1" <<'EOF'
import json, os, sys
out = sys.argv[1]
def lines(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    rows = []
    for l in open(p):
        l = l.strip()
        if l.startswith("{"):
            try:
                rows.append(json.loads(l))
            except ValueError:
                pass
    return rows
def whole(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None
kernels = lines("kernels.jsonl")
best = {}
for k in kernels:
    if k.get("op") == "matmul" and k.get("gflops"):
        best[k["path"]] = max(best.get(k["path"], 0), k["gflops"])
for k in kernels:
    if k.get("gflops") and best.get(k["path"]):
        k["share_of_best_matmul"] = round(k["gflops"] / best[k["path"]], 3)
adapter = whole("adapter.json") or {}
summary = {
    "stages": lines("stages.jsonl"),
    "adapter": {k: v for k, v in adapter.items() if k != "checks"},
    "self_check": adapter.get("checks"),
    "models": lines("models.jsonl"),
    "plan": lines("plan.json"),
    "submissions": lines("submissions.json"),
    "best_matmul_gflops": best,
    "kernels": kernels,
}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps({"stages": summary["stages"], "models": summary["models"], "best_matmul_gflops": best}, indent=1))
EOF
}

case "${1:-}" in
prepare) prepare ;;
run)
    shift
    run "$@"
    ;;
*)
    sed -n 2,23p "$0"
    exit 2
    ;;
esac
