#!/usr/bin/env bats
# shellcheck disable=SC2016 # the node and bash -c programs expand their variables when they run
# shellcheck disable=SC2154 # TS_PARAMETER_instanceArnPrefix: setup_suite.bash exports it, as the association passes it
# The box agent's installer, run the way State Manager runs it: the SSM document's own command from a
# synthesized stack (__tests__/support/agent-root.mjs), with TRAINIUM_SPOT_ROOT pointing at a directory
# that stands in for the box's /. setup_suite.bash has already installed the default stack's agent into
# $TS_AGENT_ROOT once; each test copies that box or installs afresh.

setup_file() {
  # Two more configurations, synthesized once for the file: hostile process patterns, and the idle check off.
  export HOSTILE_MARKER=$BATS_FILE_TMPDIR/pwned
  node "$BATS_TEST_DIRNAME/fixtures/hostile-config.mjs" "$HOSTILE_MARKER" "$BATS_FILE_TMPDIR/hostile.json" "$BATS_FILE_TMPDIR/hostile.expected"
  printf '{"idle": {"enabled": false}}' >"$BATS_FILE_TMPDIR/idle-off.json"
  synth_config hostile
  synth_config idle-off
}

# synth_config NAME: the stack of $BATS_FILE_TMPDIR/NAME.json in $BATS_FILE_TMPDIR/NAME.out.
synth_config() {
  (cd "$TS_REPO_ROOT" && TRAINIUM_SPOT_CONFIG=$BATS_FILE_TMPDIR/$1.json CDKTF_OUTDIR=$BATS_FILE_TMPDIR/$1.out node scripts/app.mjs) \
    >"$BATS_FILE_TMPDIR/$1.log" 2>&1
}

setup() {
  BOX_ROOT=$BATS_TEST_TMPDIR/root
  cp -a "$TS_AGENT_ROOT" "$BOX_ROOT"
}

# install_from STACK_JSON [ROOT]: the document's command against ROOT (default: this test's box); sets status/output.
install_from() {
  run node "$TS_REPO_ROOT/__tests__/support/agent-root.mjs" "$1" "${2:-$BOX_ROOT}"
}

# The tree with each entry's type, mode, size, modification time, inode and content hash: equal trees
# mean nothing was written, not even the same bytes again.
tree_listing() {
  (cd "$1" && find . -printf '%p %y %m %s %T@ %i\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

fail_with() {
  printf '%s\n' "$@" "output: $output" >&2
  return 1
}

@test "installs every file of the document from the synthesized stack, as the document has it and with its mode" {
  # setup_suite installed the default stack's document into TS_AGENT_ROOT.
  local source
  # The programs without their comment lines (shippedCopy), every line of code as in src/userdata; the rest as they are.
  node "$TS_REPO_ROOT/__tests__/support/shipped-copy.mjs" --check idle-check.sh "$BOX_ROOT/usr/local/sbin/trainium-spot-idle" \
    interruption-watch.sh "$BOX_ROOT/usr/local/sbin/trainium-spot-interruption"
  for source in trainium-spot-idle.service:etc/systemd/system/trainium-spot-idle.service \
    trainium-spot-neuron-monitor.service:etc/systemd/system/trainium-spot-neuron-monitor.service \
    neuron-monitor.json:etc/trainium-spot/neuron-monitor.json trainium-spot-idle.logrotate:etc/logrotate.d/trainium-spot-idle; do
    cmp "$TS_REPO_ROOT/src/userdata/${source%%:*}" "$BOX_ROOT/${source#*:}" || fail_with "${source#*:} differs"
  done
  cmp "$TS_REPO_ROOT/__tests__/userdata/fixtures/idle.conf" "$BOX_ROOT/etc/trainium-spot/idle.conf"
  [[ $(stat -c %a "$BOX_ROOT/usr/local/sbin/trainium-spot-idle") == 755 ]]
  [[ $(stat -c %a "$BOX_ROOT/etc/trainium-spot/idle.conf") == 644 ]]
  grep -qx 'OnUnitActiveSec=60s' "$BOX_ROOT/etc/systemd/system/trainium-spot-idle.timer"
  # The ARN of the instances up to the id, as the association passed it: the idle check names its namespace from it.
  [[ $(<"$BOX_ROOT/etc/trainium-spot/instance-arn-prefix") == "$TS_PARAMETER_instanceArnPrefix" ]] || fail_with "no ARN prefix"
  [[ $(stat -c %a "$BOX_ROOT/etc/trainium-spot/instance-arn-prefix") == 644 ]]
  # What it installed is recorded, with the hash the association passed.
  local hash
  hash=$(node -e 'console.log(Object.values(require(process.argv[1]).resource.aws_ssm_association)[0].parameters.documentHash)' "$TS_STACK_JSON")
  [[ $hash =~ ^[0-9a-f]{64}$ ]]
  node -e '
    const record = require(process.argv[1]);
    const expected = { project: "trainium-spot", version: require(process.argv[2]).version, documentHash: process.argv[3] };
    for (const [key, value] of Object.entries(expected)) if (record[key] !== value) throw new Error(`${key}: ${record[key]}`);
    if (!/^aws-cli\/2/.test(record.awsCli)) throw new Error(`awsCli: ${record.awsCli}`);
    if (!record.files.includes("/usr/local/sbin/trainium-spot-idle")) throw new Error("files");
    if (Number.isNaN(Date.parse(record.installedAt))) throw new Error("installedAt");
  ' "$BOX_ROOT/etc/trainium-spot/agent.json" "$TS_REPO_ROOT/package.json" "$hash"
}

@test "a second run is the first: the same tree to the inode and modification time, and no unit restarted" {
  local before
  before=$(tree_listing "$BOX_ROOT")
  install_from "$TS_STACK_JSON"
  ((status == 0)) || fail_with "exit $status"
  [[ $(tree_listing "$BOX_ROOT") == "$before" ]] || fail_with "the tree changed"
  [[ $output == *": nothing to change"* ]] || fail_with "no 'nothing to change'"
  [[ $output != *restart* && $output != *daemon-reload* ]] || fail_with "a unit was restarted"
  # Drift is mended, nothing is restarted: an enabled unit is (re)enabled and started only if stopped.
  [[ $output == *"would run: systemctl enable --now trainium-spot-idle.timer"* ]] || fail_with "the timer is not kept enabled"
}

@test "a changed file restarts only the unit that uses it, after a daemon reload only for unit files" {
  # GIVEN the Neuron monitor's settings edited by hand, and the interruption watcher's script
  printf '{"period": "1s"}\n' >"$BOX_ROOT/etc/trainium-spot/neuron-monitor.json"
  printf '#!/bin/sh\n' >"$BOX_ROOT/usr/local/sbin/trainium-spot-interruption"
  # WHEN
  install_from "$TS_STACK_JSON"
  # THEN both are back, their units restarted, nothing else
  ((status == 0)) || fail_with "exit $status"
  cmp "$TS_REPO_ROOT/src/userdata/neuron-monitor.json" "$BOX_ROOT/etc/trainium-spot/neuron-monitor.json"
  node "$TS_REPO_ROOT/__tests__/support/shipped-copy.mjs" --check interruption-watch.sh "$BOX_ROOT/usr/local/sbin/trainium-spot-interruption"
  local restarts
  restarts=$(grep -o 'systemctl restart .*' <<<"$output" | sort | tr '\n' ' ')
  [[ $restarts == "systemctl restart trainium-spot-interruption.service systemctl restart trainium-spot-neuron-monitor.service " ]] ||
    fail_with "restarts: $restarts"
  [[ $output != *daemon-reload* ]] || fail_with "no unit file changed, yet a daemon-reload"
  # A changed unit file does reload systemd.
  printf '[Timer]\nOnUnitActiveSec=5s\n' >"$BOX_ROOT/etc/systemd/system/trainium-spot-idle.timer"
  install_from "$TS_STACK_JSON"
  [[ $output == *"systemctl daemon-reload"*"systemctl restart trainium-spot-idle.timer"* ]] || fail_with "timer not reloaded and restarted"
}

@test "a file is replaced by renaming a complete one over it, and a failed write leaves the old file" {
  # GIVEN an idle check that differs from the document's
  printf '#!/bin/bash\necho old\n' >"$BOX_ROOT/usr/local/sbin/trainium-spot-idle"
  local inode
  inode=$(stat -c %i "$BOX_ROOT/usr/local/sbin/trainium-spot-idle")
  # WHEN
  install_from "$TS_STACK_JSON"
  # THEN a new inode (a rename, never an overwrite in place) and nothing left beside it
  [[ $(stat -c %i "$BOX_ROOT/usr/local/sbin/trainium-spot-idle") != "$inode" ]] || fail_with "written in place"
  [[ -z $(find "$BOX_ROOT" -name '*.trainium-spot-new.*') ]] || fail_with "a temporary file was left"
  # GIVEN the installer with a manifest whose content does not decode
  node "$TS_REPO_ROOT/__tests__/support/agent-root.mjs" "$TS_STACK_JSON" --command |
    sed -n "/^cat >\"\$work\/install-agent.sh\" <<'TRAINIUM_SPOT_INSTALLER'\$/,/^TRAINIUM_SPOT_INSTALLER\$/p" | sed '1d;$d' >"$BATS_TEST_TMPDIR/install-agent.sh"
  printf 'version 9\nfile /usr/local/sbin/trainium-spot-idle 0755 bm90IGd6aXA=\n' >"$BATS_TEST_TMPDIR/manifest"
  cp "$BOX_ROOT/usr/local/sbin/trainium-spot-idle" "$BATS_TEST_TMPDIR/before"
  # WHEN
  run env TRAINIUM_SPOT_ROOT="$BOX_ROOT" bash "$BATS_TEST_TMPDIR/install-agent.sh" "$BATS_TEST_TMPDIR/manifest" unknown
  # THEN it fails saying so, and the old file is whole
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"FAILED: cannot decode /usr/local/sbin/trainium-spot-idle"* ]] || fail_with "no reason"
  cmp "$BATS_TEST_TMPDIR/before" "$BOX_ROOT/usr/local/sbin/trainium-spot-idle"
  [[ -z $(find "$BOX_ROOT" -name '*.trainium-spot-new.*') ]] || fail_with "a temporary file was left"
}

@test "a box that got the agent from user data is upgraded in place, its state kept" {
  # GIVEN a box as the earlier user data left it: the same paths with older files, and the check's state
  local box=$BATS_TEST_TMPDIR/old-box
  mkdir -p "$box/usr/local/sbin" "$box/etc/trainium-spot" "$box/etc/systemd/system" "$box/run/trainium-spot"
  printf '#!/usr/bin/env bash\n# an older idle check\n' >"$box/usr/local/sbin/trainium-spot-idle"
  printf 'IDLE_MINUTES=30\n' >"$box/etc/trainium-spot/idle.conf"
  printf '[Timer]\nOnUnitActiveSec=60s\n' >"$box/etc/systemd/system/trainium-spot-idle.timer"
  printf '1700000000\n' >"$box/run/trainium-spot/keepalive"
  printf 'boot=6f1c last_activity=1699999000\n' >"$box/run/trainium-spot/state"
  : >"$box/run/trainium-spot/lock"
  touch -d '2026-11-01 10:00:00' "$box/run/trainium-spot/"*
  local state_before
  state_before=$(tree_listing "$box/run")
  # WHEN
  install_from "$TS_STACK_JSON" "$box"
  # THEN the agent's files are the document's, the state is as it was, and the upgrade is recorded
  ((status == 0)) || fail_with "exit $status"
  node "$TS_REPO_ROOT/__tests__/support/shipped-copy.mjs" --check idle-check.sh "$box/usr/local/sbin/trainium-spot-idle"
  cmp "$TS_REPO_ROOT/__tests__/userdata/fixtures/idle.conf" "$box/etc/trainium-spot/idle.conf"
  [[ $(tree_listing "$box/run") == "$state_before" ]] || fail_with "the state changed"
  [[ -f $box/etc/trainium-spot/agent.json ]]
}

@test "fails with the reason when the units' PATH has no AWS CLI, after installing everything else" {
  # GIVEN an empty box and a PATH without aws
  local box=$BATS_TEST_TMPDIR/no-aws
  mkdir -p "$box" "$BATS_TEST_TMPDIR/empty-bin"
  # WHEN
  TS_SERVICE_PATH=$BATS_TEST_TMPDIR/empty-bin install_from "$TS_STACK_JSON" "$box"
  # THEN a failed run (State Manager shows it as failed, with this line), and a complete install
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"FAILED: no working AWS CLI (aws --version) under the units' PATH ($BATS_TEST_TMPDIR/empty-bin): the idle check cannot publish its verdict"* ]] ||
    fail_with "no reason"
  node "$TS_REPO_ROOT/__tests__/support/shipped-copy.mjs" --check idle-check.sh "$box/usr/local/sbin/trainium-spot-idle"
  grep -q '"awsCli": "",' "$box/etc/trainium-spot/agent.json"
}

@test "with the idle check switched off, a box that had it loses its units and files" {
  [[ -f $BATS_FILE_TMPDIR/idle-off.out/stacks/trainium-spot/cdk.tf.json ]] || fail_with "synth failed: $(cat "$BATS_FILE_TMPDIR/idle-off.log")"
  # WHEN the idle-off stack's document runs on a box that has the default agent
  install_from "$BATS_FILE_TMPDIR/idle-off.out/stacks/trainium-spot/cdk.tf.json"
  # THEN the timer and feed are stopped first, then their files go; the interruption watcher stays
  ((status == 0)) || fail_with "exit $status"
  [[ $output == *"systemctl disable --now trainium-spot-idle.timer"*"systemctl daemon-reload"* ]] || fail_with "units not stopped"
  [[ ! -e $BOX_ROOT/usr/local/sbin/trainium-spot-idle && ! -e $BOX_ROOT/etc/trainium-spot/idle.conf ]] || fail_with "files left"
  [[ ! -e $BOX_ROOT/etc/trainium-spot/instance-arn-prefix ]] || fail_with "ARN prefix left"
  [[ ! -e $BOX_ROOT/etc/systemd/system/trainium-spot-idle.timer ]] || fail_with "timer left"
  [[ -e $BOX_ROOT/usr/local/sbin/trainium-spot-interruption ]]
  # No verdict to publish: a missing AWS CLI is only a note.
  TS_SERVICE_PATH=/nonexistent install_from "$BATS_FILE_TMPDIR/idle-off.out/stacks/trainium-spot/cdk.tf.json"
  ((status == 0)) || fail_with "exit $status"
  [[ $output == *"note: no working AWS CLI"* ]]
}

@test "hostile process patterns reach the box byte for byte through Terraform JSON and SSM, and nothing in them runs" {
  [[ -f $BATS_FILE_TMPDIR/hostile.out/stacks/trainium-spot/cdk.tf.json ]] || fail_with "synth failed: $(cat "$BATS_FILE_TMPDIR/hostile.log")"
  # WHEN
  install_from "$BATS_FILE_TMPDIR/hostile.out/stacks/trainium-spot/cdk.tf.json"
  # THEN
  ((status == 0)) || fail_with "exit $status"
  bash -c 'set -eu; source "$1"; printf "%s\0" "${PROCESS_PATTERNS[@]}"' bash "$BOX_ROOT/etc/trainium-spot/idle.conf" >"$BATS_TEST_TMPDIR/actual"
  cmp "$BATS_FILE_TMPDIR/hostile.expected" "$BATS_TEST_TMPDIR/actual" || fail_with "patterns differ"
  [[ ! -e $HOSTILE_MARKER ]] || fail_with "a pattern ran"
}

@test "fails at synth, in one line naming the field, when a process pattern holds a line break" {
  printf '{"idle": {"processPatterns": ["torchrun", "a\\nb"]}}' >"$BATS_TEST_TMPDIR/newline.json"
  run env TRAINIUM_SPOT_CONFIG="$BATS_TEST_TMPDIR/newline.json" CDKTF_OUTDIR="$BATS_TEST_TMPDIR/out" node "$TS_REPO_ROOT/scripts/app.mjs"
  ((status == 1)) || fail_with "exit $status"
  [[ ${#lines[@]} -eq 1 && ${lines[0]} == "trainium-spot: "*'idle.processPatterns.1 "a\nb" must be one line'* ]] || fail_with "not one line"
  [[ ! -e $BATS_TEST_TMPDIR/out/stacks ]] || fail_with "partial output"
}

@test "a new public key reaches a running box: the key the agent authorized before goes, keys added by hand stay" {
  local first='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKeyFirstKeyFirstKeyFirstKeyFirstKey1'
  local second='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecondKeySecondKeySecondKeySecondKey22'
  local keys=$BOX_ROOT/home/ubuntu/.ssh/authorized_keys
  # GIVEN the box as EC2 launched it with the first key (cloud-init adds the key pair's name), and a key added by hand
  mkdir -p "${keys%/*}"
  printf '%s trainium-spot-2026\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQHand colleague@laptop\n' "$first" >"$keys"
  # WHEN the agent runs with the first key: nothing to change in the file
  TS_PARAMETER_sshPublicKey=$first install_from "$TS_STACK_JSON"
  ((status == 0)) || fail_with "exit $status"
  [[ $(<"$keys") == "$first trainium-spot-2026"$'\n'"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQHand colleague@laptop" ]] || fail_with "$(<"$keys")"
  # WHEN the config's key is rotated
  TS_PARAMETER_sshPublicKey=$second install_from "$TS_STACK_JSON"
  # THEN the old key is gone, the new one is in, the hand-added one stays, and only the owner can read it
  ((status == 0)) || fail_with "exit $status"
  [[ $(<"$keys") == "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQHand colleague@laptop"$'\n'"$second" ]] || fail_with "$(<"$keys")"
  [[ $(stat -c %a "$keys") == 600 ]]
  # AND once more changes nothing
  local before
  before=$(tree_listing "$BOX_ROOT")
  TS_PARAMETER_sshPublicKey=$second install_from "$TS_STACK_JSON"
  [[ $(tree_listing "$BOX_ROOT") == "$before" ]] || fail_with "the tree changed"
}

@test "a public key with anything but a key's characters is refused before it reaches the box" {
  TS_PARAMETER_sshPublicKey="ssh-ed25519 AAAA'; touch $BATS_TEST_TMPDIR/pwned; '" install_from "$TS_STACK_JSON"
  ((status != 0)) || fail_with "accepted"
  [[ $output == *"SSM would refuse"* ]] || fail_with "no reason"
  [[ ! -e $BATS_TEST_TMPDIR/pwned ]]
}

@test "an instance ARN prefix of another region, or with anything but an ARN's characters, is refused before it reaches the box" {
  local bad
  for bad in 'arn:aws:ec2:us-west-2:123456789012:instance/' "arn:aws:ec2:us-east-2:123456789012:instance/'; touch $BATS_TEST_TMPDIR/pwned; '" ''; do
    TS_PARAMETER_instanceArnPrefix=$bad install_from "$TS_STACK_JSON"
    ((status != 0)) || fail_with "accepted $bad"
    [[ $output == *"SSM would refuse"* ]] || fail_with "no reason"
  done
  [[ ! -e $BATS_TEST_TMPDIR/pwned ]]
}

@test "a box gets its ARN prefix before the check that reads it, and a changed one replaces the file whole" {
  # GIVEN a box whose prefix names another account (the stack moved), and an older idle check
  printf 'arn:aws:ec2:us-east-2:210987654321:instance/\n' >"$BOX_ROOT/etc/trainium-spot/instance-arn-prefix"
  printf '#!/bin/bash\necho old\n' >"$BOX_ROOT/usr/local/sbin/trainium-spot-idle"
  local inode
  inode=$(stat -c %i "$BOX_ROOT/etc/trainium-spot/instance-arn-prefix")
  # WHEN
  install_from "$TS_STACK_JSON"
  # THEN the association's prefix, renamed over the old one, and the run says it changed the file
  ((status == 0)) || fail_with "exit $status"
  [[ $(<"$BOX_ROOT/etc/trainium-spot/instance-arn-prefix") == "$TS_PARAMETER_instanceArnPrefix" ]] || fail_with "not replaced"
  [[ $(stat -c %i "$BOX_ROOT/etc/trainium-spot/instance-arn-prefix") != "$inode" ]] || fail_with "written in place"
  # AND the prefix is in place before the new check, which the timer may start at any moment after its rename
  [[ $output == *"installed (document "*": /etc/trainium-spot/instance-arn-prefix /usr/local/sbin/trainium-spot-idle"* ]] ||
    fail_with "not written first"
}
