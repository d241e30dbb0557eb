#!/usr/bin/env bats
# A simulated day (timeline.bash): boot, boot grace, SSH, VS Code, training at low CPU, a detached
# tmux session, Session Manager, a build, a download, the keep-alive file, memory pressure, torchrun,
# then nothing. One real check per simulated minute, on a fake clock, all settings at their defaults.
# The day is simulated once; each test reads what happened.

setup_file() {
  load test_helper
  load timeline
  setup_box "$BATS_FILE_TMPDIR"
  simulate_day
}

setup() {
  load test_helper
  load timeline
}

@test "timeline: the box never stops while anything is active, and stops at most 2 minutes after the last activity" {
  local last_active
  last_active=$(last_active_minute)
  [[ -n $SHUTDOWN_MINUTE ]] || fail_with "the box never stopped: $(tail -n 5 "$DAY_TRANSCRIPT")"
  ((SHUTDOWN_MINUTE > last_active)) ||
    fail_with "stopped at minute $SHUTDOWN_MINUTE during activity: $(tail -n 5 "$DAY_TRANSCRIPT")"
  [[ $(shutdown_calls) == 1 ]] || fail_with "expected exactly one shutdown"
  local minutes=$((SHUTDOWN_MINUTE - last_active))
  echo "# timeline: last activity at minute $last_active, shutdown at minute $SHUTDOWN_MINUTE:" \
    "$minutes minute(s) from the last activity to shutdown" >&3
  ((minutes <= 2)) || fail_with "took $minutes minutes"
}

@test "timeline: each activity of the day is seen by the detector meant for it" {
  local expected=(
    '2:boot grace (up 120s of 300s): not counting'
    '10:active (ssh)'
    '24:active (ssh)'
    '40:active (neuron)'
    '46:idle 1/2'
    '55:active (multiplexers)'
    '61:idle 1/2'
    '64:active (ssm)'
    '72:active (cpu)'
    '78:active (network)'
    '120:active (keepalive)'
    '142:active (memory)'
    '150:active (processes)'
    '156:idle 1/2'
    '157:idle 2/2: stopping the box (shutdown -h now)'
  )
  local entry
  for entry in "${expected[@]}"; do
    [[ $(decision_at "${entry%%:*}") == "${entry#*:}" ]] ||
      fail_with "minute ${entry%%:*}: expected '${entry#*:}', got '$(decision_at "${entry%%:*}")'"
  done
}
