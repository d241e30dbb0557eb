#!/usr/bin/env bats
# The first-boot script that requires IMDSv2 on a spot box (spot requests cannot set it at launch),
# run unchanged with curl and aws stubbed.

setup() {
  load test_helper
  setup_box
  ln -s "$(command -v date)" "$BOX/sysbin/date"
  # As cloud-init writes it from the synthesized user data (setup_suite.bash).
  REQUIRE_IMDSV2=$TS_AGENT_ROOT/usr/local/sbin/trainium-spot-require-imdsv2
  export TS_LOG_FILE=$BOX/log/trainium-spot-imdsv2.log TS_PAUSE_SECONDS=0 TS_ATTEMPTS=3
  stub_does curl out 'i-0123456789abcdef0'
}

run_script() {
  run env PATH="$BOX/bin:$BOX/sysbin" "$REQUIRE_IMDSV2"
}

@test "requires session tokens and hop limit 1 on the box itself, through a token-guarded IMDS call" {
  install_stub "$BOX/bin" aws
  run_script
  assert_success
  grep -q '^begin curl -sf -X PUT -H X-aws-ec2-metadata-token-ttl-seconds: 300 http://169.254.169.254/latest/api/token$' \
    "$TS_FAKE/calls" || fail_with "no IMDSv2 token call"
  # (the curl stub answers every metadata path with the same text, so the region reads as the id)
  grep -Eq '^begin aws ec2 modify-instance-metadata-options --region [^ ]+ --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled$' \
    "$TS_FAKE/calls" || fail_with "$(grep '^begin aws' "$TS_FAKE/calls")"
  grep -q 'IMDSv2 required on i-0123456789abcdef0 (hop limit 1)' "$TS_LOG_FILE" || fail_with "$(cat "$TS_LOG_FILE")"
}

@test "retries while the call fails, then gives up with a warning and never fails the boot" {
  install_stub "$BOX/bin" aws
  stub_does aws exit 255
  run_script
  assert_success
  [[ $(grep -c '^begin aws' "$TS_FAKE/calls") == 3 ]] || fail_with "expected 3 attempts"
  grep -q 'WARNING: could not require IMDSv2 on this box after 3 attempts' "$TS_LOG_FILE" || fail_with "$(cat "$TS_LOG_FILE")"
}

@test "without the aws CLI it says so and leaves the boot alone" {
  rm -f "$BOX/bin/aws" # setup_box stubs it for the idle check's verdict
  run_script
  assert_success
  grep -q 'WARNING: no aws CLI on this AMI' "$TS_LOG_FILE" || fail_with "$(cat "$TS_LOG_FILE")"
  ! grep -q '^begin curl' "$TS_FAKE/calls" || fail_with "called IMDS for nothing"
}
