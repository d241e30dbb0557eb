#!/usr/bin/env bats
# The compute node's orphan guard (node-guard.sh), one run a minute as its timer runs it: the node's own copy, from
# the user data src/cluster/node-user-data.ts renders, on a fake root. The boot clock is a file the test advances,
# scontrol answers, fails or hangs as the test says, systemctl records.
# shellcheck disable=SC2030,SC2031 # each test changes its own environment

load node_helper

setup_file() {
  export TEMPLATE_ROOT=$BATS_FILE_TMPDIR/root
  local props='{"cluster": {"name": "lab", "clusterName": "lab", "region": "us-east-2", "market": "spot", "headHost": "10.42.0.10"},
    "mungeKeyParameterName": "/trainium-spot/lab/cluster/munge-key", "mungeKeyUnset": "unset", "sharedStorage": {"type": "efs", "mountSource": "fs-1.efs:/"}}'
  (cd "$REPO_ROOT" && node_modules/.bin/ts-node --transpile-only "$NODE_TESTS/node-user-data-root.ts" "$TEMPLATE_ROOT" "$props") \
    > /dev/null 2> "$BATS_FILE_TMPDIR/render.log" || { cat "$BATS_FILE_TMPDIR/render.log" >&2; return 1; }
}

setup() {
  GUARD=$TEMPLATE_ROOT/usr/local/lib/trainium-spot/slurm/node-guard.sh
  export TS_FAKE=$BATS_TEST_TMPDIR/fake TS_ROOT=$BATS_TEST_TMPDIR/root TS_UPTIME_FILE=$BATS_TEST_TMPDIR/uptime
  STUBS=$BATS_TEST_TMPDIR/bin
  mkdir -p "$TS_FAKE" "$TS_ROOT/etc/trainium-spot"
  printf "TS_REGION='us-east-2'\nTS_NODE_ORPHAN_MINUTES='3'\n" > "$TS_ROOT/etc/trainium-spot/cluster.conf"
  node_stubs "$STUBS" systemctl
  # scontrol: "up" answers as scontrol ping does, "down" fails as it does with no controller, "hang" never returns.
  cat > "$STUBS/scontrol" << 'STUB'
#!/bin/sh
printf 'scontrol %s\n' "$*" >> "$TS_FAKE/calls"
case $(cat "$TS_FAKE/controller") in
  up) echo 'Slurmctld(primary) at 10.42.0.10 is UP' ;;
  down) echo 'Slurmctld(primary) at 10.42.0.10 is DOWN'; exit 1 ;;
  hang) exec sleep 30 ;;
esac
STUB
  chmod 755 "$STUBS/scontrol"
}

# minute N CONTROLLER: one run of the guard at boot minute N (the timer's), with the controller up, down or hanging.
minute() {
  printf '%d.42 1234.56\n' $(($1 * 60)) > "$TS_UPTIME_FILE"
  echo "$2" > "$TS_FAKE/controller"
  run env PATH="$STUBS:$PATH" TS_NODE_GUARD_PING_SECONDS=1 "$GUARD"
  ((status == 0)) || fail_with "minute $1: exit $status"
}

poweroffs() { local n; n=$(calls_matching '^systemctl poweroff$'); echo "${n:-0}"; }

@test "a controller that answers: nothing happens, each run says so" {
  [[ $(sed -n 2p "$GUARD") == "# node-guard.sh: from trainium-spot, documented in src/userdata/cluster/node-guard.sh" ]] || fail_with "not the node's copy"
  minute 1 up
  [[ $output == "trainium-spot node guard: slurmctld answers (Slurmctld(primary) at 10.42.0.10 is UP)" ]] || fail_with "log"
  minute 2 up
  [[ $(calls_matching '^scontrol ping$') == 2 && $(poweroffs) == 0 ]] || fail_with "calls"
}

@test "failures shorter than the limit never power off; each is logged with its count" {
  local m
  for m in 1 2 3; do minute "$m" down; done
  [[ $output == *"slurmctld did not answer (exit 1: Slurmctld(primary) at 10.42.0.10 is DOWN); failure 3 in a row, for 120 s of the 180 s after which this node powers off"* ]] ||
    fail_with "log"
  [[ $(poweroffs) == 0 ]] || fail_with "powered off"
}

@test "a controller that answers again resets the count: only consecutive failures add up" {
  minute 1 down
  minute 2 down
  minute 3 up
  [[ $output == *"slurmctld answers again after 2 failed pings in a row: count reset"* ]] || fail_with "no reset"
  # Three more minutes of failures from here: 4, 5, 6 are 120 s, under the 180 s limit
  minute 4 down
  minute 5 down
  minute 6 down
  [[ $output == *"failure 3 in a row, for 120 s"* ]] || fail_with "count not reset"
  [[ $(poweroffs) == 0 ]] || fail_with "powered off across an answer"
}

@test "the limit powers off exactly once, a hanging scontrol counting as no answer" {
  minute 1 down
  minute 2 hang
  [[ $output == *"slurmctld did not answer (exit 124: no answer within 1 s); failure 2 in a row"* ]] || fail_with "hang not bounded"
  minute 3 down
  [[ $(poweroffs) == 0 ]] || fail_with "early"
  minute 4 down
  [[ $output == *"slurmctld has not answered for 180 s (4 pings in a row; last: Slurmctld(primary) at 10.42.0.10 is DOWN), past TS_NODE_ORPHAN_MINUTES=3: powering off"* ]] ||
    fail_with "no power-off line"
  [[ $(poweroffs) == 1 ]] || fail_with "not powered off"
  # The timer runs on until the machine is down: no second power-off, not even with the controller back
  minute 5 down
  minute 6 up
  [[ $output == "trainium-spot node guard: power-off was asked at boot second 240; nothing more to do" ]] || fail_with "log"
  [[ $(poweroffs) == 1 ]] || fail_with "powered off twice"
}

@test "a power-off that fails is asked again on the next run" {
  minute 1 down
  echo 1 > "$TS_FAKE/systemctl.exit"
  run env PATH="$STUBS:$PATH" TS_NODE_GUARD_PING_SECONDS=1 bash -c "printf '600.0 0\n' > '$TS_UPTIME_FILE'; '$GUARD'"
  ((status == 1)) && [[ $output == *"FAILED: systemctl poweroff failed; the next run asks again"* ]] || fail_with "exit $status"
  rm "$TS_FAKE/systemctl.exit"
  minute 11 down
  [[ $(poweroffs) == 2 && -e $TS_ROOT/run/trainium-spot/node-guard/powered-off ]] || fail_with "not asked again"
}

@test "a reboot starts again: the state lives under /run, on the boot clock" {
  minute 1 down
  minute 3 down
  # A reboot empties /run (tmpfs) and restarts the boot clock
  rm -rf "$TS_ROOT/run"
  minute 1 down
  [[ $output == *"failure 1 in a row, for 0 s"* ]] || fail_with "state survived"
  [[ $(poweroffs) == 0 ]]
}

@test "fails when cluster.conf has no orphan limit: one line, no power-off" {
  printf "TS_REGION='us-east-2'\n" > "$TS_ROOT/etc/trainium-spot/cluster.conf"
  echo down > "$TS_FAKE/controller"
  run env PATH="$STUBS:$PATH" "$GUARD"
  ((status == 1)) || fail_with "exit $status"
  [[ $output == "trainium-spot node guard: FAILED: TS_NODE_ORPHAN_MINUTES in $TS_ROOT/etc/trainium-spot/cluster.conf is not a whole number of minutes" ]]
  [[ $(poweroffs) == 0 ]]
}
