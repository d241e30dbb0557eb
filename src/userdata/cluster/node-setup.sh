#!/usr/bin/env bash
# A compute node's first boot, run once by cloud-init (runcmd) after it wrote this file, its companions and
# /etc/trainium-spot/cluster.conf from the launch template's user data. In order, each step bounded and logged:
#   1. packages      slurmd, slurm-client (srun in batch scripts) and munge from Ubuntu's archive (Slurm 23.11 on
#                    24.04, the head's release). The package's own slurmd.service is masked first: it would start
#                    without a node name; trainium-spot-slurmd.service runs slurmd instead.
#   2. munge key     the cluster's key from its SSM SecureString (base64 of the key's bytes, written by the head at
#                    its first boot); while the parameter still holds the placeholder Terraform wrote, the step
#                    waits, up to TS_MUNGE_KEY_WAIT_SECONDS. Written 0400 munge:munge, then munge is (re)started.
#   3. /shared       mount-shared.sh with the cluster's storage.
#   4. slurmd        trainium-spot-slurmd.service, enabled and started: node-bootstrap.sh finds the node's Slurm
#                    name in its instance tag and runs slurmd in the foreground with the head as configuration
#                    server; systemd restarts it on failure.
# Any failure ends with a "FAILED at step ..." line: the node then never registers with slurmctld, which sets it
# DOWN when ResumeTimeout runs out; the resume-fail program then terminates its instance and Slurm requeues the
# job. The log: /var/log/trainium-spot-node-setup.log (and cloud-init's output log, and syslog).
# Test hooks: TS_ROOT (a directory standing for /), TS_MUNGE_KEY_WAIT_SECONDS, TS_MUNGE_KEY_POLL_SECONDS, and
# those of setup-lib.sh and mount-shared.sh.
set -uo pipefail
umask 022
PROGRAM=node-setup
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=src/userdata/cluster/setup-lib.sh
source "$HERE/setup-lib.sh"

readonly ROOT=${TS_ROOT:-}
readonly CONF=$ROOT/etc/trainium-spot/cluster.conf
readonly LOG_FILE=$ROOT/var/log/trainium-spot-node-setup.log
readonly MUNGE_KEY=$ROOT/etc/munge/munge.key
readonly MUNGE_KEY_WAIT_SECONDS=${TS_MUNGE_KEY_WAIT_SECONDS:-900}
readonly MUNGE_KEY_POLL_SECONDS=${TS_MUNGE_KEY_POLL_SECONDS:-15}
# munged refuses a key shorter than this (mungekey(8): 32 to 1024 bytes).
readonly MUNGE_KEY_MIN_BYTES=32
readonly SLURMD_UNIT=trainium-spot-slurmd.service

mkdir -p "${LOG_FILE%/*}"
exec > >(tee -a "$LOG_FILE") 2>&1

# shellcheck source=/dev/null # written by the launch template's user data (src/cluster/node-user-data.ts)
source "$CONF" || fail "cannot read $CONF"
: "${TS_REGION:?}" "${TS_HEAD_HOST:?}" "${TS_NODE_TAG_KEY:?}" "${TS_MUNGE_KEY_PARAMETER:?}" "${TS_MUNGE_KEY_UNSET:?}" "${TS_SHARED_STORAGE_TYPE:?}" "${TS_SHARED_STORAGE_SOURCE:?}"

# ---------------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------------
install_packages() {
  systemctl mask slurmd.service || return 1
  apt_install slurmd slurm-client munge
}

# munge_key_value: the parameter's value; fails when SSM cannot be asked (yet).
munge_key_value() {
  timeout 60 aws ssm get-parameter --region "$TS_REGION" --name "$TS_MUNGE_KEY_PARAMETER" --with-decryption \
    --query Parameter.Value --output text
}

install_munge_key() {
  local value='' waited=0 new=$MUNGE_KEY.trainium-spot.new size
  while :; do
    if value=$(munge_key_value); then
      [[ $value != "$TS_MUNGE_KEY_UNSET" ]] && break
      log "the munge key is not written yet (the head writes it at its first boot); waited ${waited} s"
    else
      log "could not read $TS_MUNGE_KEY_PARAMETER from SSM (the network through the head may not be up yet); waited ${waited} s"
    fi
    if ((waited >= MUNGE_KEY_WAIT_SECONDS)); then
      log "no munge key in $TS_MUNGE_KEY_PARAMETER after ${MUNGE_KEY_WAIT_SECONDS} s"
      return 1
    fi
    sleep "$MUNGE_KEY_POLL_SECONDS"
    waited=$((waited + MUNGE_KEY_POLL_SECONDS))
  done
  mkdir -p "${MUNGE_KEY%/*}"
  if ! base64 -d <<< "$value" > "$new" 2> /dev/null; then
    rm -f "$new"
    log "$TS_MUNGE_KEY_PARAMETER does not hold base64"
    return 1
  fi
  size=$(stat -c %s "$new")
  if ((size < MUNGE_KEY_MIN_BYTES)); then
    rm -f "$new"
    log "$TS_MUNGE_KEY_PARAMETER holds a ${size}-byte key; munge needs ${MUNGE_KEY_MIN_BYTES} or more"
    return 1
  fi
  chmod 0400 "$new" && chown munge:munge "$new" && mv "$new" "$MUNGE_KEY" || return 1
  log "wrote the cluster's munge key ($size bytes) to /etc/munge/munge.key"
  systemctl enable munge.service && systemctl restart munge.service
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
step packages install_packages
step munge-key install_munge_key
step shared-storage mount_shared
step slurmd start_slurmd
log "done: $SLURMD_UNIT started; the node registers with slurmctld under its instance's $TS_NODE_TAG_KEY tag"
