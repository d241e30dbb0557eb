#!/usr/bin/env bats
# shellcheck disable=SC2016 # hook bodies and the fake commands expand their variables when they run
# The spot interruption watcher (src/userdata/interruption-watch.sh, as the agent installs it) against a fake IMDSv2: a token first,
# then spot/instance-action and events/recommendations/rebalance, 404 until a notice is up.

setup() {
  WATCH=${TS_AGENT_ROOT:?setup_suite.bash installs the agent first}/usr/local/sbin/trainium-spot-interruption
  export FAKE=$BATS_TEST_TMPDIR/imds
  mkdir -p "$FAKE" "$BATS_TEST_TMPDIR/bin" "$BATS_TEST_TMPDIR/hooks"
  # curl as IMDSv2 answers it: PUT /latest/api/token gives a token; a GET needs it, and answers 404 until
  # $FAKE/<last path element> holds a notice.
  cat >"$BATS_TEST_TMPDIR/bin/curl" <<'CURL'
#!/bin/bash
printf 'curl %s\n' "$*" >>"$FAKE/calls"
url=${*: -1}
if [[ $* == *'-X PUT'* ]]; then printf 'token-1'; exit 0; fi
[[ $* == *'X-aws-ec2-metadata-token: token-1'* ]] || { printf '\n401'; exit 0; }
file=$FAKE/${url##*/}
if [[ -s $file ]]; then printf '%s\n200' "$(<"$file")"; else printf '\n404'; fi
CURL
  printf '#!/bin/bash\nprintf "wall %%s\\n" "$*" >>"$FAKE/calls"\n' >"$BATS_TEST_TMPDIR/bin/wall"
  chmod +x "$BATS_TEST_TMPDIR/bin/curl" "$BATS_TEST_TMPDIR/bin/wall"
  export PATH=$BATS_TEST_TMPDIR/bin:$PATH TS_HOOK_DIR=$BATS_TEST_TMPDIR/hooks TS_POLL_SECONDS=0 TS_MAX_POLLS=3
}

hook() {
  printf '#!/bin/bash\n%s\n' "$2" >"$TS_HOOK_DIR/$1"
  chmod +x "$TS_HOOK_DIR/$1"
}

@test "no notice: polls both paths with an IMDSv2 token, warns nobody, runs no hook" {
  hook save 'touch "$FAKE/hook-ran"'
  run "$WATCH"
  [[ $status -eq 0 ]]
  grep -q -- "-X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 21600 http://169.254.169.254/latest/api/token" "$FAKE/calls"
  grep -q -- "X-aws-ec2-metadata-token: token-1 http://169.254.169.254/latest/meta-data/spot/instance-action" "$FAKE/calls"
  grep -q -- "X-aws-ec2-metadata-token: token-1 http://169.254.169.254/latest/meta-data/events/recommendations/rebalance" "$FAKE/calls"
  [[ $(grep -c -- '-X PUT' "$FAKE/calls") == 1 ]] # one token for all polls
  [[ $(grep -c '^wall' "$FAKE/calls") == 0 ]]
  [[ ! -e $FAKE/hook-ran ]]
}

@test "an interruption notice warns every terminal and runs each hook once, with the notice" {
  printf '{"action": "stop", "time": "2026-12-01T21:00:00Z"}' >"$FAKE/instance-action"
  hook save 'printf "%s|%s\n" "$1" "$2" >>"$FAKE/hook-args"'
  run "$WATCH"
  [[ $status -eq 0 ]]
  [[ $(grep -c '^wall' "$FAKE/calls") == 1 ]]
  grep -q '^wall trainium-spot: AWS interruption notice for this spot box: {"action": "stop"' "$FAKE/calls"
  [[ $(cat "$FAKE/hook-args") == 'interruption|{"action": "stop", "time": "2026-12-01T21:00:00Z"}' ]]
  [[ $output == *"hook $TS_HOOK_DIR/save: exit 0"* ]]
}

@test "a rebalance recommendation runs the hooks as well" {
  printf '{"noticeTime": "2026-12-01T20:58:00Z"}' >"$FAKE/rebalance"
  hook save 'printf "%s\n" "$1" >>"$FAKE/hook-args"'
  run "$WATCH"
  [[ $(cat "$FAKE/hook-args") == rebalance ]]
}

@test "a slow hook is cut off, and the others still run within the time" {
  export TS_HOOK_TIMEOUT_SECONDS=1 TS_MAX_POLLS=1
  printf '{"action": "terminate", "time": "2026-12-01T21:00:00Z"}' >"$FAKE/instance-action"
  hook 1-slow 'sleep 30'
  hook 2-quick 'touch "$FAKE/quick-ran"'
  SECONDS=0
  run "$WATCH"
  ((SECONDS < 10))
  [[ -e $FAKE/quick-ran ]]
  [[ $output == *"hook $TS_HOOK_DIR/1-slow: exit 124"* ]]
}

@test "a hook directory that is a file is logged, and the warning still goes out" {
  rm -r "$TS_HOOK_DIR"
  touch "$TS_HOOK_DIR"
  printf '{"action": "stop", "time": "2026-12-01T21:00:00Z"}' >"$FAKE/instance-action"
  run "$WATCH"
  [[ $status -eq 0 ]]
  [[ $output == *"WARNING: $TS_HOOK_DIR is not a directory; no hooks run"* ]]
  grep -q '^wall' "$FAKE/calls"
}

