#!/usr/bin/env bash
# Slurm SuspendProgram: terminates the instances of the nodes Slurm powers down.
#   suspend.sh HOSTLIST
# Finds them by tag (the cluster's and slurm:node), so it needs no state of its own; a node with no instance
# left is already where Slurm wants it. Running it twice terminates nothing twice. The node's address goes
# back to its name, as Slurm had it before the resume (a later resume sets the new instance's).
set -uo pipefail
PROGRAM=suspend
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

main() {
  local nodes instances ids node status=0
  mapfile -t nodes < <(hostnames "$1")
  instances=$(instances_of "${nodes[@]}") || { log "cannot list instances of $1; reconcile terminates them later"; return 1; }
  mapfile -t ids < <(awk 'NF { print $1 }' <<< "$instances")
  if ((${#ids[@]} > 0)); then
    if terminate "${ids[@]}"; then
      while read -r id node _; do [[ -n $id ]] && log "$node terminating $id"; done <<< "$instances"
    else
      log "could not terminate ${ids[*]}; reconcile retries"; status=1
    fi
  fi
  for node in "${nodes[@]}"; do
    if ! awk -v n="$node" '$2 == n { found = 1 } END { exit !found }' <<< "$instances"; then log "$node has no instance"; fi
    scontrol_ update nodename="$node" nodeaddr="$node" nodehostname="$node" || status=1
  done
  return "$status"
}

main "$@"
