#!/usr/bin/env bash
# Stop the single-node test cluster started by start-local-cluster.sh: slurmd, slurmctld and,
# only if our start script launched it, munged. Processes are ended by their pid files, never by
# name. Safe to run when nothing is running. Removes the slurm.conf the start script rendered (the
# next start renders it again and wipes the state): left behind, it names a controller that is no
# longer there, and `scontrol show config`, which the Snakemake SLURM plugin runs at import, waits
# 9 s for it in every later `snakemake` call. The logs stay.
set -euo pipefail
# shellcheck source=tools/slurm/common.sh
source "$(dirname "$0")/common.sh"

need_root
stop_slurm_daemons
if [ -e "$MUNGE_STARTED_MARK" ]; then
  stop_daemon "$MUNGED_PID" munged
  rm -f "$MUNGE_STARTED_MARK"
fi
if [ -e "$SLURM_CONF_FILE" ] && conf_is_ours; then
  rm -f "$SLURM_CONF_FILE"
fi
log "stopped"
