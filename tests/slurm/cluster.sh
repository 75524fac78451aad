#!/bin/bash
# A real single-node Slurm cluster on this machine, for tests: munged,
# slurmctld and slurmd from Debian's munge and slurm-wlm, every file (key,
# sockets, state, logs) under one folder, the system's own configuration
# untouched. The node says it has 4 CPUs and 4 GPUs (stand-in device files),
# so an array of 4 one-GPU tasks runs at once as it would on a GPU node.
#
#   source tests/slurm/cluster.sh; cluster_start DIR; ...; cluster_stop
# Needs root (the daemons run as root here, as in a container).
cluster_start() {
  if [ "$(id -u)" != 0 ]; then
    echo "slurm: the test cluster's daemons run as root; run this as root" >&2
    return 1
  fi
  SLURM_TEST_DIR=$1
  local d=$SLURM_TEST_DIR host
  host=$(hostname -s)
  mkdir -p "$d/state" "$d/spool" "$d/munge"
  chmod 700 "$d/munge"
  # A fresh key: never the machine's own.
  head -c 1024 /dev/urandom > "$d/munge/munge.key"
  chmod 400 "$d/munge/munge.key"
  munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
    --seed-file="$d/munge/munged.seed"
  cat > "$d/slurm.conf" <<CONF
ClusterName=roentgen-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire + 1 s (the killed job's credential must
# expire first): 120 s by default, 10 here so the test need not wait.
AuthInfo=socket=$d/munge/munge.sock,cred_expire=10
CredType=cred/munge
SlurmctldPort=16917
SlurmdPort=16918
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=600
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=2000 Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  # Slurm drops a GPU without a device file; these stand in for
  # /dev/nvidia0..3 (character devices like /dev/null; nothing opens them).
  mkdir -p "$d/dev"
  for i in 0 1 2 3; do
    mknod "$d/dev/gpu$i" c 1 3 2>/dev/null || touch "$d/dev/gpu$i"
  done
  cat > "$d/gres.conf" <<CONF
AutoDetect=off
NodeName=$host Name=gpu File=$d/dev/gpu[0-3]
CONF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -i
  slurmd
  local i
  for i in $(seq 60); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then
      return 0
    fi
    sleep 1
  done
  echo "slurm: the node did not come up; logs in $d" >&2
  tail -n 20 "$d/slurmctld.log" "$d/slurmd.log" >&2
  return 1
}

cluster_stop() {
  local d=$SLURM_TEST_DIR pid
  timeout 10 scancel --user=root 2>/dev/null || true
  for pid in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge/munged.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 1
}
