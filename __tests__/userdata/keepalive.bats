#!/usr/bin/env bats
# The keep-alive costs a user nothing but a timestamp, and a full /run cannot silence the check.
# /run/trainium-spot/keepalive is a directory of mode 0722: anyone may `touch` it (write permission lets any
# user set its times to now), while without search permission nobody but root can create anything in it,
# and a directory has no contents to write. So no user can fill /run through it, as they could a 0666 file.
# When /run is full all the same (a runaway root service), the check writes its state over the old one,
# into the space that file already holds, and decides and publishes as ever; with no state to write over,
# it fails loudly and publishes nothing, which the CloudWatch backstop watches for.

setup() {
  load test_helper
  setup_box
}

teardown() {
  # A tmpfs mounted over the box's /run lives in the host's mount table: it must not outlive the test.
  if [[ -n ${MOUNTED_RUN-} ]]; then umount "$MOUNTED_RUN"; fi
  if [[ -n ${OPEN_BASE-} ]]; then rm -rf "$OPEN_BASE"; fi
}

# A real user other than the one running the tests: nobody (65534) on every Linux.
NOBODY=65534
as_nobody() {
  setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- "$@"
}
# Appends a few bytes to the file $1 as nobody; fails as the shell's redirection does.
nobody_writes() {
  # shellcheck disable=SC2016 # sh expands $1 when it runs
  as_nobody sh -c 'printf data >>"$1"' _ "$1" 2>/dev/null
}

# The box moves to a directory that every user can reach, as /run is: bats keeps its own temporary
# directories to the user running it.
setup_box_others_can_reach() {
  ((EUID == 0)) || skip 'needs root, to act as another user'
  command -v setpriv >/dev/null || skip 'needs setpriv (util-linux), to act as another user'
  OPEN_BASE=$(mktemp -d "${TMPDIR:-/tmp}/trainium-spot-keepalive.XXXXXX")
  chmod 0755 "$OPEN_BASE"
  setup_box "$OPEN_BASE"
}

# The box's /run becomes a tmpfs of its own, small enough to fill in a moment.
mount_small_run() {
  ((EUID == 0)) || skip 'needs root, to mount a tmpfs'
  mount -t tmpfs -o size=256k,mode=0755 tmpfs "$BOX/run" 2>/dev/null || skip 'cannot mount a tmpfs here'
  MOUNTED_RUN=$BOX/run
}

# Fills the box's /run to the last page, as a runaway writer would, and proves it is full.
fill_run() {
  head -c 1048576 /dev/zero >"$BOX/run/filler" 2>/dev/null || true
  if { printf 'x' >"$BOX/run/one-more-byte"; } 2>/dev/null; then
    fail_with "expected $BOX/run to be full"
  fi
}

# The number of StopVerdict datapoints published so far.
published_count() {
  count_calls '^begin aws cloudwatch put-metric-data '
  printf '%s\n' "$CALL_COUNT"
}

# ---------------------------------------------------------------------------------------------
# The keep-alive: a timestamp anyone can set, and nothing else
# ---------------------------------------------------------------------------------------------

@test "the check makes the keep-alive a directory of mode 0722, dated 1970 so that making it is no sign of life" {
  run_check
  assert_success
  [[ $(stat -c '%F %a %Y' "$TS_STATE_DIR/keepalive") == 'directory 722 0' ]] ||
    fail_with "$(stat -c '%F %a %Y' "$TS_STATE_DIR/keepalive")"
  [[ $(stat -c '%a' "$TS_STATE_DIR") == 755 ]] || fail_with "the state directory must be 0755, not $(stat -c '%a' "$TS_STATE_DIR")"
  [[ $(verdict keepalive) == 'keepalive: idle (never touched)' ]] || fail_with "$(verdict keepalive)"
}

@test "another user's touch keeps the box up, and nothing that user tries puts a byte under /run/trainium-spot" {
  setup_box_others_can_reach
  run_check
  tick
  local keepalive=$TS_STATE_DIR/keepalive
  # WHEN another user touches it, without sudo
  as_nobody touch "$keepalive" || fail_with "touch as another user failed"
  # THEN writing into it, creating in it or beside it, and choosing its time are all refused
  if nobody_writes "$keepalive"; then fail_with "wrote into the keep-alive"; fi
  if nobody_writes "$keepalive/file"; then fail_with "created a file in the keep-alive"; fi
  if as_nobody mkdir "$keepalive/dir" 2>/dev/null; then fail_with "created a directory in the keep-alive"; fi
  if as_nobody touch "$TS_STATE_DIR/beside" 2>/dev/null; then fail_with "created a file in $TS_STATE_DIR"; fi
  if as_nobody touch -d @2000000000 "$keepalive" 2>/dev/null; then fail_with "set the keep-alive to a time of the user's choosing"; fi
  [[ -z $(ls -A "$keepalive") ]] || fail_with "the keep-alive holds: $(ls -A "$keepalive")"
  # AND the touch keeps the box up (it bears the real time, later than the simulated clock: counted as now)
  run_check
  assert_success
  assert_output_has 'active (keepalive) |'
  [[ $(verdict keepalive) == 'keepalive: ACTIVE (touched 0s ago, keeps the box up for 60 min)' ]] || fail_with "$(verdict keepalive)"
}

@test "an earlier check's 0666 keep-alive file, filled with data, becomes the directory, and its last touch carries over" {
  # GIVEN a box on which an earlier check ran and left a keep-alive file that a user touched 30 s ago
  # and wrote a megabyte into
  run_check
  tick
  rm -rf "$TS_STATE_DIR/keepalive"
  head -c 1048576 /dev/zero >"$TS_STATE_DIR/keepalive"
  chmod 0666 "$TS_STATE_DIR/keepalive"
  touch -d "@$((TS_NOW - 30))" "$TS_STATE_DIR/keepalive"
  # WHEN the new check runs
  run_check
  # THEN the data is gone, the touch kept its time, and it keeps the box up
  assert_success
  [[ $(stat -c '%F %a %Y' "$TS_STATE_DIR/keepalive") == "directory 722 $((TS_NOW - 30))" ]] ||
    fail_with "$(stat -c '%F %a %Y' "$TS_STATE_DIR/keepalive")"
  [[ $(verdict keepalive) == 'keepalive: ACTIVE (touched 30s ago, keeps the box up for 60 min)' ]] || fail_with "$(verdict keepalive)"
  [[ -z $(find "$TS_STATE_DIR" -name 'keepalive?*' ! -name keepalive.ref) ]] || fail_with "left behind: $(ls -A "$TS_STATE_DIR")"
}

@test "a keep-alive someone made first with sudo (a 0644 file, or a 0755 directory) becomes touchable by everyone" {
  mkdir -p "$TS_STATE_DIR"
  (umask 022 && touch -d @0 "$TS_STATE_DIR/keepalive")
  run_check
  [[ $(stat -c '%F %a' "$TS_STATE_DIR/keepalive") == 'directory 722' ]] || fail_with "$(stat -c '%F %a' "$TS_STATE_DIR/keepalive")"
  rm -rf "$TS_STATE_DIR/keepalive"
  (umask 022 && mkdir "$TS_STATE_DIR/keepalive")
  tick
  run_check
  [[ $(stat -c '%F %a' "$TS_STATE_DIR/keepalive") == 'directory 722' ]] || fail_with "$(stat -c '%F %a' "$TS_STATE_DIR/keepalive")"
}

# ---------------------------------------------------------------------------------------------
# A full /run
# ---------------------------------------------------------------------------------------------

@test "on a full /run the check still keeps its idle window, publishes every verdict and stops the idle box" {
  mount_small_run
  run_check
  fill_run
  local minute
  for minute in 1 2; do
    tick
    run_check
    assert_success
    assert_output_has "idle $minute/3 min | "
    assert_output_has '| cloudwatch: StopVerdict=0'
  done
  tick
  run_check
  assert_success
  assert_output_has 'idle 3/3 min: stopping the box (shutdown -h now)'
  [[ $(published_count) == 4 && $(published_verdict) == 1 ]] ||
    fail_with "published $(published_count) verdicts, the last $(published_verdict)"
  assert_stopped
}

@test "on a full /run a touch of the keep-alive still keeps the box up, and is remembered" {
  mount_small_run
  run_check
  fill_run
  tick
  touch_keepalive
  run_check
  assert_success
  assert_output_has 'active (keepalive) |'
  # Two minutes on, the touch is dated from the check that first saw it: that check's state was kept.
  tick
  tick
  run_check
  [[ $(verdict keepalive) == 'keepalive: ACTIVE (touched 120s ago, keeps the box up for 60 min)' ]] || fail_with "$(verdict keepalive)"
  [[ $(published_count) == 3 && $(published_verdict) == 0 ]] ||
    fail_with "published $(published_count) verdicts, the last $(published_verdict)"
  refute_stopped
}

@test "with no room for a new state file, the state is written over the old one, to its old length" {
  # /dev/full answers every write with ENOSPC, as a full tmpfs answers a file that needs a new page.
  run_check
  local size
  size=$(stat -c %s "$TS_STATE_DIR/state")
  ln -s /dev/full "$TS_STATE_DIR/state.new"
  tick
  run_check
  assert_success
  assert_output_has 'idle 1/3 min | '
  grep -qx 'last-check=366000' "$TS_STATE_DIR/state" || fail_with "$(cat "$TS_STATE_DIR/state")"
  [[ $(stat -c %s "$TS_STATE_DIR/state") == "$size" ]] || fail_with "state is $(stat -c %s "$TS_STATE_DIR/state") bytes, was $size"
  tick
  run_check
  assert_output_has 'idle 2/3 min | '
}

@test "fails loudly with no room and no state to write over: exit 1, nothing published, nothing stopped" {
  # The first check of a boot on a full /run: it has no idle window to judge by. A verdict of 0 every
  # minute would hold off the backstop for ever; silence lets it judge the box.
  mkdir -p "$TS_STATE_DIR"
  ln -s /dev/full "$TS_STATE_DIR/state.new"
  run_check
  [[ $status -eq 1 ]] || fail_with "expected exit 1, got $status"
  assert_output_has "ERROR: cannot write $TS_STATE_DIR/state (a full or read-only /run?): no verdict published, the CloudWatch backstop judges this box; the box keeps running"
  [[ $(published_count) == 0 ]] || fail_with "published $(published_count) verdicts"
  refute_stopped
}
