#!/usr/bin/env bats
# /etc/trainium-spot/idle.conf: the check sources it, so its values must arrive exactly as written
# and a bad one must stop the check loudly, never the box.

setup() {
  load test_helper
  setup_box
}

@test "the default idle.conf fixture is what the renderer writes for parseConfig({}).idle" {
  # __tests__/userdata.test.ts asserts the other half: renderIdleConf(defaults) equals this file.
  grep -qxF 'CONSECUTIVE_CHECKS=2' "$TS_IDLE_CONF"
  grep -qxF 'DETECT_SSH=true' "$TS_IDLE_CONF"
}

@test "fails when idle.conf is missing: logs the error, exits 1, stops nothing" {
  rm "$TS_IDLE_CONF"
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has "ERROR: cannot read $TS_IDLE_CONF; the box keeps running"
  grep -q "ERROR: cannot read" "$TS_LOG_FILE"
  refute_stopped
}

@test "fails when idle.conf is not valid bash" {
  printf 'PROCESS_PATTERNS=( "unclosed\n' >>"$TS_IDLE_CONF"
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has 'is not valid bash; the box keeps running'
  refute_stopped
}

@test "fails when a value is malformed, naming the key and the value" {
  conf CONSECUTIVE_CHECKS two
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has "$TS_IDLE_CONF: CONSECUTIVE_CHECKS='two' must be a whole number"
}

@test "fails when a key is missing: the defaults live in src/config.ts only" {
  sed -i '/^DETECT_GPU=/d' "$TS_IDLE_CONF"
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1"
  assert_output_has "DETECT_GPU='' must be true or false"
}

@test "fractional thresholds work: cpuThresholdPercent 2.5" {
  conf CPU_THRESHOLD_PERCENT 2.5
  run_check
  tick 3
  run_check
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 3.0%)' ]] || fail_with "$(verdict cpu)"
  tick 2
  run_check
  [[ $(verdict cpu) == 'cpu: idle (CPU 2.0% < 2.5%)' ]] || fail_with "$(verdict cpu)"
}

@test "a hostile process pattern (quotes, spaces, |, parens, \$(...)) round-trips through idle.conf" {
  # The line exactly as renderIdleConf writes it: single quotes, with each ' written as '\''.
  cat >>"$TS_IDLE_CONF" <<'CONF'
PROCESS_PATTERNS=(
  '--tag '\''a b'\'' --note "c|d" \$\(touch /tmp/pwned\) `id`'
)
CONF
  # shellcheck disable=SC2016 # $(...) and `...` are the hostile part: they must stay literal
  local pattern='--tag '\''a b'\'' --note "c|d" \$\(touch /tmp/pwned\) `id`'
  # shellcheck disable=SC2016
  local command_line='python3 job.py --tag '\''a b'\'' --note "c|d" $(touch /tmp/pwned) `id`'
  processes "$command_line"
  run_check
  assert_success
  [[ $(verdict processes) == "processes: ACTIVE ('$pattern': $command_line)" ]] || fail_with "$(verdict processes)"
  [[ ! -e /tmp/pwned ]] || fail_with "the pattern was executed"
}
