#!/usr/bin/env bats
# The cluster on real Slurm: EC2 takes a node's instance away mid-job (a spot interruption). reconcile.sh, as the
# head's timer runs it, sets the node DOWN with EC2's reason; Slurm requeues the job, which runs again on a
# newly launched node and finishes; the lost node comes back into service, powered down.

load cluster_helper

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }

@test "a node lost mid-job requeues the job, a new node is launched, and the job finishes" {
  local job lost started
  job=$(sbatch --parsable -N2 --exclusive --requeue --open-mode=append -o "$CLUSTER_RUN/job-%j.out" "$CLUSTER_TESTS/requeue-job.sh")
  wait_until 150 "job $job running" job_running "$job"
  [ "$(squeue -h -j "$job" -o '%N')" = "demo-[1-2]" ]
  [ "$(calls RunInstances 'select(.outcome.instanceId) | .params["LaunchTemplate.LaunchTemplateName"]' | wc -l)" -eq 2 ]

  # EC2 terminates demo-2's instance: its namespace and slurmd are gone with it.
  lost=$(control lose '{"node": "demo-2"}' | jq -r .lost)
  started=$(date +%s.%N)
  reconcile
  run sinfo -h -R -n demo-2 -o '%E'
  [ "$output" = "InstanceGone: $lost terminated: Server.SpotInstanceTermination: Spot instance termination [trainium-spot]" ]
  wait_until 60 "job $job requeued" job_requeued "$job"
  echo "# instance lost to job requeued: $(elapsed "$started") s" >&3
  wait_until 240 "job $job done" job_done "$job"
  echo "# instance lost to job running again: $(($(job_time "$job" StartTime) - ${started%.*})) s; to job done: $(elapsed "$started") s" >&3

  [ "$(job_field "$job" JobState)" = "COMPLETED" ]
  [ "$(job_field "$job" ExitCode)" = "0:0" ]
  # New instances were launched after the loss (the survivor too may have been powered down meanwhile, when
  # Slurm rescheduled the job later than SuspendTime), none for the lost node; the requeued run used two nodes.
  run calls RunInstances 'select(.outcome.instanceId) | .params["TagSpecification.1.Tag.3.Value"]'
  [ "${lines[0]}" = '"demo-1"' ]
  [ "${lines[1]}" = '"demo-2"' ]
  [ "${#lines[@]}" -ge 3 ]
  [ "$(printf '%s\n' "${lines[@]:2}" | grep -c '"demo-2"')" -eq 0 ]
  echo "# launched after the loss: ${lines[*]:2}" >&3
  run grep '^run ' "$CLUSTER_RUN/job-$job.out"
  [ "${#lines[@]}" -eq 2 ]
  [[ ${lines[0]} == "run 1 on demo-"[134] && ${lines[1]} == "run 1 on demo-"[134] && ${lines[0]} != "${lines[1]}" ]]
}

@test "the lost node stays DOWN with EC2's reason until reconcile returns it to service" {
  wait_until 60 "demo-2 powered down" nodes_are demo-2 'down~'
  [[ $(sinfo -h -R -n demo-2 -o '%E') == "InstanceGone: i-"*" terminated: Server.SpotInstanceTermination"* ]]
  reconcile # cluster.conf's capacityRetryMinutes is 0 here
  wait_until 30 "demo-2 back in service" nodes_are demo-2 'idle~'
  [ "$(sinfo -h -R -n demo-2)" = "" ]
}
