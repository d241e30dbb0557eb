#!/usr/bin/env bats
# When the check stops the box, when it does not, and what it says about it.

setup() {
  load test_helper
  setup_box
}

@test "nothing active for 2 consecutive checks stops the box with shutdown -h now" {
  run_check
  assert_output_has 'idle 1/2 |'
  refute_stopped
  tick
  run_check
  assert_success
  assert_output_has 'idle 2/2: stopping the box (shutdown -h now)'
  assert_stopped
  [[ $(shutdown_calls) == 1 ]] || fail_with "expected one shutdown"
}

@test "activity between idle checks starts the count again" {
  run_check
  tick
  processes 'sshd: ubuntu@pts/0'
  run_check
  assert_output_has 'active (ssh)'
  tick
  processes
  run_check
  assert_output_has 'idle 1/2 |'
  refute_stopped
}

@test "consecutiveChecks: 3 waits for a third idle check" {
  conf CONSECUTIVE_CHECKS 3
  run_check
  tick
  run_check
  assert_output_has 'idle 2/3 |'
  refute_stopped
  tick
  run_check
  assert_output_has 'idle 3/3: stopping the box'
  assert_stopped
}

@test "boot grace: within bootGraceMinutes of boot no idle check counts, however many run" {
  reboot_box 30
  local minute
  for minute in 1 2 3 4; do
    run_check
    assert_success
    assert_output_has "boot grace (up $((30 + (minute - 1) * 60))s of 300s): not counting"
    tick
  done
  refute_stopped
  [[ $(idle_count) == 0 ]] || fail_with "idle count should be 0"
}

@test "boot grace: once it is over, two idle checks stop the box" {
  reboot_box 240
  run_check
  assert_output_has 'boot grace'
  tick
  run_check
  assert_output_has 'idle 1/2 |'
  tick
  run_check
  assert_stopped
}

@test "dry run logs that it would stop, and never stops" {
  conf DRY_RUN true
  local minute
  for minute in 1 2 3 4 5; do
    run_check
    tick
  done
  refute_stopped
  assert_output_has 'idle 5/2: dry run, would stop the box now |'
}

@test "every decision goes to stdout, the log file and logger, naming what each detector saw" {
  processes 'tmux: server'
  run_check
  local line="active (multiplexers) | ssh: idle (no sshd user sessions, no connections on port 22) | ssm: idle (no ssm-session-worker) | multiplexers: ACTIVE (multiplexer: tmux: server) | neuron: idle (no Neuron compiler; neuron-monitor not installed) | gpu: idle (nvidia-smi not installed) | processes: idle (no process matches the 4 patterns) | cpu: idle (CPU 1.0% < 10%) | memory: idle (memory in use 6.0% < 80%) | network: idle (network 1.0 KB/s < 100 KB/s) | keepalive: idle (never touched)"
  [[ $output == "$line" ]] || fail_with "unexpected stdout"
  [[ $(cat "$TS_LOG_FILE") == "2023-11-14T22:13:20+0000 $line" ]] ||
    fail_with "log file: $(cat "$TS_LOG_FILE")"
  grep -qxF "begin logger -t trainium-spot-idle -- $line" "$TS_FAKE/calls" || fail_with "logger not called"
}

@test "under systemd the journal gets stdout, so logger is not called as well" {
  export JOURNAL_STREAM=8:12345
  run_check
  ! grep -q '^begin logger' "$TS_FAKE/calls" || fail_with "logged twice to the journal"
}

@test "detectors switched off in idle.conf are not consulted" {
  conf DETECT_SSH false
  conf DETECT_MULTIPLEXERS false
  processes 'sshd: ubuntu@pts/0' 'tmux: server'
  run_check
  assert_output_has 'idle 1/2 |'
  [[ $(verdict ssh) == 'ssh: off' && $(verdict multiplexers) == 'multiplexers: off' ]] ||
    fail_with "$(verdict ssh), $(verdict multiplexers)"
  ! grep -q '^begin ss' "$TS_FAKE/calls" || fail_with "ss ran for a switched-off detector"
}

@test "fails when shutdown fails: logs it, exits 1, and the next check tries again" {
  stub_does shutdown exit 1
  run_check
  tick
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has 'ERROR: shutdown failed: exit 1; the box keeps running'
  tick
  run_check
  assert_output_has 'idle 3/2: stopping the box'
  [[ $(shutdown_calls) == 2 ]] || fail_with "expected a second attempt"
}
