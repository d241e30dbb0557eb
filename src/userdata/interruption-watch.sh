#!/usr/bin/env bash
# trainium-spot-interruption: when AWS is about to take this spot box, warn everyone and run the hooks.
# Every POLL_SECONDS (5, as the EC2 User Guide recommends) it reads, with an IMDSv2 token,
# /latest/meta-data/spot/instance-action and /latest/meta-data/events/recommendations/rebalance: 404 until
# a notice is up. On each new notice: wall, the journal, and every executable in HOOK_DIR at once with the
# kind and the notice's JSON, each cut off after HOOK_TIMEOUT_SECONDS to end within the two minutes. A
# HOOK_DIR that is missing or not a directory is logged, never fatal. TS_* overrides are for the tests.
set -uo pipefail

IMDS=${TS_IMDS_URL:-http://169.254.169.254}
HOOK_DIR=${TS_HOOK_DIR:-/etc/trainium-spot/on-interruption.d}
POLL_SECONDS=${TS_POLL_SECONDS:-5}
HOOK_TIMEOUT_SECONDS=${TS_HOOK_TIMEOUT_SECONDS:-90}
# 0 runs for ever; the tests stop after a few polls.
MAX_POLLS=${TS_MAX_POLLS:-0}

log() { printf '%s\n' "$*"; }

# An IMDSv2 session token, renewed an hour before its six hours run out or when IMDS refuses it.
TOKEN=''
TOKEN_POLLS=0
refresh_token() {
  ((TOKEN_POLLS > 0)) && [[ -n $TOKEN ]] && TOKEN_POLLS=$((TOKEN_POLLS - 1)) && return 0
  TOKEN=$(curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token") || TOKEN=''
  TOKEN_POLLS=$((5 * 3600 / (POLL_SECONDS > 0 ? POLL_SECONDS : 1)))
}

# A metadata path's body on 200; status 1 on 404 or any failure, 2 when the token was refused (401).
imds_get() {
  local body status
  [[ -n $TOKEN ]] || return 1
  body=$(curl -s -m 2 -w '\n%{http_code}' -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS$1") || return 1
  status=${body##*$'\n'}
  body=${body%$'\n'*}
  [[ $status == 401 ]] && return 2
  [[ $status == 200 ]] || return 1
  printf '%s' "$body"
}

run_hooks() {
  local hook status
  if [[ ! -e $HOOK_DIR ]]; then
    log "no hooks: $HOOK_DIR does not exist"
    return 0
  fi
  if [[ ! -d $HOOK_DIR ]]; then
    log "WARNING: $HOOK_DIR is not a directory; no hooks run"
    return 0
  fi
  # All at once, each cut off alone: one slow hook must not eat the others' two minutes.
  local -A pids=()
  for hook in "$HOOK_DIR"/*; do
    [[ -f $hook && -x $hook ]] || continue
    timeout -k 5 "$HOOK_TIMEOUT_SECONDS" "$hook" "$@" </dev/null &
    pids[$hook]=$!
  done
  for hook in "${!pids[@]}"; do
    status=0
    wait "${pids[$hook]}" || status=$?
    log "hook $hook: exit $status"
  done
}

# $1 kind (interruption|rebalance), $2 the notice's JSON.
on_notice() {
  local message="trainium-spot: AWS $1 notice for this spot box: $2. Save your work now; hooks in $HOOK_DIR are running."
  log "$message"
  timeout 10 wall "$message" 2>/dev/null || log 'WARNING: wall failed'
  run_hooks "$1" "$2"
}

main() {
  local polls=0 notice status kind path
  local -A seen=()
  log "watching $IMDS for spot interruption notices and rebalance recommendations every ${POLL_SECONDS}s"
  while ((MAX_POLLS == 0 || polls < MAX_POLLS)); do
    polls=$((polls + 1))
    refresh_token
    for kind in interruption rebalance; do
      path=/latest/meta-data/spot/instance-action
      [[ $kind == rebalance ]] && path=/latest/meta-data/events/recommendations/rebalance
      status=0
      notice=$(imds_get "$path") || status=$?
      if ((status == 2)); then TOKEN_POLLS=0; fi
      # The same notice stays up until the box is gone: act on it once.
      if ((status == 0)) && [[ $notice != "${seen[$kind]-}" ]]; then
        seen[$kind]=$notice
        on_notice "$kind" "$notice"
      fi
    done
    if ((MAX_POLLS == 0 || polls < MAX_POLLS)); then sleep "$POLL_SECONDS"; fi
  done
}

main "$@"
