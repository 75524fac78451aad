#!/bin/bash
# `roentgen dataset` on a real Slurm cluster (issue 26): a single-node
# cluster on this machine (tests/slurm/cluster.sh), the data set of
# tests/slurm/spec.toml (24 images from the bundled demo model) queued by
# deploy/slurm/submit.sh as a 4-task array and a dependent merge, task 1
# requeued after its first image (killed mid-image, as a pre-emption does).
# Checks: every task completed and task 1 started twice, the merge
# completed (every image once, every row matching its image's metadata),
# and the images and labels.csv are byte for byte a single process's.
#
#   tests/slurm/run.sh [ROENTGEN]   (default target/debug/roentgen)
set -euo pipefail
cd "$(dirname "$0")/../.."
roentgen=$(realpath "${1:-target/debug/roentgen}")
model=$(realpath demo-model/model)
spec=tests/slurm/spec.toml
tasks=4
t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/roentgen-slurm.XXXXXX")
# lavapipe asks for a runtime folder.
export XDG_RUNTIME_DIR=$work
source tests/slurm/cluster.sh

fail() {
  echo "slurm test: $*" >&2
  echo "--- logs ($work)" >&2
  tail -n 30 "$work"/ds/logs/* "$work/cluster/slurmctld.log" >&2 || true
  exit 1
}
trap 'cluster_stop; [ -n "${KEEP_SLURM_TEST:-}" ] || rm -rf "$work"' EXIT

cluster_start "$work/cluster" || fail "the cluster did not start"
echo "slurm: cluster up in $((SECONDS - t0)) s ($(sinfo -h -o '%N %c CPUs %G'))"

read -r array merge < <(ROENTGEN=$roentgen deploy/slurm/submit.sh "$model" "$spec" "$work/ds" "$tasks")
echo "slurm: array job $array ($tasks tasks), merge job $merge"

# Task 1 is requeued as soon as it has finished one image: it is killed in
# the middle of its second, and must skip the first when it starts again.
part=$work/ds/parts/shard-1-of-$tasks.csv
for _ in $(seq 300); do
  [ -f "$part" ] && [ "$(wc -l < "$part")" -ge 2 ] && break
  sleep 1
done
[ "$(wc -l < "$part")" -ge 2 ] || fail "task 1 made no image in 300 s"
scontrol requeue "${array}_1"
echo "slurm: requeued task ${array}_1 after its first image ($((SECONDS - t0)) s)"

# The same data set from one process, while the cluster works.
"$roentgen" dataset make --model "$model" --spec "$spec" --out "$work/one" > /dev/null 2> "$work/one.log" \
  || { cat "$work/one.log" >&2; fail "the single-process run failed"; }
"$roentgen" dataset merge --out "$work/one" 2>> "$work/one.log" \
  || { cat "$work/one.log" >&2; fail "the single-process merge failed"; }

for _ in $(seq 600); do
  [ -z "$(squeue -h)" ] && break
  sleep 1
done
[ -z "$(squeue -h)" ] || fail "jobs still queued after 600 s: $(squeue -h)"
echo "slurm: every job ended ($((SECONDS - t0)) s)"

states=$(scontrol -o show job "$array" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | tr -s ' ')
[ "$states" = " $tasks JobState=COMPLETED" ] || fail "array tasks: $states"
scontrol -o show job "${array}_1" | grep -q 'Restarts=1' || fail "task 1 was not restarted"
[ "$(grep -c 'roentgen dataset: task 1/4' "$work"/ds/logs/dataset-"${array}"_1.out)" = 2 ] \
  || fail "task 1's log does not show two starts"
grep -q '1 already there and verified' "$work"/ds/logs/dataset-"${array}"_1.out \
  || fail "task 1's second start did not skip its first image"
scontrol -o show job "$merge" | grep -q 'JobState=COMPLETED' || fail "the merge job did not complete"
grep -q '24 images, each once and as its row says' "$work"/ds/logs/merge-"$merge".out \
  || fail "the merge did not check 24 images"

total=$(($(wc -l < "$work/ds/labels.csv") - 1))
[ "$total" = 24 ] || fail "labels.csv has $total rows"
[ "$(find "$work/ds/images" -name '*.png' | wc -l)" = 24 ] || fail "not 24 images"
cmp "$work/ds/labels.csv" "$work/one/labels.csv" || fail "labels.csv differs from the single process's"
for png in "$work"/one/images/*/*.png; do
  cmp -s "$png" "$work/ds/images/${png#"$work"/one/images/}" \
    || fail "${png#"$work"/one/} differs from the single process's"
done
echo "slurm: 24 images and labels.csv equal to one process's, byte for byte; passed in $((SECONDS - t0)) s"
