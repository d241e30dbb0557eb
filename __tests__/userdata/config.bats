#!/usr/bin/env bats
# /etc/trainium-spot/idle.conf: the check sources it, so its values must arrive exactly as written, and a
# value broken on the box is logged and replaced by a safe one: never a crash, never an early stop.

setup() {
  load test_helper
  setup_box
}

@test "the default idle.conf fixture is what the renderer writes for parseConfig({}).idle" {
  # __tests__/userdata.test.ts asserts the other half: renderIdleConf(defaults) equals this file.
  grep -qxF 'IDLE_MINUTES=3' "$TS_IDLE_CONF"
  grep -qxF 'DETECT_SSH=true' "$TS_IDLE_CONF"
}

@test "a missing idle.conf is logged, and safe values apply: the check still decides, and waits 30 minutes" {
  rm "$TS_IDLE_CONF"
  run_check
  assert_success
  assert_output_has "WARNING: cannot read $TS_IDLE_CONF; using safe values"
  assert_output_has 'idle 0/30 min |'
  grep -q "WARNING: cannot read" "$TS_LOG_FILE"
  refute_stopped
}

@test "an idle.conf that is not valid bash is logged; what it did not set gets safe values" {
  printf 'PROCESS_PATTERNS=( "unclosed\n' >>"$TS_IDLE_CONF"
  run_check
  assert_success
  assert_output_has 'is not valid bash; safe values replace what it did not set'
  refute_stopped
}

@test "bad values are logged with the key and the value, and replaced by safe ones" {
  conf IDLE_MINUTES -5
  conf CPU_THRESHOLD_PERCENT high
  sed -i '/^DETECT_GPU=/d' "$TS_IDLE_CONF"
  conf DETECT_FOO maybe
  run_check
  assert_success
  assert_output_has "WARNING: $TS_IDLE_CONF: IDLE_MINUTES='-5' must be a whole number; using 30"
  assert_output_has "WARNING: $TS_IDLE_CONF: CPU_THRESHOLD_PERCENT='high' must be a number such as 10 or 2.5; using 10"
  assert_output_has "WARNING: $TS_IDLE_CONF: DETECT_GPU='' must be true or false; using true"
  assert_output_has 'idle 0/30 min |'
}

@test "an idle.conf without DETECT_SLURM (written before the detector) turns it on: harmless on a box without squeue" {
  sed -i '/^DETECT_SLURM=/d' "$TS_IDLE_CONF"
  run_check
  assert_success
  assert_output_has "WARNING: $TS_IDLE_CONF: DETECT_SLURM='' must be true or false; using true"
  [[ $(verdict slurm) == 'slurm: idle (squeue not installed)' ]] || fail_with "$(verdict slurm)"
  assert_output_has 'idle 0/3 min |'
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
  'x '\''a b'\'' "c|d" \$\(touch /tmp/pwned\) `id`|^python3 job\.py'
)
CONF
  # shellcheck disable=SC2016 # $(...) and `...` are the hostile part: they must stay literal
  local pattern='x '\''a b'\'' "c|d" \$\(touch /tmp/pwned\) `id`|^python3 job\.py'
  processes 'python3 job.py --tag x'
  run_check
  assert_success
  [[ $(verdict processes) == "processes: PRESENT ('$pattern': python3 job.py)" ]] || fail_with "$(verdict processes)"
  [[ ! -e /tmp/pwned ]] || fail_with "the pattern was executed"
}
