#!/usr/bin/env bash
# Slurm ResumeFailProgram: the nodes did not register within ResumeTimeout. Slurm has set them DOWN and
# requeued their jobs; this terminates whatever instance each still has (one that never booted right would
# otherwise run, and bill, until reconcile found it) and gives each node a reason sinfo -R shows.
#   resume-fail.sh HOSTLIST
set -uo pipefail
PROGRAM=resume-fail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

main() {
  local nodes instances ids node id status=0
  mapfile -t nodes < <(hostnames "$1")
  instances=$(instances_of "${nodes[@]}") || { log "cannot list instances of $1; reconcile terminates them later"; instances=''; status=1; }
  mapfile -t ids < <(awk 'NF { print $1 }' <<< "$instances")
  if ((${#ids[@]} > 0)); then terminate "${ids[@]}" || { log "could not terminate ${ids[*]}; reconcile retries"; status=1; }; fi
  for node in "${nodes[@]}"; do
    id=$(awk -v n="$node" '$2 == n { printf "%s%s", sep, $1; sep = "," }' <<< "$instances")
    # Slurm has already set it DOWN and powered it down ("not resumed by ResumeTimeout - marking down and
    # power_save"): only the reason changes, to one reconcile knows as its own.
    scontrol_ update nodename="$node" state=down \
      reason="ResumeTimeout: slurmd did not register${id:+, terminated $id} $REASON_MARK" || status=1
    log "$node DOWN after ResumeTimeout${id:+, terminated $id}"
  done
  return "$status"
}

main "$@"
