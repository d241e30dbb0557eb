#!/usr/bin/env bats
# The head's software: its State Manager document from a synthesized cluster stack, installed as State Manager
# runs it (the document's own command, TRAINIUM_SPOT_ROOT standing in for the head's /), and its two steps,
# munge-key.sh (the AWS CLI stubbed: stubs/aws-ssm) and nat.sh (iptables, sysctl and ip stubbed: stubs/recording).
# shellcheck disable=SC2154 # status and output are set by bats' `run`

load test_helper
load node_helper

setup_file() {
  export HEAD_STACK=$BATS_FILE_TMPDIR/out/stacks/trainium-spot-cluster/cdk.tf.json
  printf '{"cluster": {"nodes": 4}}' > "$BATS_FILE_TMPDIR/config.json"
  (cd "$REPO_ROOT" && TRAINIUM_SPOT_CONFIG=$BATS_FILE_TMPDIR/config.json CDKTF_OUTDIR=$BATS_FILE_TMPDIR/out node scripts/app.mjs) \
    > "$BATS_FILE_TMPDIR/synth.log" 2>&1 || { cat "$BATS_FILE_TMPDIR/synth.log" >&2; return 1; }
  # The units' PATH on the head has the AWS CLI (aws-cli.sh puts it there): here a stand-in that answers --version.
  mkdir -p "$BATS_FILE_TMPDIR/service-bin"
  printf '#!/bin/sh\necho "aws-cli/2.22.0 Python/3.12.6 Linux (stand-in)"\n' > "$BATS_FILE_TMPDIR/service-bin/aws"
  chmod +x "$BATS_FILE_TMPDIR/service-bin/aws"
}

setup() {
  export TS_SERVICE_PATH=$BATS_FILE_TMPDIR/service-bin TS_AWS=$CLUSTER_TESTS/stubs/aws-ssm
  export STUB_LOG=$BATS_TEST_TMPDIR/calls.log STUB_SSM_VALUE=$BATS_TEST_TMPDIR/parameter STUB_STATE=$BATS_TEST_TMPDIR/state
  HEAD=$BATS_TEST_TMPDIR/head
  MARKER=$(jq -r '.resource.aws_ssm_parameter[].value' "$HEAD_STACK")
  printf '%s' "$MARKER" > "$STUB_SSM_VALUE"
  : > "$STUB_LOG"
  mkdir -p "$HEAD"
  # The association's apply-time parameters, as SSM would pass them; /shared's mount through stubs (a mount table).
  export TS_PARAMETER_instanceArnPrefix='arn:aws:ec2:us-east-2:123456789012:instance/'
  export TS_PARAMETER_sharedStorageSource=fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/
  export TS_FAKE=$BATS_TEST_TMPDIR/fake TS_MOUNT_RETRY_SECONDS=0
  mkdir -p "$TS_FAKE"
  MOUNT_STUBS=$BATS_TEST_TMPDIR/mount-bin
  node_stubs "$MOUNT_STUBS" mount.nfs4 apt-get logger
  mount_table_stubs "$MOUNT_STUBS"
}

# install: the head document's command into $HEAD, as State Manager runs it; sets status and output.
install() { PATH=$MOUNT_STUBS:$PATH run node "$REPO_ROOT/__tests__/support/agent-root.mjs" "$HEAD_STACK" "$HEAD"; }

# packages_installed: dpkg's record on the head says every package the document asks for is installed, and AWS's
# CLI is where aws-cli.sh installs it.
packages_installed() {
  mkdir -p "$HEAD/var/lib/dpkg" "$HEAD/usr/local/bin"
  cp "$TS_SERVICE_PATH/aws" "$HEAD/usr/local/bin/aws"
  for package in munge slurmctld slurm-client iptables curl unzip; do
    printf 'Package: %s\nStatus: install ok installed\nMaintainer: x\nDescription: x\nVersion: 1\nArchitecture: amd64\n\n' "$package"
  done > "$HEAD/var/lib/dpkg/status"
}

tree_listing() {
  (cd "$1" && find . -printf '%p %y %m %s %T@ %i\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

@test "the head gets Slurm's packages first, then slurm.conf naming the head, cluster.conf, the programs, the timer and the NAT" {
  install
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Packages before anything else, from Ubuntu's archive, waiting for another apt at first boot.
  [[ ${lines[0]} == "trainium-spot agent: would run: apt-get -q -o DPkg::Lock::Timeout=300 update" ]]
  [[ ${lines[1]} == "trainium-spot agent: would run: apt-get -q -o DPkg::Lock::Timeout=300 -y install --no-install-recommends munge slurmctld slurm-client iptables curl unzip" ]]
  grep -qx 'SlurmctldHost=ip-10-42-0-10(10.42.0.10)' "$HEAD/etc/slurm/slurm.conf"
  grep -qx 'SlurmctldParameters=enable_configless' "$HEAD/etc/slurm/slurm.conf"
  grep -qx 'StateSaveLocation=/var/lib/slurm/slurmctld' "$HEAD/etc/slurm/slurm.conf"
  grep -qx 'NodeName=trainium-spot-\[1-4\] CPUs=128 RealMemory=524288 State=CLOUD' "$HEAD/etc/slurm/slurm.conf"
  grep -qx "TS_HEAD_HOST='10.42.0.10'" "$HEAD/etc/trainium-spot/cluster.conf"
  grep -qx "TS_MUNGE_KEY_PARAMETER='/trainium-spot/trainium-spot/cluster/munge-key'" "$HEAD/etc/trainium-spot/cluster.conf"
  local program copies=()
  for program in resume.sh suspend.sh resume-fail.sh reconcile.sh munge-key.sh nat.sh aws-cli.sh mount-shared.sh; do
    copies+=("cluster/$program" "$HEAD/usr/local/lib/trainium-spot/slurm/$program")
    [ "$(stat -c %a "$HEAD/usr/local/lib/trainium-spot/slurm/$program")" = 755 ]
  done
  # The programs without their comment lines (shippedCopy), every line of code as in src/userdata/cluster.
  node "$REPO_ROOT/__tests__/support/shipped-copy.mjs" --check "${copies[@]}" \
    cluster/lib.sh "$HEAD/usr/local/lib/trainium-spot/slurm/lib.sh" cluster/setup-lib.sh "$HEAD/usr/local/lib/trainium-spot/slurm/setup-lib.sh"
  [ ! -e "$HEAD/usr/local/lib/trainium-spot/slurm/node-bootstrap.sh" ]
  cmp "$PROGRAMS/trainium-spot-slurm-reconcile.timer" "$HEAD/etc/systemd/system/trainium-spot-slurm-reconcile.timer"
  grep -qx 'ExecStart=/usr/local/lib/trainium-spot/slurm/nat.sh 10.42.16.0/20' "$HEAD/etc/systemd/system/trainium-spot-nat.service"
  grep -qx 'net.ipv4.ip_forward = 1' "$HEAD/etc/sysctl.d/60-trainium-spot-nat.conf"
  # The units, enabled and (re)started with their new files; then the steps, in order: AWS's CLI, the munge key.
  local unit
  for unit in slurmctld.service trainium-spot-slurm-reconcile.timer trainium-spot-nat.service; do
    [[ $output == *"would run: systemctl enable $unit"$'\n'*"would run: systemctl restart $unit"* ]]
  done
  [[ $output == *"would install https://awscli.amazonaws.com/awscli-exe-linux-"*"trainium-spot munge key: generated a key"* ]]
  [ "$(base64 -d "$STUB_SSM_VALUE" | cmp - "$HEAD/etc/munge/munge.key" && echo same)" = same ]
}

@test "a second run on a head with the packages is the first: the same tree, nothing installed, started or restarted" {
  install
  [ "$status" -eq 0 ]
  packages_installed
  install
  [ "$status" -eq 0 ]
  local before
  before=$(tree_listing "$HEAD")
  install
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(tree_listing "$HEAD")" = "$before" ]
  [[ $output != *apt-get* && $output != *restart* && $output != *"would install"* ]]
  [[ $output == *"nothing to change"* ]]
  # The key was made once: later runs only read it.
  [ "$(grep -c put-parameter "$STUB_LOG")" -eq 1 ]
}

@test "the head gets the idle check with the slurm detector on, its ARN prefix, and /shared mounted before the munge key" {
  install
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  node "$REPO_ROOT/__tests__/support/shipped-copy.mjs" --check idle-check.sh "$HEAD/usr/local/sbin/trainium-spot-idle"
  [ "$(stat -c %a "$HEAD/usr/local/sbin/trainium-spot-idle")" = 755 ]
  grep -qx 'DETECT_SLURM=true' "$HEAD/etc/trainium-spot/idle.conf"
  grep -qx 'IDLE_MINUTES=3' "$HEAD/etc/trainium-spot/idle.conf"
  [ "$(cat "$HEAD/etc/trainium-spot/instance-arn-prefix")" = "$TS_PARAMETER_instanceArnPrefix" ]
  [[ $output == *"would run: systemctl enable trainium-spot-idle.timer"* ]]
  # mount-shared.sh, as on a node: the fstab line and the mount, after AWS's CLI and before the munge key.
  grep -q "^$TS_PARAMETER_sharedStorageSource /shared nfs4 " "$HEAD/etc/fstab"
  [ "$(grep -c "^mount -t nfs4 .* $TS_PARAMETER_sharedStorageSource $HEAD/shared\$" "$TS_FAKE/calls")" -eq 1 ]
  [[ $output == *"would install https://awscli"*"mount-shared: mounted $TS_PARAMETER_sharedStorageSource at /shared (nfs4)"*"trainium-spot munge key: generated a key"* ]]
}

@test "the head document takes its hash, the ARN prefix and the storage source, and refuses a source that is not one" {
  local content
  content=$(jq -r '.resource.aws_ssm_document[].content' "$HEAD_STACK" | sed 's/\$\${/${/g')
  [ "$(jq -r '.parameters | keys | join(",")' <<< "$content")" = documentHash,instanceArnPrefix,sharedStorageSource ]
  TS_PARAMETER_sharedStorageSource='x:/; reboot' install
  [ "$status" -ne 0 ]
  [[ $output == *"SSM would refuse"* ]]
  [ "$(jq -r '.mainSteps[0].inputs.timeoutSeconds' <<< "$content")" = 1800 ]
}

# ------------------------------------------------------------------------------------------- munge-key.sh
key_root() {
  mkdir -p "$HEAD/etc/trainium-spot"
  render "$HEAD/etc/trainium-spot/cluster.conf" cluster "{\"name\": \"lab\", \"clusterName\": \"demo\", \"region\": \"us-east-2\", \"market\": \"on-demand\",
    \"mungeKeyParameter\": \"/trainium-spot/lab/cluster/munge-key\", \"mungeKeyUnset\": \"$MARKER\"}"
}

munge_key() { TRAINIUM_SPOT_ROOT=$HEAD run "$PROGRAMS/munge-key.sh" "$@"; }

@test "munge-key --generate on the marker: 1024 random bytes, to the parameter from a private file, then to munge.key 0400, munged restarted" {
  key_root
  munge_key --generate
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(base64 -d "$STUB_SSM_VALUE" | wc -c)" -eq 1024 ]
  base64 -d "$STUB_SSM_VALUE" | cmp - "$HEAD/etc/munge/munge.key"
  [ "$(stat -c %a "$HEAD/etc/munge/munge.key")" = 400 ]
  [ "$(sed -n 2p "$STUB_LOG")" = "aws ssm put-parameter --name /trainium-spot/lab/cluster/munge-key --type SecureString --overwrite --value file://<mode 600> --region us-east-2" ]
  [[ $output == *"would run: chown munge:munge /etc/munge/munge.key"*"would run: systemctl restart munge.service"* ]]
}

@test "munge-key twice is once: the second run reads the key, writes nothing and only makes sure munged runs" {
  key_root
  munge_key --generate
  [ "$status" -eq 0 ]
  local key_before
  key_before=$(stat -c '%i %Y' "$HEAD/etc/munge/munge.key")
  : > "$STUB_LOG"
  munge_key --generate
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_LOG")" = "aws ssm get-parameter --name /trainium-spot/lab/cluster/munge-key --with-decryption --query Parameter.Value --output text --region us-east-2" ]
  [ "$(stat -c '%i %Y' "$HEAD/etc/munge/munge.key")" = "$key_before" ]
  [[ $output != *restart* && $output == *"would run: systemctl enable --now munge.service"* ]]
}

@test "munge-key replaces a key file that differs from the parameter's key (a node, or a head rebuilt), without --generate" {
  key_root
  head -c 1024 /dev/urandom | base64 -w 0 > "$STUB_SSM_VALUE"
  mkdir -p "$HEAD/etc/munge"
  echo "the package's own key" > "$HEAD/etc/munge/munge.key"
  munge_key
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  base64 -d "$STUB_SSM_VALUE" | cmp - "$HEAD/etc/munge/munge.key"
  [ "$(grep -c put-parameter "$STUB_LOG")" -eq 0 ]
  [[ $output == *"would run: systemctl restart munge.service"* ]]
}

@test "munge-key fails with 3 (not written yet) without --generate while the parameter holds the marker, and writes nothing" {
  key_root
  munge_key
  [ "$status" -eq 3 ]
  [[ $output == *"holds no key yet: the head writes it"* ]]
  [ ! -e "$HEAD/etc/munge/munge.key" ]
  [ "$(cat "$STUB_SSM_VALUE")" = "$MARKER" ]
}

@test "munge-key refuses (1) a value that is neither the marker nor a key, and never replaces it" {
  key_root
  printf 'c2hvcnQ=' > "$STUB_SSM_VALUE"
  munge_key --generate
  [ "$status" -eq 1 ]
  [[ $output == *"holds neither a base64 key of 32 bytes or more nor the marker; left as it is"* ]]
  [ "$(cat "$STUB_SSM_VALUE")" = c2hvcnQ= ]
  [ ! -e "$HEAD/etc/munge/munge.key" ]
}

@test "munge-key fails with 1 (refused) and the CLI's reason when SSM refuses the read" {
  key_root
  STUB_SSM_FAIL=1 munge_key --generate
  [ "$status" -eq 1 ]
  [[ $output == *"AccessDeniedException"*"cannot read /trainium-spot/lab/cluster/munge-key: SSM refused"* ]]
}

@test "munge-key fails with 4 (SSM not reached) when the CLI cannot connect (its 255)" {
  key_root
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  printf '#!/bin/sh
echo "Could not connect to the endpoint URL" >&2
exit 255
' > "$BATS_TEST_TMPDIR/bin/aws"
  chmod +x "$BATS_TEST_TMPDIR/bin/aws"
  TS_AWS=$BATS_TEST_TMPDIR/bin/aws munge_key
  [ "$status" -eq 4 ]
  [[ $output == *"Could not connect"*"cannot read /trainium-spot/lab/cluster/munge-key: SSM not reached (exit 255"* ]]
  [ ! -e "$HEAD/etc/munge/munge.key" ]
}

# ------------------------------------------------------------------------------------------- nat.sh
nat_stubs() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  local tool
  for tool in iptables sysctl ip; do ln -s "$CLUSTER_TESTS/stubs/recording" "$BATS_TEST_TMPDIR/bin/$tool"; done
  PATH=$BATS_TEST_TMPDIR/bin:$PATH
}

@test "nat turns forwarding on and masquerades the node subnet out of the default route's interface; twice is once" {
  nat_stubs
  run "$PROGRAMS/nat.sh" 10.42.16.0/20
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run "$PROGRAMS/nat.sh" 10.42.16.0/20
  [ "$status" -eq 0 ]
  [[ $output == *"already masquerade out of ens5"* ]]
  [ "$(grep -c 'sysctl -q -w net.ipv4.ip_forward=1' "$STUB_LOG")" -eq 1 ]
  [ "$(grep -c 'iptables -w -t nat -A POSTROUTING -s 10.42.16.0/20 -o ens5 -j MASQUERADE' "$STUB_LOG")" -eq 1 ]
  [ "$(grep -c 'iptables -w -t nat -C POSTROUTING -s 10.42.16.0/20 -o ens5 -j MASQUERADE' "$STUB_LOG")" -eq 2 ]
  [ "$(cat "$STUB_STATE/iptables")" = "-w -t nat POSTROUTING -s 10.42.16.0/20 -o ens5 -j MASQUERADE" ]
}

@test "nat leaves forwarding alone when it is on already" {
  nat_stubs
  STUB_SYSCTL_VALUE=1 run "$PROGRAMS/nat.sh" 10.42.16.0/20
  [ "$status" -eq 0 ]
  run grep -c 'sysctl -q -w' "$STUB_LOG"
  [ "$output" = 0 ]
}

@test "nat fails on anything but a CIDR block, and changes nothing" {
  nat_stubs
  run "$PROGRAMS/nat.sh" '10.42.16.0/20; reboot'
  [ "$status" -eq 1 ]
  [[ $output == *"usage: nat.sh NODE_SUBNET_CIDR"* ]]
  [ ! -s "$STUB_LOG" ]
}
