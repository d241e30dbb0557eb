#!/usr/bin/env bats
# The timer and a manual run never check at the same time: the second waits for the first (at most
# one check interval), then checks afresh; if it cannot get the lock it leaves without a decision.

setup() {
  load test_helper
  setup_box
}

@test "two checks started together run one after the other, and both decide" {
  stub_does ps sleep 1
  env PATH="$BOX/bin:$BOX/sysbin" "$IDLE_CHECK" >"$BOX/first.out" 2>&1 &
  local first=$!
  env PATH="$BOX/bin:$BOX/sysbin" "$IDLE_CHECK" >"$BOX/second.out" 2>&1 &
  local second=$!
  wait "$first"
  wait "$second"

  # Each check's ps ended before the other's began.
  run grep -E '^(begin|end) ps' "$TS_FAKE/calls"
  [[ ${lines[0]} == 'begin ps '* && ${lines[1]} == 'end ps' && ${lines[2]} == 'begin ps '* && ${lines[3]} == 'end ps' ]] ||
    fail_with "the checks overlapped"
  [[ $(wc -l <"$TS_LOG_FILE") == 2 ]] || fail_with "expected two decisions: $(cat "$TS_LOG_FILE")"
}

@test "a check that cannot get the lock within the interval leaves cleanly, deciding nothing" {
  conf CHECK_INTERVAL_SECONDS 1
  mkdir -p "$TS_STATE_DIR"
  flock "$TS_STATE_DIR/lock" sleep 3 &
  local holder=$!
  sleep 0.3
  run_check
  wait "$holder"
  assert_success
  assert_output_has "another check held $TS_STATE_DIR/lock for 1s; skipping this one, no decision taken"
  ! grep -Eq '^begin (ps|ss|shutdown)' "$TS_FAKE/calls" || fail_with "the check ran without the lock: $(cat "$TS_FAKE/calls")"
}
