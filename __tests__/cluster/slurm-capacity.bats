#!/usr/bin/env bats
# The cluster on real Slurm when EC2 has no capacity: RunInstances answers InsufficientInstanceCapacity; the job
# stays pending, sinfo -R shows EC2's reason on the nodes, nothing is launched; once capacity returns,
# reconcile.sh returns the nodes to service and the job runs.

load cluster_helper

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }

# refused_nodes: how many nodes sinfo -R shows with EC2's capacity refusal.
refused_nodes() { sinfo -h -R -N -o '%n|%E' | grep -c '|InsufficientInstanceCapacity: '; }
all_refused() { [[ $(refused_nodes) -eq 4 ]] && nodes_are 'demo-[1-4]' 'down~'; }

@test "a launch refused for capacity leaves the job pending with EC2's reason, launches nothing, and runs once capacity returns" {
  local job started
  control refuse '{"code": "InsufficientInstanceCapacity"}' > /dev/null
  job=$(sbatch --parsable -N2 --exclusive --requeue -o "$CLUSTER_RUN/job-%j.out" --wrap 'srun --ntasks-per-node=1 hostname')
  # Slurm tries two nodes, then the other two; each refusal sets a node DOWN, powered down, with EC2's reason.
  wait_until 120 "every node refused" all_refused
  [ "$(job_state "$job")" = PENDING ]
  run squeue -h -j "$job" -o '%r'
  echo "# squeue reason: $output" >&3
  [[ $output == "Nodes required for job are DOWN, DRAINED"* || $output == BeginTime ]]
  run sinfo -h -R -N -o '%n|%E'
  echo "# sinfo -R: ${lines[0]}" >&3
  [ "${lines[0]}" = "demo-1|InsufficientInstanceCapacity: We currently do not have sufficient trn1.32xlarge capacity in the Availability Zone you requested (us-east-2a). [trainium-spot]" ]
  # Nothing was launched: every RunInstances was refused, one request (the CLI's two tries) per resume.
  [ "$(calls RunInstances 'select(.outcome.instanceId)' | wc -l)" -eq 0 ]
  [ "$(calls RunInstances '.params.ClientToken' | sort -u | wc -l)" -eq 2 ]
  no_live_instances
  # Capacity returns; the timer's next reconcile pass returns the nodes to service (the retry time is 0 here).
  control refuse '{"code": null}' > /dev/null
  started=$(date +%s.%N)
  reconcile
  wait_until 240 "job $job done" job_done "$job"
  echo "# capacity back to job running: $(($(job_time "$job" StartTime) - ${started%.*})) s; to job done: $(elapsed "$started") s" >&3
  [ "$(job_field "$job" JobState)" = "COMPLETED" ]
  [ "$(calls RunInstances 'select(.outcome.instanceId)' | wc -l)" -eq 2 ]
  [ "$(wc -l < "$CLUSTER_RUN/job-$job.out")" -eq 2 ]
}
