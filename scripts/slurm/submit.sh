#!/usr/bin/env bash
# Submits a sharded leaklab sweep to Slurm: an array of SHARDS tasks (sweep.sbatch), then one
# merge job (merge.sbatch) that runs only if every task succeeded.
#
#   submit.sh [--wait] [--timeout SECONDS] LEAKLAB SWEEP_FILE SHARDS OUT
#
# Prints `array_job=ID` and `merge_job=ID`. With --wait, polls squeue (no accounting database
# needed) until the merge job has finished, at most --timeout seconds (default 600), and exits 0
# only if every task and the merge completed; 1 if a job failed (the merge is then cancelled),
# 3 on timeout (jobs are left as they are). LEAKLAB, SWEEP_FILE and OUT must be on a file system
# that the compute nodes see; logs go to OUT/logs. Site settings come from sbatch's own
# variables: SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...
set -euo pipefail

usage() {
  echo "usage: $0 [--wait] [--timeout SECONDS] LEAKLAB SWEEP_FILE SHARDS OUT" >&2
  exit 2
}

wait=0
timeout_s=600
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait=1 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift ;;
    --timeout=*) timeout_s=${1#--timeout=} ;;
    -h | --help) usage ;;
    --) shift; args+=("$@"); break ;;
    -*) echo "submit.sh: unknown option $1" >&2; usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ ${#args[@]} -eq 4 ] || usage
[[ "$timeout_s" =~ ^[0-9]+$ ]] || { echo "submit.sh: --timeout needs whole seconds" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
LEAKLAB=${args[0]}
SWEEP_FILE=${args[1]}
SHARDS=${args[2]}
OUT=${args[3]}

if [[ "$LEAKLAB" != */* ]]; then
  LEAKLAB=$(command -v "$LEAKLAB") || { echo "submit.sh: $LEAKLAB not found in PATH" >&2; exit 2; }
fi
LEAKLAB=$(readlink -f "$LEAKLAB")
[ -x "$LEAKLAB" ] || { echo "submit.sh: $LEAKLAB is not executable" >&2; exit 2; }
[ -f "$SWEEP_FILE" ] || { echo "submit.sh: no sweep file $SWEEP_FILE" >&2; exit 2; }
SWEEP_FILE=$(readlink -f "$SWEEP_FILE")
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: SHARDS must be a positive integer" >&2; exit 2; }
mkdir -p "$OUT/logs" # Slurm does not create the folders of --output
OUT=$(cd "$OUT" && pwd -P)
export LEAKLAB SWEEP_FILE SHARDS OUT

array_job=$(sbatch --parsable --export=ALL --array="0-$((SHARDS - 1))" \
  --output="$OUT/logs/sweep-%A_%a.out" "$here/sweep.sbatch")
array_job=${array_job%%;*} # --parsable prints "id" or "id;cluster"
if ! merge_job=$(sbatch --parsable --export=ALL --dependency="afterok:$array_job" \
  --kill-on-invalid-dep=yes --output="$OUT/logs/merge-%j.out" "$here/merge.sbatch"); then
  scancel "$array_job" || true
  echo "submit.sh: submitting the merge job failed; cancelled array job $array_job" >&2
  exit 1
fi
merge_job=${merge_job%%;*}
echo "array_job=$array_job"
echo "merge_job=$merge_job"

[ "$wait" -eq 1 ] || exit 0

# States of every array task and of the merge job, "id state reason" per line.
states() {
  timeout 30 squeue --noheader --states=all --array --jobs="$array_job,$merge_job" \
    --format='%i %T %r' 2>/dev/null
}

running_state() {
  case "$1" in
    PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | REQUEUED | REQUEUE_FED | REQUEUE_HOLD | \
      RESIZING | SIGNALING | STAGE_OUT | STOPPED | RESV_DEL_HOLD) return 0 ;;
    *) return 1 ;;
  esac
}

deadline=$((SECONDS + timeout_s))
last=""
seen_merge=0
while :; do
  last=$(states || true)
  merge_state=""
  merge_reason=""
  failed=""
  while read -r id state reason; do
    [ -n "$id" ] || continue
    if [ "$id" = "$merge_job" ]; then
      merge_state=$state
      merge_reason=$reason
    elif [ "$state" != COMPLETED ] && ! running_state "$state"; then
      failed+=" $id:$state"
    fi
  done <<<"$last"
  [ -z "$merge_state" ] || seen_merge=1

  if [ -n "$failed" ]; then
    echo "submit.sh: sweep task(s) failed:$failed (logs in $OUT/logs)" >&2
    if running_state "$merge_state"; then scancel "$merge_job" 2>/dev/null || true; fi
    exit 1
  fi
  case "$merge_state" in
    COMPLETED)
      echo "submit.sh: all ${SHARDS} sweep tasks and the merge completed; results in $OUT/merged" >&2
      exit 0
      ;;
    "")
      if [ "$seen_merge" -eq 1 ]; then
        echo "submit.sh: merge job $merge_job is no longer known to Slurm (purged?)" >&2
        exit 1
      fi
      ;;
    *)
      if [ "$merge_reason" = DependencyNeverSatisfied ]; then
        scancel "$merge_job" 2>/dev/null || true
        echo "submit.sh: merge job $merge_job can never run (a sweep task failed; logs in $OUT/logs)" >&2
        exit 1
      fi
      if ! running_state "$merge_state"; then
        echo "submit.sh: merge job $merge_job ended $merge_state (log: $OUT/logs/merge-$merge_job.out)" >&2
        exit 1
      fi
      ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "submit.sh: timed out after ${timeout_s}s; jobs left as they are:" >&2
    echo "$last" >&2
    exit 3
  fi
  sleep 2
done
