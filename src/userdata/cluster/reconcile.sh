#!/usr/bin/env bash
# Mends what drifted between Slurm and EC2; the head runs it every minute (a systemd timer).
#   reconcile.sh
# - An instance whose node Slurm has powered down (suspend failed, or EC2 answered late), or that carries no
#   node of this cluster, is terminated.
# - A powered-up node whose instance is gone (a spot interruption, a stop, a termination by hand) is set DOWN
#   with what EC2 says, so Slurm requeues its job (JobRequeue=1), and powered down (lib.sh node_down).
#   A stopped instance is terminated first. (POWER_DOWN_FORCE alone would cancel the job; DOWN requeues it.)
# - A node these programs set DOWN (a refused launch, a lost instance, a ResumeTimeout) that Slurm has powered
#   down is returned to service (state=resume: IDLE, still powered down) once TS_CAPACITY_RETRY_SECONDS have
#   passed since, so a pending job tries EC2 again; a node set DOWN by anyone else is left alone.
# Every pass reads the whole state afresh and changes only what is wrong; a second pass changes nothing.
set -uo pipefail
PROGRAM=reconcile
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

RETRY_SECONDS=${TS_CAPACITY_RETRY_SECONDS:-600}

# slurm_nodes: "name state reason-epoch reason" lines; state is sinfo's, e.g. idle~ alloc# down~ mixed.
slurm_nodes() {
  local name state stamp reason epoch
  "${TS_SINFO:-sinfo}" --all -h -N -o '%N|%T|%H|%E' | sort -u | while IFS='|' read -r name state stamp reason; do
    epoch=$(date -d "$stamp" +%s 2> /dev/null || echo 0)
    printf '%s %s %s %s\n' "$name" "$state" "$epoch" "$reason"
  done
}

# gone_reason NODE: what EC2 says of the node's last instance that ended, e.g. "i-1 terminated: Server.SpotInstanceTermination: ...".
gone_reason() {
  ec2 describe-instances \
    --filters "Name=tag:$TS_CLUSTER_TAG_KEY,Values=$TS_CLUSTER_NAME" "Name=tag:$TS_NODE_TAG_KEY,Values=$1" \
    "Name=instance-state-name,Values=shutting-down,terminated" \
    --query 'Reservations[].Instances[].[InstanceId, State.Name, StateReason.Message]' |
    head -n 1 | awk -F '\t' 'NF { printf "%s %s: %s", $1, $2, $3 }'
}

# node_state NODE: the node's sinfo state now (e.g. idle~), read again right before an action, since a
# resume or suspend may have run since the pass's first reading.
node_state() { "${TS_SINFO:-sinfo}" --all -h -N -n "$1" -o '%T' | head -n 1; }

# stop_instance ID WHY: terminates it, and says so.
stop_instance() {
  if terminate "$1"; then log "terminating $1: $2"; else log "could not terminate $1 ($2)"; return 1; fi
}

main() {
  local instances nodes id node state stamp reason now status=0
  instances=$(cluster_instances) || { log "cannot list instances; nothing changed"; return 1; }
  nodes=$(slurm_nodes) || { log "cannot read Slurm's nodes; nothing changed"; return 1; }
  now=$(date +%s)

  # Instances that should not exist, and stopped ones.
  while read -r id node state _; do
    [[ -n $id ]] || continue
    local slurm_state
    slurm_state=$(awk -v n="$node" '$1 == n { print $2 }' <<< "$nodes")
    if [[ -z $slurm_state ]]; then
      stop_instance "$id" "it carries no node of this cluster (${node:-none})" || status=1
    elif [[ $slurm_state == *'~'* && $(node_state "$node") == *'~'* ]]; then
      stop_instance "$id" "Slurm has powered $node down" || status=1
    elif [[ $state == stopping || $state == stopped ]]; then
      stop_instance "$id" "$node's instance is $state" || status=1
    fi
  done <<< "$instances"

  # Nodes whose instance is gone, and nodes to return to service.
  while read -r node state stamp reason; do
    [[ -n $node ]] || continue
    if [[ $state != *'~'* && $state != *'#'* && $state != *'%'* && $state != down* ]] &&
      ! awk -v n="$node" '$2 == n && ($3 == "pending" || $3 == "running") { found = 1 } END { exit !found }' <<< "$instances" &&
      [[ -z $(instances_of "$node" | awk '$3 == "pending" || $3 == "running"') ]]; then
      local why
      why=$(gone_reason "$node")
      if node_down "$node" "InstanceGone: ${why:-no instance}"; then log "$node DOWN, its instance is gone: ${why:-no instance}"; else status=1; fi
    elif [[ $state == down~ && $reason == *"$REASON_MARK" ]] && ((now - stamp >= RETRY_SECONDS)); then
      if scontrol_ update nodename="$node" state=resume; then
        log "$node back in service after $((now - stamp)) s: ${reason% "$REASON_MARK"}"
      else
        status=1
      fi
    fi
  done <<< "$nodes"
  return "$status"
}

main "$@"
