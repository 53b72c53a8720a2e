#!/usr/bin/env bash
# Stop the single-node test cluster started by start-local-cluster.sh: slurmd, slurmctld and,
# only if our start script launched it, munged. Processes are ended by their pid files, never by
# name. Safe to run when nothing is running. Leaves /etc/slurm/slurm.conf and the logs in place
# (the next start replaces the config and wipes the state).
set -euo pipefail
# shellcheck source=tools/slurm/common.sh
source "$(dirname "$0")/common.sh"

need_root
stop_slurm_daemons
if [ -e "$MUNGE_STARTED_MARK" ]; then
  stop_daemon "$MUNGED_PID" munged
  rm -f "$MUNGE_STARTED_MARK"
fi
log "stopped"
