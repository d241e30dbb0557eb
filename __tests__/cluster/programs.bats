#!/usr/bin/env bats
# The power-saving programs (src/userdata/cluster) against the loopback EC2 stand-in and the real AWS CLI,
# with scontrol and sinfo stubbed: what each asks of EC2 and tells Slurm. The real-Slurm tests are slurm-*.bats.
# shellcheck disable=SC2030,SC2031 # each test changes its own environment

load test_helper

setup_file() {
  export CONF_DIR=$BATS_FILE_TMPDIR/conf
  mkdir -p "$CONF_DIR"
  local base='"name": "lab", "clusterName": "demo", "region": "us-east-2", "headHost": "10.209.0.1"'
  render "$CONF_DIR/spot.conf" cluster "{$base, \"market\": \"spot\", \"placementGroupName\": \"lab-pg\", \"capacityRetryMinutes\": 1}" \
    "$CONF_DIR/on-demand.conf" cluster "{$base, \"market\": \"on-demand\"}" \
    "$CONF_DIR/capacity-block.conf" cluster "{$base, \"market\": \"capacity-block\", \"capacityReservationId\": \"cr-0123456789abcdef0\"}" \
    "$CONF_DIR/port.conf" cluster "{$base, \"market\": \"spot\", \"headPort\": 16817}"
}

setup() {
  command -v "$(aws_cli)" > /dev/null || skip "no AWS CLI (Debian: apt-get install awscli)"
  command -v jq > /dev/null || skip "no jq (apt-get install jq)"
  start_fake_ec2 "$BATS_TEST_TMPDIR/ec2"
  program_env "$CONF_DIR/spot.conf"
  export TS_SCONTROL=$CLUSTER_TESTS/stubs/scontrol TS_SINFO=$CLUSTER_TESTS/stubs/sinfo
  export STUB_LOG=$BATS_TEST_TMPDIR/stub.log STUB_SINFO=$BATS_TEST_TMPDIR/sinfo.txt
  : > "$STUB_LOG"
}

teardown() {
  stop_fake_ec2
}

# launched NODE...: each node's instance, launched in the stand-in by the RunInstances request resume.sh's CLI sends
# under spot.conf (the same parameters, recorded in calls.jsonl like the CLI's), posted directly: the state the tests
# of suspend, resume-fail, reconcile and node-bootstrap start from, without an AWS CLI start-up per instance (resume
# itself is what the tests above prove).
launched() {
  local node tags
  for node in "$@"; do
    tags="Tag.1.Key=Name&Tag.1.Value=$node&Tag.2.Key=trainium-spot:cluster&Tag.2.Value=demo&Tag.3.Key=slurm:node&Tag.3.Value=$node"
    curl -sf --max-time 30 -o /dev/null "$FAKE_EC2_URL/" --data "Action=RunInstances&Version=2016-11-15&Placement.GroupName=lab-pg\
&TagSpecification.1.ResourceType=instance&${tags//Tag./TagSpecification.1.Tag.}\
&TagSpecification.2.ResourceType=volume&${tags//Tag./TagSpecification.2.Tag.}\
&LaunchTemplate.LaunchTemplateName=lab-nodes&InstanceMarketOptions.MarketType=spot\
&InstanceMarketOptions.SpotOptions.SpotInstanceType=one-time&InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior=terminate\
&MinCount=1&MaxCount=1&ClientToken=$(cat /proc/sys/kernel/random/uuid)" || return 1
  done
}

# sinfo_says LINE...: what the stubbed sinfo prints (name|state|reason time|reason).
sinfo_says() { printf '%s\n' "$@" > "$STUB_SINFO"; }

@test "resume launches one spot instance per node from the launch template, into the placement group, tagged" {
  run "$PROGRAMS/resume.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  [ "$(calls RunInstances | wc -l)" -eq 2 ]
  # Each call: the launch template by name, one instance, spot one-time terminating, the placement group.
  [ "$(calls RunInstances '.params["LaunchTemplate.LaunchTemplateName"]' | sort -u)" = '"lab-nodes"' ]
  [ "$(calls RunInstances '[.params.MinCount, .params.MaxCount] | join(",")' | sort -u)" = '"1,1"' ]
  [ "$(calls RunInstances '.params["InstanceMarketOptions.MarketType"]' | sort -u)" = '"spot"' ]
  [ "$(calls RunInstances '.params["InstanceMarketOptions.SpotOptions.SpotInstanceType"]' | sort -u)" = '"one-time"' ]
  [ "$(calls RunInstances '.params["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"]' | sort -u)" = '"terminate"' ]
  [ "$(calls RunInstances '.params["Placement.GroupName"]' | sort -u)" = '"lab-pg"' ]
  # Tags on the instance and its volumes: Name, the cluster, the node.
  local tags
  tags=$(calls RunInstances '[.params | to_entries[] | select(.key | test("^TagSpecification\\.")) | .value] | join(" ")')
  [ "$(sed -n 1p <<< "$tags")" = '"instance Name demo-1 trainium-spot:cluster demo slurm:node demo-1 volume Name demo-1 trainium-spot:cluster demo slurm:node demo-1"' ]
  [ "$(sed -n 2p <<< "$tags")" = '"instance Name demo-2 trainium-spot:cluster demo slurm:node demo-2 volume Name demo-2 trainium-spot:cluster demo slurm:node demo-2"' ]
  # Slurm learns each node's address and host name.
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 nodeaddr=10.209.0.11 nodehostname=ip-10-209-0-11
scontrol update nodename=demo-2 nodeaddr=10.209.0.12 nodehostname=ip-10-209-0-12" ]
  [[ $output == *"demo-1 launched i-"*" at 10.209.0.11 (spot)"* ]]
}

@test "resume tries an update again when slurmctld is too busy to answer" {
  export STUB_SCONTROL_FAILURES=$BATS_TEST_TMPDIR/failures
  echo 1 > "$STUB_SCONTROL_FAILURES"
  run "$PROGRAMS/resume.sh" demo-1
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 nodeaddr=10.209.0.11 nodehostname=ip-10-209-0-11
scontrol update nodename=demo-1 nodeaddr=10.209.0.11 nodehostname=ip-10-209-0-11" ]
}

@test "resume on a Capacity Block targets the reservation, with no placement group" {
  program_env "$CONF_DIR/capacity-block.conf"
  run "$PROGRAMS/resume.sh" demo-3
  [ "$status" -eq 0 ]
  [ "$(calls RunInstances '.params["InstanceMarketOptions.MarketType"]')" = '"capacity-block"' ]
  [ "$(calls RunInstances '.params["CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId"]')" = '"cr-0123456789abcdef0"' ]
  [ "$(calls RunInstances '.params["Placement.GroupName"]')" = 'null' ]
  [ "$(calls RunInstances '.params["InstanceMarketOptions.SpotOptions.SpotInstanceType"]')" = 'null' ]
}

@test "resume on demand sends no market options" {
  program_env "$CONF_DIR/on-demand.conf"
  run "$PROGRAMS/resume.sh" demo-1
  [ "$status" -eq 0 ]
  [ "$(calls RunInstances '[.params | keys[] | select(test("^InstanceMarketOptions|^Placement|^CapacityReservation"))] | length')" = 0 ]
}

@test "resume run twice launches nothing the second time, and sets the address again" {
  run "$PROGRAMS/resume.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  : > "$STUB_LOG"
  run "$PROGRAMS/resume.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  [ "$(calls RunInstances | wc -l)" -eq 2 ]
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 nodeaddr=10.209.0.11 nodehostname=demo-1
scontrol update nodename=demo-2 nodeaddr=10.209.0.12 nodehostname=demo-2" ]
  [[ $output == *"demo-1 already has i-"* ]]
}

@test "resume refused for capacity sets the node DOWN with EC2's reason and launches nothing else" {
  control refuse '{"code": "InsufficientInstanceCapacity"}' > /dev/null
  run "$PROGRAMS/resume.sh" 'demo-[1-3]'
  [ "$status" -eq 0 ]
  # One refused call (the CLI tried it twice, the same request); no call for demo-2 or demo-3.
  [ "$(calls RunInstances '.params.ClientToken' | sort -u | wc -l)" -eq 1 ]
  [ "$(calls RunInstances '.outcome.error' | sort -u)" = '"InsufficientInstanceCapacity"' ]
  no_live_instances
  local reason='InsufficientInstanceCapacity: We currently do not have sufficient trn1.32xlarge capacity in the Availability Zone you requested (us-east-2a). [trainium-spot]'
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 nodeaddr=10.209.0.1
scontrol update nodename=demo-2 nodeaddr=10.209.0.1
scontrol update nodename=demo-3 nodeaddr=10.209.0.1
scontrol update nodename=demo-1 state=down reason=$reason
scontrol update nodename=demo-1 state=power_down
scontrol update nodename=demo-2 state=down reason=$reason
scontrol update nodename=demo-2 state=power_down
scontrol update nodename=demo-3 state=down reason=$reason
scontrol update nodename=demo-3 state=power_down" ]
  [[ $output == *"demo-1 launch refused: InsufficientInstanceCapacity: We currently"* ]]
  [[ $output == *"demo-3 DOWN, not launched: InsufficientInstanceCapacity: We currently"* ]]
}

@test "resume refused for spot instance count keeps EC2's own code" {
  control refuse '{"code": "MaxSpotInstanceCountExceeded", "message": "Max spot instance count exceeded"}' > /dev/null
  run "$PROGRAMS/resume.sh" demo-4
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-4 nodeaddr=10.209.0.1
scontrol update nodename=demo-4 state=down reason=MaxSpotInstanceCountExceeded: Max spot instance count exceeded [trainium-spot]
scontrol update nodename=demo-4 state=power_down" ]
}

@test "suspend terminates the nodes' instances, and run twice terminates nothing more" {
  launched demo-1 demo-2 demo-3
  run "$PROGRAMS/suspend.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  only_live demo-3
  [ "$(calls TerminateInstances '.params | [to_entries[] | select(.key | startswith("InstanceId")) ] | length')" = 2 ]
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 nodeaddr=demo-1 nodehostname=demo-1
scontrol update nodename=demo-2 nodeaddr=demo-2 nodehostname=demo-2" ]
  run "$PROGRAMS/suspend.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  [ "$(calls TerminateInstances | wc -l)" -eq 1 ]
  [[ $output == *"demo-1 has no instance"* ]]
}

@test "resume-fail terminates what the nodes launched and sets them DOWN with the reason" {
  launched demo-1
  run "$PROGRAMS/resume-fail.sh" 'demo-[1-2]'
  [ "$status" -eq 0 ]
  no_live_instances
  local id
  id=$(calls RunInstances '.outcome.instanceId' | tr -d '"')
  [ "$(cat "$STUB_LOG")" = "scontrol update nodename=demo-1 state=down reason=ResumeTimeout: slurmd did not register, terminated $id [trainium-spot]
scontrol update nodename=demo-2 state=down reason=ResumeTimeout: slurmd did not register [trainium-spot]" ]
}

@test "reconcile terminates instances of powered-down nodes and of no known node" {
  launched demo-1 demo-2 demo-9 # demo-9: a node this cluster does not have
  sinfo_says 'demo-1|idle~|Unknown|none' 'demo-2|allocated|Unknown|none' 'demo-3|idle~|Unknown|none'
  run "$PROGRAMS/reconcile.sh"
  [ "$status" -eq 0 ]
  only_live demo-2
  [[ $output == *"terminating i-"*": Slurm has powered demo-1 down"* ]]
  [[ $output == *": it carries no node of this cluster (demo-9)"* ]]
  [ "$(grep -c '^scontrol' "$STUB_LOG")" -eq 0 ]
  # A second pass finds nothing to do.
  run "$PROGRAMS/reconcile.sh"
  [ "$status" -eq 0 ]
  [ "$(calls TerminateInstances | wc -l)" -eq 2 ]
}

@test "reconcile leaves the instance of a node Slurm powered up again since the pass began" {
  launched demo-1
  sinfo_says 'demo-1|idle~|Unknown|none'
  export STUB_SINFO_NOW=$BATS_TEST_TMPDIR/sinfo-now.txt
  echo 'demo-1|alloc#|Unknown|none' > "$STUB_SINFO_NOW"
  run "$PROGRAMS/reconcile.sh"
  [ "$status" -eq 0 ]
  only_live demo-1
  [ "$(calls TerminateInstances | wc -l)" -eq 0 ]
}

@test "reconcile sets a node DOWN whose instance EC2 took away, with EC2's reason" {
  launched demo-1 demo-2
  control lose '{"node": "demo-1"}' > /dev/null
  : > "$STUB_LOG"
  sinfo_says 'demo-1|allocated|Unknown|none' 'demo-2|allocated|Unknown|none'
  run "$PROGRAMS/reconcile.sh"
  [ "$status" -eq 0 ]
  local id
  id=$(calls RunInstances '.outcome.instanceId' | head -n 1 | tr -d '"')
  [ "$(grep '^scontrol' "$STUB_LOG")" = "scontrol update nodename=demo-1 state=down reason=InstanceGone: $id terminated: Server.SpotInstanceTermination: Spot instance termination [trainium-spot]
scontrol update nodename=demo-1 state=power_down" ]
}

@test "reconcile returns its own DOWN nodes to service after the retry time, and leaves an administrator's alone" {
  local old recent
  old=$(date -d '-2 minutes' +%FT%T) recent=$(date -d '-10 seconds' +%FT%T)
  sinfo_says "demo-1|down~|$old|InsufficientInstanceCapacity: no capacity [trainium-spot]" \
    "demo-2|down~|$recent|InsufficientInstanceCapacity: no capacity [trainium-spot]" \
    "demo-3|down~|$old|disk swap, Ann" 'demo-4|idle~|Unknown|none'
  run "$PROGRAMS/reconcile.sh"
  [ "$status" -eq 0 ]
  [ "$(grep '^scontrol' "$STUB_LOG")" = "scontrol update nodename=demo-1 state=resume" ]
  [[ $output == *"demo-1 back in service after 1"*" s: InsufficientInstanceCapacity: no capacity"* ]]
}

@test "node-bootstrap starts slurmd under the name in its instance tag, configured from the head" {
  # IMDS answers for the instance whose address asks: here the test asks from 127.0.0.1, so the stand-in
  # gives the instance that address.
  stop_fake_ec2
  FAKE_EC2_SUBNET=127.0.0 FAKE_EC2_FIRST_HOST=1 start_fake_ec2 "$BATS_TEST_TMPDIR/ec2-loopback"
  program_env "$CONF_DIR/spot.conf"
  launched demo-2
  export TS_IMDS_URL=$FAKE_EC2_URL TS_SLURMD=$CLUSTER_TESTS/stubs/slurmd
  run "$PROGRAMS/node-bootstrap.sh" -D
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_LOG")" = "slurmd -N demo-2 --conf-server 10.209.0.1 -D" ]
  # With a port of its own in cluster.conf, slurmctld is asked there.
  : > "$STUB_LOG"
  TS_CLUSTER_CONF=$CONF_DIR/port.conf run "$PROGRAMS/node-bootstrap.sh" -D
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_LOG")" = "slurmd -N demo-2 --conf-server 10.209.0.1:16817 -D" ]
}
