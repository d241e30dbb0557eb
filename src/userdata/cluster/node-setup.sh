#!/usr/bin/env bash
# A compute node's first boot, run once by cloud-init (runcmd) after it wrote this file, its companions and
# /etc/trainium-spot/cluster.conf from the launch template's user data. In order, each step bounded and logged:
#   0. guard         trainium-spot-node-guard.timer, enabled and started before anything else: from here on the node
#                    powers itself off when slurmctld has not answered for TS_NODE_ORPHAN_MINUTES (node-guard.sh),
#                    whether or not the steps below succeed.
#   1. packages      slurmd, slurm-client (srun in batch scripts) and munge from Ubuntu's archive (Slurm 23.11 on
#                    24.04, the head's release). The package's own slurmd.service is masked first: it would start
#                    without a node name; trainium-spot-slurmd.service runs slurmd instead.
#   2. munge key     munge-key.sh, as on the head: the cluster's key from its SSM SecureString (written by the head
#                    at its first boot), 0400 munge:munge, then munge (re)started. While the parameter still holds
#                    the placeholder Terraform wrote, or SSM cannot be reached, the step waits, up to
#                    TS_MUNGE_KEY_WAIT_SECONDS; a parameter that holds no key fails at once.
#   3. /shared       mount-shared.sh with the cluster's storage.
#   4. slurmd        trainium-spot-slurmd.service, enabled and started: node-bootstrap.sh finds the node's Slurm
#                    name in its instance tag and runs slurmd in the foreground with the head as configuration
#                    server; systemd restarts it on failure.
# Any failure ends with a "FAILED at step ..." line: the node then never registers with slurmctld, which sets it
# DOWN when ResumeTimeout runs out; the resume-fail program then terminates its instance and Slurm requeues the
# job. The log: /var/log/trainium-spot-node-setup.log (and cloud-init's output log, and syslog).
# Test hooks: TS_ROOT (a directory standing for /; passed to munge-key.sh as its TRAINIUM_SPOT_ROOT, so there it
# prints the chown and systemctl it would run), TS_MUNGE_KEY_WAIT_SECONDS, TS_MUNGE_KEY_POLL_SECONDS, and those
# of setup-lib.sh and mount-shared.sh.
set -uo pipefail
umask 022
PROGRAM=node-setup
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=src/userdata/cluster/setup-lib.sh
source "$HERE/setup-lib.sh"

readonly ROOT=${TS_ROOT:-}
readonly CONF=$ROOT/etc/trainium-spot/cluster.conf
readonly LOG_FILE=$ROOT/var/log/trainium-spot-node-setup.log
readonly MUNGE_KEY_WAIT_SECONDS=${TS_MUNGE_KEY_WAIT_SECONDS:-900}
readonly MUNGE_KEY_POLL_SECONDS=${TS_MUNGE_KEY_POLL_SECONDS:-15}
readonly SLURMD_UNIT=trainium-spot-slurmd.service
readonly GUARD_TIMER=trainium-spot-node-guard.timer

mkdir -p "${LOG_FILE%/*}"
exec > >(tee -a "$LOG_FILE") 2>&1

# shellcheck source=/dev/null # written by the launch template's user data (src/cluster/node-user-data.ts)
source "$CONF" || fail "cannot read $CONF"
: "${TS_REGION:?}" "${TS_HEAD_HOST:?}" "${TS_NODE_TAG_KEY:?}" "${TS_MUNGE_KEY_PARAMETER:?}" "${TS_MUNGE_KEY_UNSET:?}" "${TS_SHARED_STORAGE_TYPE:?}" "${TS_SHARED_STORAGE_SOURCE:?}"

# ---------------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------------
start_guard() {
  systemctl daemon-reload && systemctl enable --now "$GUARD_TIMER"
}

install_packages() {
  systemctl mask slurmd.service || return 1
  apt_install slurmd slurm-client munge
}

# install_munge_key: munge-key.sh (the head's own program) fetches the key, writes it and (re)starts munge; this
# step only waits while it says the key is not there yet (exit 3) or SSM was not reached (exit 4), up to
# TS_MUNGE_KEY_WAIT_SECONDS. Anything else (a parameter holding no key, SSM refusing) fails at once.
install_munge_key() {
  local waited=0 status
  while :; do
    status=0
    TRAINIUM_SPOT_ROOT=$ROOT TS_CLUSTER_CONF=$CONF "$HERE/munge-key.sh" || status=$?
    case $status in
      0) return 0 ;;
      3) log "the munge key is not written yet (the head writes it at its first boot); waited ${waited} s" ;;
      4) log "could not read $TS_MUNGE_KEY_PARAMETER from SSM (the network through the head may not be up yet); waited ${waited} s" ;;
      *) log "munge-key.sh refused the cluster's key (exit $status): waiting would not help"; return 1 ;;
    esac
    if ((waited >= MUNGE_KEY_WAIT_SECONDS)); then
      log "no munge key in $TS_MUNGE_KEY_PARAMETER after ${MUNGE_KEY_WAIT_SECONDS} s"
      return 1
    fi
    sleep "$MUNGE_KEY_POLL_SECONDS"
    waited=$((waited + MUNGE_KEY_POLL_SECONDS))
  done
}

mount_shared() {
  "$HERE/mount-shared.sh" "$TS_SHARED_STORAGE_TYPE" "$TS_SHARED_STORAGE_SOURCE" /shared
}

start_slurmd() {
  systemctl daemon-reload && systemctl enable --now "$SLURMD_UNIT"
}

# step NAME FUNCTION: runs one step; on failure, the line that says the node will not join, and exit 1.
step() {
  local started=$SECONDS
  log "step $1: started"
  if ! "$2"; then
    fail "at step $1 after $((SECONDS - started)) s: this node will not register with Slurm;" \
      "slurmctld sets it DOWN when ResumeTimeout runs out and its instance is terminated"
  fi
  log "step $1: done in $((SECONDS - started)) s"
}

log "setting up Slurm compute node (head $TS_HEAD_HOST, region $TS_REGION)"
step guard start_guard
step packages install_packages
step munge-key install_munge_key
step shared-storage mount_shared
step slurmd start_slurmd
log "done: $SLURMD_UNIT started; the node registers with slurmctld under its instance's $TS_NODE_TAG_KEY tag"
