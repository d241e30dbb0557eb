#!/usr/bin/env bats
# A detector that errors, times out or cannot read its source counts as UNSURE, kept up like a session
# (until maxIdleSessionHours pass without work, sessions.bats): a broken detector must never stop the
# box, nor die before deciding.

setup() {
  load test_helper
  setup_box
  run_check # the baseline: one idle check already counted
  tick
}

# WHEN the next check runs, THEN $1 could not tell, the check decided "active" and stopped nothing.
expect_unsure() {
  run_check
  assert_success
  [[ $(verdict "$1") == "$1: UNSURE, counted as present ("* ]] || fail_with "$(verdict "$1")"
  assert_output_has 'active ('
  refute_stopped
}

@test "a detector whose command fails counts as active (ps exits 1)" {
  stub_does ps exit 1
  expect_unsure ssh
  [[ $(verdict ssm) == 'ssm: UNSURE, counted as present (ps failed: exit 1)' ]] || fail_with "$(verdict ssm)"
}

@test "a detector whose command hangs is cut off and counts as active" {
  export TS_COMMAND_TIMEOUT_SECONDS=1
  stub_does ps sleep 30
  SECONDS=0
  expect_unsure processes
  ((SECONDS < 10)) || fail_with "the check took ${SECONDS}s"
  assert_output_has 'ps failed: timed out after 1s'
}

@test "a detector that cannot read its source counts as active (no /proc/meminfo)" {
  rm "$BOX/proc/meminfo"
  expect_unsure memory
}

@test "a detector that cannot parse its source counts as active (garbled /proc/stat)" {
  printf 'cpu  12 abc 7\n' >"$BOX/proc/stat"
  expect_unsure cpu
}

@test "a second check at the same moment learns nothing rather than dividing by zero" {
  run_check
  run_check
  assert_success
  [[ $(verdict cpu) == 'cpu: idle (no CPU time since the previous check)' ]] || fail_with "$(verdict cpu)"
  [[ $(verdict network) == 'network: idle (no time since the previous check)' ]] || fail_with "$(verdict network)"
}

@test "neuron-monitor without a report counts as active" {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  stub_does neuron-monitor out 'error: cannot connect to the Neuron driver'
  stub_does neuron-monitor exit 1
  expect_unsure neuron
}

@test "nvidia-smi that cannot read a GPU counts as active" {
  install_stub "$BOX/bin" nvidia-smi
  stub_does nvidia-smi out '[N/A]'
  expect_unsure gpu
}

@test "an invalid process pattern counts as active and does not hide a later match" {
  conf PROCESS_PATTERNS "( 'train(' 'torchrun' )"
  expect_unsure processes
  assert_output_has "pattern 'train(' is not a valid extended regular expression"
  processes 'torchrun --nproc_per_node=2 train.py'
  tick
  run_check
  [[ $(verdict processes) == "processes: PRESENT (pattern 'train(' is not a valid extended regular expression; 'torchrun': torchrun --nproc_per_node=2)" ]] ||
    fail_with "$(verdict processes)"
}

@test "regression: with set -e, grep and ps matching nothing still reach a decision and stop the box" {
  # Every grep in this check finds nothing and exits 1; the old script died there and never stopped.
  stub_does ps out ''
  conf PROCESS_PATTERNS '()'
  run_check
  tick
  tick
  run_check
  assert_success
  assert_output_has 'idle 3/3 min: stopping the box'
  assert_stopped
}

@test "regression: the check never calls the instance metadata service" {
  tick
  tick
  run_check
  assert_stopped
  ! grep -Eq '^begin (curl|wget)' "$TS_FAKE/calls" || fail_with "IMDS was called"
  ! grep -Eq '169\.254\.169\.254|fd00:ec2::254|curl|wget' "$IDLE_CHECK" || fail_with "the script talks to IMDS"
}

@test "the check leaves itself and everything it started out of the process table" {
  # The real chain: the check, its command substitution, timeout, ps. Without this, a pattern
  # such as 'timeout' would find the check's own timeout and keep the box up for ever.
  stub_does ps ancestry yes
  conf PROCESS_PATTERNS "( '^ps -e' '^timeout' 'trainium-spot-idle' )"
  run_check
  [[ $(verdict processes) == 'processes: idle (no process matches the 3 patterns)' ]] || fail_with "$(verdict processes)"
  grep -q "^begin ps" "$TS_FAKE/calls"
}

@test "a process listed under the check's own PID is left out as the check itself, so fake PIDs must be unreal" {
  # GIVEN ps lists training at the very PID of the check that asks, as when a fake PID equalled the
  # check's real one by chance
  stub_does ps own-pid 'deepspeed --num_gpus 2 main.py'
  stub_does ps ancestry yes
  # WHEN the check runs
  run_check
  # THEN ps listed the training under the check's PID, and the check took it for itself
  local pid _ppid args check_pid='' training_pid=''
  while read -r pid _ppid args; do
    [[ $args == *"$IDLE_CHECK check" ]] && check_pid=$pid
    [[ $args == 'deepspeed --num_gpus 2 main.py' ]] && training_pid=$pid
  done <"$TS_STATE_DIR/ps.out"
  [[ -n $check_pid && $training_pid == "$check_pid" ]] || fail_with "training at PID '$training_pid', the check at '$check_pid'"
  [[ $(verdict processes) == 'processes: idle (no process matches the 7 patterns)' ]] || fail_with "$(verdict processes)"
  # and under a PID of its own it is found
  rm "$TS_FAKE/ps.own-pid" "$TS_FAKE/ps.ancestry"
  processes 'deepspeed --num_gpus 2 main.py'
  tick
  run_check
  [[ $(verdict processes) == "processes: PRESENT ('^deepspeed( |\$)': deepspeed --num_gpus)" ]] || fail_with "$(verdict processes)"
}

@test "another copy of the check (a manual run waiting for the lock) is a process like any other" {
  conf PROCESS_PATTERNS "( 'trainium-spot-idle' )"
  processes "/usr/bin/bash $IDLE_CHECK status"
  run_check
  [[ $(verdict processes) == "processes: PRESENT ('trainium-spot-idle': bash trainium-spot-idle)" ]] || fail_with "$(verdict processes)"
}

@test "a failing ps is reported once by the process patterns, not once per pattern" {
  stub_does ps exit 1
  run_check
  [[ $(verdict processes) == 'processes: UNSURE, counted as present (ps failed: exit 1)' ]] || fail_with "$(verdict processes)"
}

@test "an invalid pattern alone counts as active, and no pattern at all is idle" {
  conf PROCESS_PATTERNS "( 'train(' )"
  run_check
  [[ $(verdict processes) == "processes: UNSURE, counted as present (pattern 'train(' is not a valid extended regular expression)" ]] ||
    fail_with "$(verdict processes)"
  conf PROCESS_PATTERNS '()'
  tick
  run_check
  [[ $(verdict processes) == 'processes: idle (no process matches the 0 patterns)' ]] || fail_with "$(verdict processes)"
}
