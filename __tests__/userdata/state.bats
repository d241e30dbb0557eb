#!/usr/bin/env bats
# The idle clock and the CPU / network / disk samples live in /run/trainium-spot/state: they carry from
# one check to the next, and no further than the boot they were taken in.

setup() {
  load test_helper
  setup_box
}

@test "the state directory is /run/trainium-spot, a tmpfs that every boot empties" {
  # shellcheck disable=SC2016 # the script's own text, not an expansion
  grep -qxF 'STATE_DIR=${TS_STATE_DIR:-/run/trainium-spot}' "$IDLE_CHECK"
  ! grep -q '/var/lib/trainium' "$IDLE_CHECK" || fail_with "state must not live under /var/lib"
}

@test "the idle window survives from one check to the next" {
  run_check
  tick
  run_check
  assert_output_has 'idle 1/3 min |'
  grep -q '^last-active=360000$' "$TS_STATE_DIR/state" || fail_with "$(cat "$TS_STATE_DIR/state")"
}

@test "regression: a stop/start (a new, empty /run) starts the idle window from zero" {
  run_check
  tick
  tick
  run_check
  assert_output_has 'idle 2/3 min |'
  reboot_box 30
  run_check
  assert_output_has 'boot grace'
  reboot_box 400
  run_check
  assert_output_has 'idle 0/3 min |'
  refute_stopped
}

@test "regression: state from an earlier boot in a directory that survived the boot is forgotten" {
  run_check
  tick
  tick
  run_check
  assert_output_has 'idle 2/3 min |'
  # Same directory, as if it were under /var/lib, but the kernel reports a new boot.
  kernel_reports_new_boot 400
  run_check
  assert_output_has 'idle 0/3 min |'
  refute_stopped
}

@test "a corrupt state file counts as no state: the idle window starts now" {
  run_check
  tick
  printf 'garbage\nlast-active=soon\n' >"$TS_STATE_DIR/state"
  run_check
  assert_success
  assert_output_has 'idle 0/3 min |'
  refute_stopped
}

@test "fails when the state directory cannot be created: exits 1 and stops nothing" {
  export TS_STATE_DIR=$BOX/missing/parent/trainium-spot
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has "ERROR: cannot create $TS_STATE_DIR; the box keeps running"
  refute_stopped
}
