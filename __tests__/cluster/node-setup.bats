#!/usr/bin/env bats
# The compute node's first boot, from its user data: the cloud-config src/cluster/node-user-data.ts renders is
# unpacked into a fake root as cloud-init's write_files would (node-user-data-root.ts), and its runcmd runs there
# with TS_ROOT pointing at it. apt-get, aws, systemctl, chown and the mount tools are recorded stubs; the munge key
# the stubbed SSM hands out is checked byte for byte. The munge key step is the head's munge-key.sh, which under a
# test root prints the chown and systemctl it would run. The unit's slurmd start runs the real node-bootstrap.sh
# against a loopback IMDS.
# shellcheck disable=SC2030,SC2031 # each test changes its own environment

load node_helper

EFS=fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/
HEAD=10.42.0.10
PARAMETER=/trainium-spot/lab/cluster/munge-key
UNSET='unset: the head writes the key at its first boot'

setup_file() {
  export TEMPLATE_ROOT=$BATS_FILE_TMPDIR/root
  local props
  props=$(printf '{"cluster": {"name": "lab", "clusterName": "lab", "region": "us-east-2", "market": "spot", "headHost": "%s"},
    "mungeKeyParameterName": "%s", "mungeKeyUnset": "%s", "sharedStorage": {"type": "efs", "mountSource": "%s"}}' \
    "$HEAD" "$PARAMETER" "$UNSET" "$EFS")
  (cd "$REPO_ROOT" && node_modules/.bin/ts-node --transpile-only "$NODE_TESTS/node-user-data-root.ts" "$TEMPLATE_ROOT" "$props") \
    > "$BATS_FILE_TMPDIR/runcmd" 2> "$BATS_FILE_TMPDIR/render.log" || { cat "$BATS_FILE_TMPDIR/render.log" >&2; return 1; }
  # A munge key as mungekey(8) makes one: 1024 random bytes; SSM holds it as base64.
  head -c 1024 /dev/urandom > "$BATS_FILE_TMPDIR/munge.key"
  export KEY_FILE=$BATS_FILE_TMPDIR/munge.key KEY_BASE64
  KEY_BASE64=$(base64 -w0 "$KEY_FILE")
}

setup() {
  export TS_FAKE=$BATS_TEST_TMPDIR/fake ROOT=$BATS_TEST_TMPDIR/root
  export TS_ROOT=$ROOT TS_APT_RETRY_SECONDS=0 TS_APT_ATTEMPTS=2 TS_MUNGE_KEY_POLL_SECONDS=0 TS_MOUNT_RETRY_SECONDS=0
  STUBS=$BATS_TEST_TMPDIR/bin
  mkdir -p "$TS_FAKE"
  cp -a "$TEMPLATE_ROOT" "$ROOT"
  node_stubs "$STUBS" apt-get systemctl chown logger mount.nfs4
  mount_table_stubs "$STUBS"
  # aws: one answer a call from $TS_FAKE/aws.answers (the last one repeats); "!fail" is an error of the CLI.
  cat > "$STUBS/aws" << 'STUB'
#!/bin/sh
printf 'aws %s\n' "$*" >> "$TS_FAKE/calls"
answer=$(head -n 1 "$TS_FAKE/aws.answers")
[ "$(wc -l < "$TS_FAKE/aws.answers")" -gt 1 ] && sed -i 1d "$TS_FAKE/aws.answers"
[ "$answer" = '!fail' ] && { echo 'Could not connect to the endpoint URL' >&2; exit 255; }
printf '%s\n' "$answer"
STUB
  chmod 755 "$STUBS/aws"
  printf '%s\n' "$KEY_BASE64" > "$TS_FAKE/aws.answers"
}

teardown() {
  if [[ -n ${IMDS_PID:-} ]]; then kill "$IMDS_PID" 2> /dev/null || true; fi
}

# first_boot: the user data's runcmd, as cloud-init runs it (on this fake root).
first_boot() {
  local command
  command=$(cat "$BATS_FILE_TMPDIR/runcmd")
  run env PATH="$STUBS:$PATH" "$ROOT$command"
}

# line_of REGEX: the number of the first stub call that matches (0: none).
line_of() { grep -nE "$1" "$TS_FAKE/calls" | head -n 1 | cut -d: -f1 || true; }

@test "the user data runs node-setup.sh, which writes cluster.conf with the head's address and the parameter" {
  [[ $(cat "$BATS_FILE_TMPDIR/runcmd") == /usr/local/lib/trainium-spot/slurm/node-setup.sh ]]
  [[ -x $ROOT/usr/local/lib/trainium-spot/slurm/node-setup.sh && -x $ROOT/usr/local/lib/trainium-spot/slurm/node-bootstrap.sh ]]
  local program copies=()
  for program in node-setup.sh setup-lib.sh node-bootstrap.sh mount-shared.sh munge-key.sh node-guard.sh; do
    [[ -f $ROOT/usr/local/lib/trainium-spot/slurm/$program ]] || fail_with "$program not installed"
    copies+=("cluster/$program" "$ROOT/usr/local/lib/trainium-spot/slurm/$program")
  done
  # Each the shipped copy of its source (shippedCopy): the code byte for byte, without the comment lines.
  node "$REPO_ROOT/__tests__/support/shipped-copy.mjs" --check "${copies[@]}" || fail_with "a program differs from its source's shipped copy"
  # shellcheck source=/dev/null
  (source "$ROOT/etc/trainium-spot/cluster.conf" &&
    [[ $TS_HEAD_HOST == "$HEAD" && $TS_MUNGE_KEY_PARAMETER == "$PARAMETER" && $TS_MUNGE_KEY_UNSET == "$UNSET" &&
      $TS_REGION == us-east-2 && $TS_NODE_TAG_KEY == slurm:node && $TS_SHARED_STORAGE_TYPE == efs && $TS_SHARED_STORAGE_SOURCE == "$EFS" &&
      $TS_NODE_ORPHAN_MINUTES == 20 ]])
}

@test "first boot: the guard, Slurm and munge from the archive, the key from SSM (0400 munge), /shared, then slurmd under its unit" {
  # WHEN
  first_boot
  # THEN
  ((status == 0)) || fail_with "exit $status"
  # The orphan guard's timer, before anything else
  [[ $(grep -v '^logger' "$TS_FAKE/calls" | sed -n 2p) == "systemctl enable --now trainium-spot-node-guard.timer" ]] || fail_with "guard not first"
  (($(line_of '^systemctl daemon-reload$') < $(line_of '^systemctl enable --now trainium-spot-node-guard.timer$')))
  # The package's own slurmd.service is masked before the package can start it
  (($(line_of '^systemctl mask slurmd.service$') > 0 &&
    $(line_of '^systemctl mask slurmd.service$') < $(line_of '^apt-get .* install slurmd slurm-client munge$'))) || fail_with "mask/install order"
  [[ $(calls_matching '^apt-get .*-o DPkg::Lock::Timeout=300 .* install slurmd slurm-client munge$') == 1 ]]
  # The key, read in the cluster's Region with decryption, written byte for byte, 0400, munge's, by munge-key.sh
  [[ $(calls_matching "^aws ssm get-parameter --name $PARAMETER --with-decryption --query Parameter.Value --output text --region us-east-2\$") == 1 ]]
  cmp "$KEY_FILE" "$ROOT/etc/munge/munge.key" || fail_with "the key differs"
  [[ $(stat -c %a "$ROOT/etc/munge/munge.key") == 400 ]]
  [[ $output == *"would run: chown munge:munge /etc/munge/munge.key"*"wrote the cluster's key to /etc/munge/munge.key"*"would run: systemctl restart munge.service"*"step munge-key: done"* ]] ||
    fail_with "munge not (re)started after the key"
  # /shared
  [[ $(calls_matching "^mount -t nfs4 .* $EFS $ROOT/shared\$") == 1 ]] || fail_with "no mount"
  # slurmd last, under its unit
  [[ $(grep -v '^logger' "$TS_FAKE/calls" | tail -n 1) == "systemctl enable --now trainium-spot-slurmd.service" ]] || fail_with "slurmd not last"
  (($(line_of '^systemctl daemon-reload$') < $(line_of '^systemctl enable --now trainium-spot-slurmd.service$')))
  # The log says each step, in the file too
  local step
  for step in packages munge-key shared-storage slurmd; do
    grep -q "node-setup: step $step: done in " "$ROOT/var/log/trainium-spot-node-setup.log" || fail_with "no log of $step"
  done
  [[ $output == *"node-setup: done: trainium-spot-slurmd.service started"* ]]
}

@test "the key not written yet: the node waits for the head, then goes on" {
  printf '%s\n' "$UNSET" '!fail' "$UNSET" "$KEY_BASE64" > "$TS_FAKE/aws.answers"
  first_boot
  ((status == 0)) || fail_with "exit $status"
  [[ $(calls_matching '^aws ssm get-parameter') == 4 ]] || fail_with "not 4 reads"
  [[ $output == *"the munge key is not written yet (the head writes it at its first boot)"* ]]
  [[ $output == *"could not read $PARAMETER from SSM"* ]]
  cmp "$KEY_FILE" "$ROOT/etc/munge/munge.key"
  [[ $(calls_matching '^systemctl enable --now trainium-spot-slurmd.service$') == 1 ]]
}

@test "a key that never comes: bounded wait, a FAILED line, no slurmd and nothing after" {
  printf '%s\n' "$UNSET" > "$TS_FAKE/aws.answers"
  TS_MUNGE_KEY_WAIT_SECONDS=0 first_boot
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"no munge key in $PARAMETER after 0 s"* ]]
  [[ $output == *"FAILED: at step munge-key after "*" s: this node will not register with Slurm; slurmctld sets it DOWN when ResumeTimeout runs out and its instance is terminated"* ]] ||
    fail_with "no FAILED line"
  grep -q 'FAILED: at step munge-key' "$ROOT/var/log/trainium-spot-node-setup.log"
  [[ ! -e $ROOT/etc/munge/munge.key ]]
  [[ $(calls_matching '^mount |trainium-spot-slurmd') == 0 ]] || fail_with "went on"
}

@test "packages that cannot be installed: retried, then FAILED at step packages" {
  echo 100 > "$TS_FAKE/apt-get.exit"
  first_boot
  ((status == 1)) || fail_with "exit $status"
  [[ $(calls_matching '^apt-get .* update$') == 2 ]] || fail_with "not 2 attempts"
  [[ $output == *"apt-get could not install slurmd slurm-client munge (attempt 2 of 2)"* ]]
  [[ $output == *"FAILED: at step packages"* ]]
  [[ $(calls_matching '^aws |^mount |trainium-spot-slurmd') == 0 ]] || fail_with "went on"
}

@test "a parameter that holds no munge key: FAILED at once, without waiting, no key written" {
  printf '%s\n' "$(printf 'short' | base64)" > "$TS_FAKE/aws.answers"
  TS_MUNGE_KEY_WAIT_SECONDS=900 first_boot
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"$PARAMETER holds neither a base64 key of 32 bytes or more nor the marker"* &&
    $output == *"munge-key.sh refused the cluster's key (exit 1): waiting would not help"* && $output == *"FAILED: at step munge-key"* ]] || fail_with "no reason"
  [[ $(calls_matching '^aws ssm get-parameter') == 1 ]] || fail_with "waited"
  [[ ! -e $ROOT/etc/munge/munge.key && -z $(find "$ROOT/etc/munge" -name 'munge.key.*' 2> /dev/null) ]]
  [[ $(calls_matching '^mount |trainium-spot-slurmd') == 0 ]] || fail_with "went on"
}

@test "SSM refusing the read (the CLI's 254, e.g. AccessDenied) fails at once too" {
  cat > "$STUBS/aws" << 'STUB'
#!/bin/sh
printf 'aws %s\n' "$*" >> "$TS_FAKE/calls"
echo 'An error occurred (AccessDeniedException) when calling the GetParameter operation' >&2
exit 254
STUB
  TS_MUNGE_KEY_WAIT_SECONDS=900 first_boot
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"AccessDeniedException"*"SSM refused"*"FAILED: at step munge-key"* ]] || fail_with "no reason"
  [[ $(calls_matching '^aws ssm get-parameter') == 1 ]] || fail_with "waited"
}

@test "the slurmd unit: node-bootstrap.sh finds the node's name in IMDS and runs slurmd -N NAME --conf-server HEAD -D" {
  local unit=$ROOT/etc/systemd/system/trainium-spot-slurmd.service exec_start
  grep -qx 'Restart=on-failure' "$unit" && grep -qx 'Requires=munge.service' "$unit" && grep -qx 'LimitMEMLOCK=infinity' "$unit"
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  [[ $exec_start == "/usr/local/lib/trainium-spot/slurm/node-bootstrap.sh -D" ]] || fail_with "ExecStart=$exec_start"
  # GIVEN a loopback IMDS (IMDSv2) that knows this instance's slurm:node tag
  node -e '
    const http = require("http");
    const server = http.createServer((q, r) => {
      if (q.method === "PUT" && q.url === "/latest/api/token") return r.end("t0k3n");
      if (q.headers["x-aws-ec2-metadata-token"] !== "t0k3n") { r.statusCode = 401; return r.end(); }
      if (q.url === "/latest/meta-data/tags/instance/slurm:node") return r.end("lab-3");
      r.statusCode = 404; r.end();
    });
    server.listen(0, "127.0.0.1", () => require("fs").writeFileSync(process.argv[1], String(server.address().port)));
  ' "$BATS_TEST_TMPDIR/imds.port" &
  IMDS_PID=$!
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $BATS_TEST_TMPDIR/imds.port ]] && break; sleep 0.1; done
  node_stubs "$STUBS" slurmd
  # WHEN systemd runs the unit's command (on this root)
  # shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
  run env TS_CLUSTER_CONF="$ROOT/etc/trainium-spot/cluster.conf" TS_IMDS_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/imds.port")" \
    TS_SLURMD="$STUBS/slurmd" "$ROOT"$exec_start
  # THEN
  ((status == 0)) || fail_with "exit $status"
  [[ $(calls_matching "^slurmd -N lab-3 --conf-server $HEAD -D\$") == 1 ]] || fail_with "slurmd not started so"
}
