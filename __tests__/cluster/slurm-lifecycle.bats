#!/usr/bin/env bats
# The cluster on real Slurm: a 2-node job makes exactly two instances appear, runs on both (with a cross-node
# rendezvous: torchrun with the gloo backend where PyTorch imports, else a TCP one of the job's own), and once the nodes have been idle for SuspendTime, Slurm's SuspendProgram has
# terminated both and no instance is left. Times are printed (bats shows them with --show-output-of-passing-tests
# and in the TAP stream's comments).

load cluster_helper

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }

@test "a 2-node job launches exactly two instances from the launch template, runs on both and finishes" {
  local started job
  started=$(date +%s.%N)
  job=$(sbatch --parsable -N2 --exclusive --requeue -o "$CLUSTER_RUN/job-%j.out" --wrap \
    "srun --ntasks-per-node=1 bash -c 'echo \"task \$SLURM_PROCID on \$(hostname) as \$SLURMD_NODENAME\"'; srun --ntasks-per-node=1 $CLUSTER_TESTS/rendezvous.sh")
  echo "$job" > "$CLUSTER_RUN/lifecycle.job"
  wait_until 240 "job $job done" job_done "$job"
  date +%s.%N > "$CLUSTER_RUN/lifecycle.end"
  # StartTime: when the job's nodes were all up and it began (Slurm resets it after the power-up).
  # The stand-in's "boot" is node-hook.sh's 1 s before slurmd starts (both nodes at once): left out of the first figure.
  echo "# submit to running (simulated boot excluded): $(($(job_time "$job" StartTime) - ${started%.*} - 1)) s; submit to done: $(elapsed "$started") s" >&3

  [ "$(job_field "$job" ExitCode)" = "0:0" ]
  [ "$(job_field "$job" JobState)" = "COMPLETED" ]
  # Exactly two launches, each of one instance from the launch template, spot, in the placement group.
  [ "$(calls RunInstances 'select(.outcome.instanceId) | .params["LaunchTemplate.LaunchTemplateName"]')" = '"lab-nodes"
"lab-nodes"' ]
  [ "$(calls RunInstances '.outcome.error // empty' | wc -l)" -eq 0 ]
  [ "$(calls RunInstances '[.params.MaxCount, .params["InstanceMarketOptions.MarketType"], .params["Placement.GroupName"]] | join(" ")' | sort -u)" = '"1 spot lab-pg"' ]
  # Both nodes ran the job, each on its own machine, and met each other: through torchrun (gloo) where PyTorch
  # imports here, else through the job's own TCP rendezvous.
  run sort "$CLUSTER_RUN/job-$job.out"
  echo "# ${lines[2]}" >&3
  [ "${lines[0]}" = "demo-1 met demo-2" ]
  [ "${lines[1]}" = "demo-2 met demo-1" ]
  if [ "$("$CLUSTER_TESTS/rendezvous.sh" --which)" = torchrun ]; then
    [[ ${lines[2]} == "rendezvous: torchrun, gloo all_reduce sum 3 (torch "* ]]
  else
    [ "${lines[2]}" = "rendezvous: TCP of the job's own (no PyTorch here)" ]
  fi
  [ "${lines[3]}" = "task 0 on ip-10-209-0-11 as demo-1" ]
  [ "${lines[4]}" = "task 1 on ip-10-209-0-12 as demo-2" ]
  [ "${#lines[@]}" -eq 5 ]
}

@test "after the idle time both instances are terminated and none is left" {
  [ -s "$CLUSTER_RUN/lifecycle.end" ] || skip "the job of the test before did not finish"
  # SuspendTime (6 s here) after the job's end, Slurm's power-save thread (every 10 s) runs SuspendProgram.
  wait_until 90 "no live instance" no_live_instances
  local end last
  end=$(cat "$CLUSTER_RUN/lifecycle.end")
  last=$(calls TerminateInstances '.time' | tail -n 1 | tr -d '"')
  echo "# job end to last termination: $(awk -v a="$end" -v b="$(date -d "$last" +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&3
  [ "$(calls TerminateInstances '.outcome.terminated | length' | jq -s add)" -eq 2 ]
  wait_until 30 "both nodes powered down" nodes_are 'demo-[1-2]' 'idle~'
  [ "$(live_instances)" = "" ]
}
