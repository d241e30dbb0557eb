#!/usr/bin/env bash
# Slurm ResumeProgram: launches one EC2 instance for each node Slurm powers up, and tells Slurm its address.
#   resume.sh HOSTLIST        (Slurm's hostlist expression, e.g. demo-[1-2])
#
# One RunInstances call per node, each with --count 1: every instance carries its node's tag from its first
# moment (TagSpecifications apply to all instances of a call alike), so suspend and reconcile can always
# find it; a launch of N would leave instances briefly unnamed. Idempotent: a node that already has a live
# instance (Slurm may run this again after slurmctld restarts) gets its address set, and no second instance.
# A refused launch (InsufficientInstanceCapacity, MaxSpotInstanceCountExceeded, ... or any other error) sets
# the node DOWN with EC2's code and message, so Slurm requeues its job and sinfo -R shows why, and launches
# nothing more in this call: the remaining nodes are set DOWN with the same reason (they would meet the same
# refusal; a job half-launched cannot run). reconcile.sh returns those nodes to service later.
set -uo pipefail
PROGRAM=resume
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

# market_options: the RunInstances arguments of the cluster's market and placement.
market_options() {
  case $TS_MARKET in
    spot) printf '%s\n' --instance-market-options \
      'MarketType=spot,SpotOptions={SpotInstanceType=one-time,InstanceInterruptionBehavior=terminate}' ;;
    capacity-block) printf '%s\n' --instance-market-options MarketType=capacity-block \
      --capacity-reservation-specification "CapacityReservationTarget={CapacityReservationId=$TS_CAPACITY_RESERVATION_ID}" ;;
    on-demand) ;;
    *) log "unknown market $TS_MARKET in cluster.conf"; return 1 ;;
  esac
  if [[ -n $TS_PLACEMENT_GROUP && $TS_MARKET != capacity-block ]]; then
    printf '%s\n' --placement "GroupName=$TS_PLACEMENT_GROUP"
  fi
}

# launch NODE: prints "instance-id private-ip private-dns-name", or the CLI's error on stderr and fails.
launch() {
  local node=$1 tags options
  tags="{Key=Name,Value=$node},{Key=$TS_CLUSTER_TAG_KEY,Value=$TS_CLUSTER_NAME},{Key=$TS_NODE_TAG_KEY,Value=$node}"
  mapfile -t options < <(market_options)
  ec2 run-instances --launch-template "LaunchTemplateName=$TS_LAUNCH_TEMPLATE_NAME" --count 1 "${options[@]}" \
    --tag-specifications "ResourceType=instance,Tags=[$tags]" "ResourceType=volume,Tags=[$tags]" \
    --query 'Instances[0].[InstanceId, PrivateIpAddress, PrivateDnsName]'
}

# set_address NODE IP DNS-NAME: where slurmctld reaches the node's slurmd.
set_address() {
  local hostname=${3%%.*}
  scontrol_ update nodename="$1" nodeaddr="$2" nodehostname="${hostname:-$1}"
}

# refuse NODE... with $refused: sets each node DOWN with EC2's reason and powers it down. First it points every one
# of them at the head, where no slurmd listens: setting a node DOWN requeues its job, and slurmctld then tells
# the job's nodes to end it; at a name no DNS knows, it retries the lookup for about 10 s per node, slow to
# answer anything meanwhile (Slurm 22.05, seen here); at the head's address it is refused at once.
refuse() {
  local node
  if [[ -n ${TS_HEAD_HOST:-} ]]; then
    for node in "$@"; do scontrol_ update nodename="$node" nodeaddr="$TS_HEAD_HOST"; done
  fi
  for node in "$@"; do
    node_down "$node" "$refused" && log "$node DOWN, not launched: $refused"
  done
}

main() {
  local nodes node i existing id ip dns out err refused='' status=0
  mapfile -t nodes < <(hostnames "$1")
  existing=$(instances_of "${nodes[@]}") || { log "cannot list instances of $1; Slurm retries after ResumeTimeout"; return 1; }
  err=$(mktemp)
  for i in "${!nodes[@]}"; do
    node=${nodes[i]} id='' ip=''
    read -r id _ _ ip < <(awk -v n="$node" '$2 == n && ($3 == "pending" || $3 == "running")' <<< "$existing") || true
    if [[ -n $id ]]; then
      set_address "$node" "$ip" "" && log "$node already has $id at $ip"
      continue
    fi
    if out=$(launch "$node" 2> "$err"); then
      read -r id ip dns <<< "$out"
      log "$node launched $id at $ip ($TS_MARKET)"
      set_address "$node" "$ip" "$dns" || { log "$node: scontrol could not set address $ip"; status=1; }
    else
      # This node and every one after it: they would meet the same refusal, and a half-launched job cannot run.
      refused=$(aws_error_reason "$(cat "$err")")
      log "$node launch refused: $refused"
      refuse "${nodes[@]:i}"
      break
    fi
  done
  rm -f "$err"
  return "$status"
}

main "$@"
