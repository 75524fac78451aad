#!/bin/bash
# Queues a RoentGen data set on Slurm: an array of TASKS shards (one GPU
# each) and the merge after them. Prints the two job ids.
#
#   deploy/slurm/submit.sh MODEL SPEC OUT TASKS [sbatch options for the array...]
#
# MODEL is a converted model folder or URL, SPEC the data set spec (TOML),
# OUT a folder every node can write (a shared file system). Extra options go
# to the array (a partition, an account, --time, a throttle like
# --array=0-99%8 is made from TASKS; add %N with ROENTGEN_THROTTLE=N).
# The roentgen binary is ROENTGEN, or `roentgen` on the nodes' PATH.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
model=$1 spec=$2 out=$3 tasks=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$spec" ] || { echo "no spec at $spec" >&2; exit 2; }
case $tasks in '' | *[!0-9]* | 0) echo "TASKS must be a whole number from 1" >&2; exit 2 ;; esac
spec=$(realpath "$spec")
mkdir -p "$out"
out=$(realpath "$out")
case $model in http://* | https://*) ;; *) model=$(realpath "$model") ;; esac
roentgen=${ROENTGEN:-roentgen}
case $roentgen in */*) roentgen=$(realpath "$roentgen") ;; esac
export ROENTGEN_MODEL=$model ROENTGEN_SPEC=$spec ROENTGEN_OUT=$out ROENTGEN=$roentgen
array="0-$((tasks - 1))${ROENTGEN_THROTTLE:+%$ROENTGEN_THROTTLE}"
# Logs in OUT/logs, one per task (appended to across restarts).
mkdir -p "$out/logs"
array_id=$(sbatch --parsable --array="$array" --export=ALL --chdir="$out" \
  --output="$out/logs/dataset-%A_%a.out" "$@" "$here/dataset.sbatch")
array_id=${array_id%%;*}
merge_id=$(sbatch --parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --export=ALL --chdir="$out" --output="$out/logs/merge-%j.out" "$here/merge.sbatch")
merge_id=${merge_id%%;*}
echo "$array_id $merge_id"
