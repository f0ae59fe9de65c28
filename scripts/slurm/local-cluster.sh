#!/usr/bin/env bash
# A real single-node Slurm cluster (munged + slurmctld + slurmd) that lives entirely in one
# directory, for tests: nothing is written outside DIR and /etc is not touched.
#
#   local-cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf` on its last line
#   local-cluster.sh stop DIR    # cancels jobs, stops the daemons by pid file, bounded in time
#
# Needs the Debian packages munge, slurmctld, slurmd and slurm-client (Slurm 22.05 on Debian 12),
# and root (SlurmUser=root; munged runs with --force). Daemons listen on free ports chosen at
# start; the node and the controller are addressed as 127.0.0.1, so hostname resolution is not
# needed. Process tracking is proctrack/linuxproc and there is no task plugin, so no cgroup or
# systemd is needed either (works in containers). No accounting: use squeue/scontrol.
set -euo pipefail

START_TIMEOUT="${LOCAL_SLURM_START_TIMEOUT:-60}" # seconds until the node must be idle
STOP_GRACE="${LOCAL_SLURM_STOP_GRACE:-10}"       # seconds between SIGTERM and SIGKILL

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}

log() { echo "local-cluster: $*" >&2; }

# Ports in use (any state, any address) from /proc/net/tcp{,6}: no ss/netstat needed.
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" 'NR>1 && substr($2, length($2)-4) == p {f=1} END {exit !f}'
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000)) # below the ephemeral range
    if ! port_in_use "$p" && [ "$p" != "${1:-0}" ]; then
      echo "$p"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

# Whether pid is a live process; a zombie is not (pid 1 of a container may reap late).
alive() {
  local st
  st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# The pid in DIR/NAME.pid if that process is alive and is really NAME (guards against reuse).
pid_of() {
  local dir=$1 name=$2 pid comm
  [ -s "$dir/$name.pid" ] || return 1
  pid=$(tr -dc '0-9' <"$dir/$name.pid")
  [ -n "$pid" ] && alive "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  case "$comm" in "$name"*) echo "$pid" ;; *) return 1 ;; esac
}

# Waits (bounded) for a pid file naming a live process.
wait_pid() {
  local dir=$1 name=$2
  for _ in $(seq 1 100); do
    pid_of "$dir" "$name" >/dev/null && return 0
    sleep 0.1
  done
  log "$name did not start; see $dir/log/$name.log"
  tail -n 20 "$dir/log/$name.log" >&2 2>/dev/null || true
  return 1
}

# SIGTERM to every pid given, then SIGKILL to those still alive after STOP_GRACE seconds.
stop_pids() {
  local pid still=()
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 $((STOP_GRACE * 10))); do
    still=()
    for pid in "$@"; do alive "$pid" && still+=("$pid"); done
    [ ${#still[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  log "still alive after ${STOP_GRACE}s, sending SIGKILL: ${still[*]}"
  kill -KILL "${still[@]}" 2>/dev/null || true
  sleep 0.2
}

# Processes of this cluster's jobs that outlived slurmd: slurmstepd and job processes, found by
# SLURM_CONF=DIR/slurm.conf in their environment (slurmd sets it for slurmstepd, and jobs carry
# it with SLURM_JOB_ID). This script and its ancestors are never included.
cluster_pids() {
  local dir=$1 p env comm skip=" " q=$$
  while [ -n "$q" ] && [ "$q" -gt 1 ]; do
    skip+="$q "
    q=$(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null || true)
  done
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$skip" == *" $p "* ]] && continue
    env=$({ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$dir/slurm.conf" <<<"$env" || continue
    comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    if [ "$comm" = slurmstepd ] || grep -q '^SLURM_JOB_ID=' <<<"$env"; then
      echo "$p"
    fi
  done
}

do_stop() {
  local dir=$1 pid pids=() daemons=() name
  export SLURM_CONF="$dir/slurm.conf"
  # Cancel every job first, so slurmstepd ends the job processes itself (bounded).
  if pid_of "$dir" slurmctld >/dev/null && pid_of "$dir" slurmd >/dev/null && [ -f "$SLURM_CONF" ]; then
    for name in $(timeout 10 squeue -h -o %u 2>/dev/null | sort -u || true); do
      timeout 10 scancel --quiet --user="$name" >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 50); do
      [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.2
    done
  fi
  # The three daemons stop independently (slurmctld saves its state without MUNGE): all at once.
  daemons=()
  for name in slurmd slurmctld munged; do
    if pid=$(pid_of "$dir" "$name"); then daemons+=("$pid"); fi
  done
  stop_pids "${daemons[@]}"
  # Anything left from this cluster (slurmstepd, job processes), e.g. after slurmd died.
  mapfile -t pids < <(cluster_pids "$dir")
  if [ ${#pids[@]} -gt 0 ]; then
    log "ending leftover job processes: ${pids[*]}"
    STOP_GRACE=2 stop_pids "${pids[@]}" # slurmstepd ignores SIGTERM: it gets SIGKILL
  fi
  # Give the reaper a moment (pid 1 of some containers reaps late), so that a check right
  # after `stop` sees no zombie either; bounded, and harmless if one stays.
  for _ in $(seq 1 50); do
    name=""
    for pid in "${daemons[@]}" "${pids[@]}"; do [ -e "/proc/$pid" ] && name=$pid; done
    [ -n "$name" ] || break
    sleep 0.1
  done
  rm -f "$dir/munged.pid" "$dir/slurmctld.pid" "$dir/slurmd.pid"
}

do_start() {
  local dir=$1 node cpus mem ctld_port d_port state
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if pid_of "$dir" slurmctld >/dev/null || pid_of "$dir" munged >/dev/null; then
    log "a cluster is already running in $dir; stop it first"
    return 1
  fi
  if [ ${#dir} -gt 80 ]; then # unix socket paths (munge, slurmd) must stay under 108 bytes
    log "DIR path too long for unix sockets (${#dir} > 80 characters): $dir"
    return 1
  fi
  mkdir -p "$dir/log" "$dir/state" "$dir/spool/slurmd" "$dir/munge"
  chmod 0700 "$dir/munge"

  # On any failure below, take down what was started.
  trap 'log "start failed"; do_stop "$dir" || true' ERR

  # MUNGE: own key, socket, pid, log and seed; --force because we run as root.
  rm -f "$dir/munge.key"
  dd if=/dev/urandom of="$dir/munge.key" bs=1 count=1024 status=none
  chmod 0400 "$dir/munge.key"
  munged --force \
    --key-file="$dir/munge.key" \
    --socket="$dir/munge.socket" \
    --pid-file="$dir/munged.pid" \
    --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" </dev/null >"$dir/log/munged.out" 2>&1
  wait_pid "$dir" munged
  for _ in $(seq 1 50); do [ -S "$dir/munge.socket" ] && break; sleep 0.1; done

  node=$(hostname -s)
  cpus=$(nproc)
  mem=1024 # MB; modest so that it is never above what the machine has
  ctld_port=$(free_port)
  d_port=$(free_port "$ctld_port")

  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm/local-cluster.sh: a single-node test cluster living in $dir
ClusterName=leaklab-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=10 State=UP
EOF

  export SLURM_CONF="$dir/slurm.conf"
  # Daemons get no stdin/stdout of ours, so a caller reading our output sees EOF when we exit.
  (cd "$dir" && slurmctld -f "$dir/slurm.conf" -c) </dev/null >"$dir/log/slurmctld.out" 2>&1
  wait_pid "$dir" slurmctld
  (cd "$dir" && slurmd -f "$dir/slurm.conf" -N "$node") </dev/null >"$dir/log/slurmd.out" 2>&1
  wait_pid "$dir" slurmd

  state=""
  for _ in $(seq 1 $((START_TIMEOUT * 2))); do
    state=$(timeout 10 sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
    case "$state" in
      idle) break ;;
      drain* | down*)
        # ReturnToService=2 brings it back by itself; this covers a stale state.
        timeout 10 scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  if [ "$state" != "idle" ]; then
    log "node $node not idle after ${START_TIMEOUT}s (state: ${state:-unknown})"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null || true
    false
  fi
  trap - ERR
  log "cluster up in $dir (node $node, $cpus CPUs, ports $ctld_port/$d_port)"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

[ $# -eq 2 ] || usage
case "$1" in
  start) do_start "$2" ;;
  stop)
    [ -d "$2" ] || { log "no such directory: $2"; exit 0; }
    do_stop "$(cd "$2" && pwd -P)"
    ;;
  *) usage ;;
esac
