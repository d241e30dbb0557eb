#!/usr/bin/env bats
# When the check stops the box, when it does not, and what it says about it.

setup() {
  load test_helper
  setup_box
}

# `minutes N`: N more minutes pass, with one check at the end of each.
minutes() {
  local n
  for ((n = 0; n < $1; n++)); do
    tick
    run_check
  done
}

@test "idleMinutes (3) with nothing counting stops the box with shutdown -h now" {
  run_check
  assert_output_has 'idle 0/3 min |'
  minutes 2
  assert_output_has 'idle 2/3 min |'
  refute_stopped
  minutes 1
  assert_success
  assert_output_has 'idle 3/3 min: stopping the box (shutdown -h now)'
  assert_stopped
  [[ $(shutdown_calls) == 1 ]] || fail_with "expected one shutdown"
}

@test "work between idle checks starts the idle window again" {
  run_check
  minutes 2
  tick 50
  run_check
  assert_output_has 'active (cpu)'
  minutes 2
  assert_output_has 'idle 2/3 min |'
  refute_stopped
}

@test "regression: the idle window is minutes on the boot clock, so extra checks cannot cut it short" {
  run_check
  local n
  # A manual run right after every timer run: twice the checks, the same minutes.
  for n in 1 2; do
    tick
    run_check
    run_check
  done
  assert_output_has 'idle 2/3 min |'
  refute_stopped
}

@test "regression: a wall-clock step does not move the idle window" {
  run_check
  tick
  export TS_NOW=$((TS_NOW + 86400))
  run_check
  assert_output_has 'idle 1/3 min |'
  refute_stopped
}

@test "idleMinutes: 10 waits ten minutes" {
  conf IDLE_MINUTES 10
  run_check
  minutes 9
  refute_stopped
  minutes 1
  assert_output_has 'idle 10/10 min: stopping the box'
}

@test "boot grace: within bootGraceMinutes of boot nothing counts, however many checks run" {
  reboot_box 30
  local minute
  for minute in 1 2 3 4; do
    run_check
    assert_success
    assert_output_has "boot grace (up $((30 + (minute - 1) * 60))s of 300s): not counting"
    tick
  done
  refute_stopped
}

@test "boot grace: the idle window starts when it ends" {
  reboot_box 240
  run_check
  assert_output_has 'boot grace'
  minutes 1
  assert_output_has 'idle 1/3 min |'
  minutes 2
  assert_stopped
}

@test "dry run logs that it would stop, publishes no stop, and never stops" {
  conf DRY_RUN true
  run_check
  minutes 4
  refute_stopped
  assert_output_has 'idle 4/3 min: dry run, would stop the box now |'
  [[ $(published_verdict) == 0 ]] || fail_with "published $(published_verdict)"
}

@test "every check publishes its verdict into the box's own namespace: 0 while it keeps the box, 1 when it stops it" {
  # The namespace is TrainiumSpot/Idle/ and the box's instance ARN, the one namespace its role allows; the ARN is the
  # prefix the agent installed (the association's instanceArnPrefix) and the instance ID cloud-init saved.
  run_check
  local namespace=TrainiumSpot/Idle/arn:aws:ec2:us-east-2:123456789012:instance/i-0123456789abcdef0
  grep -qxF "begin aws cloudwatch put-metric-data --region us-east-2 --namespace $namespace --metric-name StopVerdict --dimensions InstanceId=i-0123456789abcdef0 --unit Count --value 0" "$TS_FAKE/calls" ||
    fail_with "$(cat "$TS_FAKE/calls")"
  assert_output_has '| cloudwatch: StopVerdict=0'
  minutes 3
  [[ $(published_verdict) == 1 ]] || fail_with "published $(published_verdict)"
  assert_stopped
}

@test "without the instance ARN prefix the agent installs, nothing is published, the log says why, and the box still stops" {
  local bad n=0
  for bad in missing 'arn:aws:ec2:us-east-2:123456789012:instance/i-0fedcba9876543210' 'TrainiumSpot/Idle' \
    'arn:aws:ec2:us-east-2:1234:instance/' "arn:aws:ec2:us-east-2:123456789012:instance/' --namespace x"; do
    mkdir -p "$BATS_TEST_TMPDIR/$((++n))"
    setup_box "$BATS_TEST_TMPDIR/$n"
    # GIVEN
    if [[ $bad == missing ]]; then rm "$TS_INSTANCE_ARN_PREFIX_FILE"; else printf '%s\n' "$bad" >"$TS_INSTANCE_ARN_PREFIX_FILE"; fi
    # WHEN
    run_check
    minutes 3
    # THEN
    assert_output_has "| cloudwatch: not published (no instance ARN prefix in $TS_INSTANCE_ARN_PREFIX_FILE)"
    count_calls '^begin aws '
    ((CALL_COUNT == 0)) || fail_with "published with prefix $bad: $(cat "$TS_FAKE/calls")"
    assert_stopped
  done
}

@test "a failed publish is logged and changes no decision" {
  stub_does aws exit 255
  stub_does aws out 'Unable to locate credentials'
  run_check
  minutes 3
  assert_output_has '| cloudwatch: not published (aws exit 255: Unable to locate credentials)'
  assert_stopped
}

@test "every decision goes to stdout, the log file and logger, naming what each detector saw" {
  unset JOURNAL_STREAM # run by hand, outside systemd
  processes 'tmux: server'
  run_check
  local line="active (multiplexers; no work or input for 0 min, counts for 3 h) | ssh: idle (no sshd, mosh or VS Code session) | ssm: idle (no ssm-session-worker or ssm-document-worker) | multiplexers: PRESENT (multiplexer: tmux: server) | neuron: idle (no Neuron compiler; neuron-monitor not installed) | gpu: idle (nvidia-smi not installed) | processes: idle (no process matches the 7 patterns) | cpu: idle (CPU 1.0% < 10%) | disk: idle (disk 1.0 KB/s < 200 KB/s) | memory: idle (memory in use 6.0% < 80%) | network: idle (network 1.0 KB/s < 20 KB/s) | keepalive: idle (never touched) | terminal: idle (no terminals) | slurm: off | cloudwatch: StopVerdict=0"
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
  assert_output_has 'idle 0/3 min |'
  [[ $(verdict ssh) == 'ssh: off' && $(verdict multiplexers) == 'multiplexers: off' ]] ||
    fail_with "$(verdict ssh), $(verdict multiplexers)"
}

@test "fails when shutdown fails: logs it, exits 1, and the next check tries again" {
  stub_does shutdown exit 1
  run_check
  minutes 3
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has 'ERROR: shutdown failed: exit 1; the box keeps running'
  minutes 1
  assert_output_has 'idle 4/3 min: stopping the box'
  [[ $(shutdown_calls) == 2 ]] || fail_with "expected a second attempt"
}

@test "status prints each signal, the verdict and the minutes left, and changes nothing" {
  run_check
  tick
  check_with status
  assert_success
  assert_output_has '  ssh           idle (no sshd, mosh or VS Code session)'
  assert_output_has '  cpu           idle (CPU 1.0% < 10%)'
  assert_output_has 'verdict: idle 1/3 min'
  assert_output_has 'the box stops in about 2 min unless work starts'
  refute_stopped
  ! grep -q '^begin aws' <(sed -n '/status/,$p' "$TS_FAKE/calls") || true
  # The next real check still measures from the previous real one.
  run_check
  assert_output_has 'idle 1/3 min |'
  assert_output_has 'cpu: idle (CPU 1.0% < 10%)'
}

@test "fails when asked for an unknown command: usage, exit 2, nothing checked" {
  check_with stop
  [[ $status -eq 2 ]] || fail_with "expected exit 2"
  assert_output_has 'usage: trainium-spot-idle [check|status]'
  [[ ! -e $TS_FAKE/calls ]] || fail_with "ran: $(cat "$TS_FAKE/calls")"
}
