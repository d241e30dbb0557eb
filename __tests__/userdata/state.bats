#!/usr/bin/env bats
# The idle count and the CPU / network samples live in /run/trainium-spot: they carry from one check
# to the next, and no further than the boot they were counted in.

setup() {
  load test_helper
  setup_box
}

@test "the state directory is /run/trainium-spot, a tmpfs that every boot empties" {
  # shellcheck disable=SC2016 # the script's own text, not an expansion
  grep -qxF 'STATE_DIR=${TS_STATE_DIR:-/run/trainium-spot}' "$IDLE_CHECK"
  ! grep -q '/var/lib' "$IDLE_CHECK" || fail_with "state must not live under /var/lib"
}

@test "the idle count survives from one check to the next" {
  run_check
  [[ $(idle_count) == 1 ]] || fail_with "idle count $(idle_count)"
  tick
  run_check
  [[ $(idle_count) == 2 ]] || fail_with "idle count $(idle_count)"
  assert_stopped
}

@test "regression: a stop/start (a new, empty /run) starts the count from zero" {
  run_check
  [[ $(idle_count) == 1 ]] || fail_with "idle count $(idle_count)"
  reboot_box 30
  run_check
  assert_output_has 'boot grace'
  reboot_box 400
  run_check
  assert_output_has 'idle 1/2 |'
  refute_stopped
}

@test "regression: state from an earlier boot in a directory that survived the boot is forgotten" {
  run_check
  [[ $(idle_count) == 1 ]] || fail_with "idle count $(idle_count)"
  # Same directory, as if it were under /var/lib, but the kernel reports a new boot.
  kernel_reports_new_boot 400
  run_check
  assert_output_has 'idle 1/2 |'
  refute_stopped
}

@test "a corrupt idle count is read as zero" {
  run_check
  printf 'garbage\n' >"$TS_STATE_DIR/idle-count"
  tick
  run_check
  assert_output_has 'idle 1/2 |'
  refute_stopped
}

@test "fails when the state directory cannot be created: exits 1 and stops nothing" {
  export TS_STATE_DIR=$BOX/missing/parent/trainium-spot
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has "ERROR: cannot create $TS_STATE_DIR; the box keeps running"
  refute_stopped
}
