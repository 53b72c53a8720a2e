# shellcheck shell=bash
# Shared by start-local-cluster.sh and stop-local-cluster.sh (sourced, not run).
# Paths follow Debian's Slurm 22.05 packages so that sinfo/srun/sbatch find the cluster without
# SLURM_CONF; the daemons are started by hand because CI containers have no systemd.

# shellcheck disable=SC2034  # used by the scripts that source this file
SLURM_CONF_FILE=${SLURM_CONF:-/etc/slurm/slurm.conf}  # where every Slurm tool looks for it
SLURM_CONF_TEMPLATE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/slurm.conf.in
SLURMCTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
# shellcheck disable=SC2034
MUNGED_PID=/run/munge/munged.pid
# Present only when our start script launched munged, so stop never ends a munge it did not start.
STATE_DIR=/run/slurm-local
# shellcheck disable=SC2034
MUNGE_STARTED_MARK=$STATE_DIR/munged.started
SLURMCTLD_LOG=/var/log/slurm/slurmctld.log
SLURMD_LOG=/var/log/slurm/slurmd.log

# Whether the slurm.conf in place is one start-local-cluster.sh rendered (its first line).
conf_is_ours() { [ "$(head -n 1 "$SLURM_CONF_FILE")" = "$(head -n 1 "$SLURM_CONF_TEMPLATE")" ]; }

log() { printf '[slurm-local] %s\n' "$*" >&2; }

die() {
  log "ERROR: $*"
  # The controller log nearly always says why (bad config, node drained, auth failure).
  for f in "$SLURMCTLD_LOG" "$SLURMD_LOG"; do
    if [ -r "$f" ]; then
      log "---- last lines of $f"
      tail -n 40 "$f" >&2
    fi
  done
  exit 1
}

need_root() {
  [ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root (installs packages, starts daemons)"; exit 1; }
}

# A pid from a pid file, only if that process is alive and is the daemon we expect (pid files
# survive crashes, and the pid may since belong to an unrelated process).
live_pid() {
  local pidfile=$1 name=$2 pid
  [ -r "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  echo "$pid"
}

# Stop one daemon by its pid file: SIGTERM, a bounded wait, then SIGKILL.
stop_daemon() {
  local pidfile=$1 name=$2 pid
  if ! pid=$(live_pid "$pidfile" "$name"); then
    rm -f "$pidfile"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 10 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

stop_slurm_daemons() {
  # slurmd first: slurmctld would otherwise mark the node down while it shuts down.
  stop_daemon "$SLURMD_PID" slurmd
  stop_daemon "$SLURMCTLD_PID" slurmctld
}
