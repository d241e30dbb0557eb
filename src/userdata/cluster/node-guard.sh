#!/usr/bin/env bash
# A compute node never outlives its head. The head alone terminates nodes (Slurm's SuspendProgram, the reconcile
# timer), so a node whose head is stopped or broken would run on; this guard, run every minute by
# trainium-spot-node-guard.timer, powers the node off once slurmctld has not answered for TS_NODE_ORPHAN_MINUTES
# (cluster.conf) in a row. The launch template's shutdown behaviour is terminate, so the instance then ends.
# - The question: `scontrol ping`, bounded by timeout. scontrol(1): "Ping the primary and secondary slurmctld
#   daemon and report if they are responding"; it exits 1 unless one answered (_ping_slurmctld in
#   src/scontrol/scontrol.c, SchedMD/slurm). On a configless node scontrol reads slurmd's cached configuration,
#   /run/slurm/conf (https://slurm.schedmd.com/configless_slurm.html), so until slurmd has it from the head the
#   question fails too: the default limit exceeds ResumeTimeout for that reason (src/cluster/slurm.ts).
# - The state lives under /run on the boot clock (/proc/uptime): the boot-clock second of the first failure of the
#   current run of failures, and their count. An answer removes it; a reboot clears /run and restarts the clock,
#   so a rebooted node starts again.
# - Every run logs its decision (the journal of trainium-spot-node-guard.service). Power-off is asked once.
# Test hooks: TS_ROOT (a directory standing for /: cluster.conf and the state under it), TS_UPTIME_FILE,
# TS_NODE_GUARD_PING_SECONDS; scontrol and systemctl come from PATH.
set -uo pipefail

readonly ROOT=${TS_ROOT:-}
readonly CONF=$ROOT/etc/trainium-spot/cluster.conf
readonly STATE=$ROOT/run/trainium-spot/node-guard
readonly UPTIME_FILE=${TS_UPTIME_FILE:-/proc/uptime}
# One question at most this long: slurm_ping gives up after MessageTimeout (10 s) and its retries.
readonly PING_SECONDS=${TS_NODE_GUARD_PING_SECONDS:-30}

say() { printf 'trainium-spot node guard: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

# shellcheck source=/dev/null # written by the launch template's user data (src/cluster/node-user-data.ts)
source "$CONF" || fail "cannot read $CONF"
[[ ${TS_NODE_ORPHAN_MINUTES:-} =~ ^[1-9][0-9]*$ ]] || fail "TS_NODE_ORPHAN_MINUTES in $CONF is not a whole number of minutes"
readonly LIMIT_SECONDS=$((TS_NODE_ORPHAN_MINUTES * 60))
now=$(cut -d. -f1 "$UPTIME_FILE")
[[ $now =~ ^[0-9]+$ ]] || fail "cannot read the boot clock from $UPTIME_FILE"
mkdir -p "$STATE" || fail "cannot make $STATE"

if [[ -e $STATE/powered-off ]]; then
  say "power-off was asked at boot second $(cat "$STATE/powered-off"); nothing more to do"
  exit 0
fi

status=0
answer=$(timeout "$PING_SECONDS" scontrol ping 2>&1) || status=$?
answer=$(head -n 1 <<< "$answer")
if ((status == 0)); then
  if [[ -e $STATE/failures ]]; then
    say "slurmctld answers again after $(cat "$STATE/failures") failed pings in a row: count reset (${answer})"
    rm -f "$STATE/failures" "$STATE/failing-since"
  else
    say "slurmctld answers (${answer})"
  fi
  exit 0
fi

((status == 124)) && answer="no answer within ${PING_SECONDS} s"
since=$(cat "$STATE/failing-since" 2> /dev/null) || since=$now
failures=$(($(cat "$STATE/failures" 2> /dev/null || echo 0) + 1))
if ! { echo "$since" > "$STATE/failing-since" && echo "$failures" > "$STATE/failures"; }; then fail "cannot write $STATE"; fi
elapsed=$((now - since))
if ((elapsed < LIMIT_SECONDS)); then
  say "slurmctld did not answer (exit $status: ${answer:-no output}); failure $failures in a row, for ${elapsed} s" \
    "of the ${LIMIT_SECONDS} s after which this node powers off"
  exit 0
fi
say "slurmctld has not answered for ${elapsed} s ($failures pings in a row; last: ${answer:-no output}), past" \
  "TS_NODE_ORPHAN_MINUTES=$TS_NODE_ORPHAN_MINUTES: powering off; the instance terminates (its shutdown behaviour)"
systemctl poweroff || fail "systemctl poweroff failed; the next run asks again"
echo "$now" > "$STATE/powered-off"
