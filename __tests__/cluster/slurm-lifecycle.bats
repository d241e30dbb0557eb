#!/usr/bin/env bats
# The cluster on real Slurm: a 2-node job makes exactly two instances appear, runs on both and finishes, and once
# the nodes have been idle for SuspendTime, Slurm's SuspendProgram has terminated both and no instance is left.
# The job is the one users submit: the batch script `cluster submit` writes (src/cli/sbatch.ts, rendered by
# render-job.ts) for the Python script rendezvous.py, handed to the real submit-job.sh, which keeps it under the
# login user's directory on the shared storage and runs sbatch as that user. Where PyTorch imports, the script's
# torchrun starts rendezvous.py on both nodes and they meet through torchrun's rendezvous (gloo) at the address the
# script derived; else the torchrun part is skipped (with the reason printed) and the same script runs under srun
# with a TCP rendezvous of its own. Times are printed (bats shows them with --show-output-of-passing-tests and in
# the TAP stream's comments).

load cluster_helper

setup_file() { cluster_setup_file; }
teardown_file() { cluster_teardown_file; }

# The login user the job is submitted as: the head's (ubuntu) where it exists, else daemon, an unprivileged user
# every Debian and Ubuntu system has (with a group of its name, which submit-job.sh's install -g needs).
job_user() { if getent passwd ubuntu > /dev/null; then echo ubuntu; else echo daemon; fi; }

# open_to_others DIR: lets every user through the test's private directories down to DIR (bats makes its temporary
# directories 0700 root), so that the job's user reads slurm.conf and reaches the shared directory.
open_to_others() {
  local dir=$1
  while [[ $dir == "$BATS_RUN_TMPDIR"* ]]; do chmod o+x "$dir"; dir=${dir%/*}; done
}

@test "a 2-node job launches exactly two instances from the launch template, runs on both and finishes" {
  local started job user shared name expected_name launcher command which out
  user=$(job_user)
  shared=$BATS_FILE_TMPDIR/shared
  mkdir -p "$shared"
  open_to_others "$shared"
  open_to_others "$CLUSTER_RUN"
  chmod o+r "$SLURM_CONF"
  # The job's Python script, where `cluster submit -- rendezvous.py` finds it: relative to /shared/<user>.
  install -d -o "$user" -g "$user" "$shared/$user"
  install -o "$user" -g "$user" -m 0644 "$CLUSTER_TESTS/rendezvous.py" "$shared/$user/rendezvous.py"
  which=$("$CLUSTER_TESTS/rendezvous.sh" --which)
  if [ "$which" = torchrun ]; then
    launcher=torchrun command=(rendezvous.py) expected_name=rendezvous
  else
    # A Python script runs under torchrun; with an interpreter option first (python3 -u script) the command is
    # not read as a script, and runs under srun: without PyTorch that is how rendezvous.py runs.
    echo "# torchrun part skipped: PyTorch does not import for torchrun's Python here; rendezvous.py runs under srun" >&3
    launcher=srun command=(python3 -u rendezvous.py) expected_name=python3
  fi
  name=$(cd "$REPO_ROOT" && node_modules/.bin/ts-node --transpile-only "$CLUSTER_TESTS/render-job.ts" "$CLUSTER_RUN/job.sbatch" 2 1 "${command[@]}")
  [ "$name" = "$expected_name" ]
  if [ "$launcher" = torchrun ]; then
    # shellcheck disable=SC2016 # the script's own words
    grep -qF 'exec torchrun --nnodes "$SLURM_NNODES" --node_rank "$SLURM_NODEID" --nproc_per_node 1 ' "$CLUSTER_RUN/job.sbatch"
  else
    [ "$(grep -c torchrun "$CLUSTER_RUN/job.sbatch")" -eq 0 ]
  fi

  started=$(date +%s.%N)
  # submit-job.sh as `cluster submit` runs it on the head (as root, the program on bash's stdin), with $shared a
  # mount point in a mount namespace of its own (it keeps the script on the shared storage only when that is
  # mounted; the nodes see the same directory). The environment reaches the job (sbatch exports it); the test's
  # only additions, for this machine:
  #   - PET_REDIRECTS, PET_TEE: torchrun's --redirects and --tee (torchrun reads an option from PET_<NAME> when
  #     the command line does not give it: torch/distributed/argparse_util.py, "Gets argument values from
  #     PET_{dest}", https://github.com/pytorch/pytorch/blob/v1.13.0/torch/distributed/argparse_util.py, checked
  #     2026-12-07). Debian's torch 1.13 on Python 3.11 cannot read their default "0" and fails before starting
  #     any worker (torch.distributed.elastic's Std.from_str finds no member for 0: an IntFlag no longer iterates
  #     its zero member); 0:2 is the worker's stdout straight through, its stderr copied to the console.
  #   - GLOO_SOCKET_IFNAME, OMP_NUM_THREADS: gloo on the nodes' only interface, one thread on a 2-core machine.
  # shellcheck disable=SC2016 # the inner bash expands them
  run env PET_REDIRECTS=0:2 PET_TEE=0:2 GLOO_SOCKET_IFNAME=eth0 OMP_NUM_THREADS=1 SHARED="$shared" \
    unshare --mount --propagation private bash -c 'mount --bind "$SHARED" "$SHARED" && exec "$@"' submit \
    bash -s -- "$user" "$name" "$(base64 -w 0 "$CLUSTER_RUN/job.sbatch")" < "$REPO_ROOT/src/cli/remote/submit-job.sh"
  echo "$output"
  [ "$status" -eq 0 ]
  job=${lines[-1]}
  [[ $job =~ ^[0-9]+$ ]]
  [[ $output == *"job script: $shared/$user/jobs/$name-"*".sbatch"* ]]
  echo "$job" > "$CLUSTER_RUN/lifecycle.job"
  wait_until 240 "job $job done" job_done "$job"
  date +%s.%N > "$CLUSTER_RUN/lifecycle.end"
  # StartTime: when the job's nodes were all up and it began (Slurm resets it after the power-up).
  # The stand-in's "boot" is node-hook.sh's 1 s before slurmd starts (both nodes at once): left out of the first figure.
  echo "# submit to running (simulated boot excluded): $(($(job_time "$job" StartTime) - ${started%.*} - 1)) s; submit to done: $(elapsed "$started") s" >&3

  out=$shared/$user/jobs/$name-$job.out
  cat "$out"
  [ "$(job_field "$job" ExitCode)" = "0:0" ]
  [ "$(job_field "$job" JobState)" = "COMPLETED" ]
  # The script's #SBATCH lines in effect: whole nodes, requeued when a node is lost; run as the login user.
  [ "$(job_field "$job" OverSubscribe)" = NO ]
  [ "$(job_field "$job" Requeue)" = 1 ]
  [ "$(job_field "$job" NumNodes)" = 2 ]
  [ "$(job_field "$job" UserId)" = "$user($(id -u "$user"))" ]
  [ "$(stat -c %U "$out")" = "$user" ]
  # Exactly two launches, each of one instance from the launch template, spot, in the placement group.
  [ "$(calls RunInstances 'select(.outcome.instanceId) | .params["LaunchTemplate.LaunchTemplateName"]')" = '"lab-nodes"
"lab-nodes"' ]
  [ "$(calls RunInstances '.outcome.error // empty' | wc -l)" -eq 0 ]
  [ "$(calls RunInstances '[.params.MaxCount, .params["InstanceMarketOptions.MarketType"], .params["Placement.GroupName"]] | join(" ")' | sort -u)" = '"1 spot lab-pg"' ]
  # Both nodes ran the script, rank 0 on the first node and rank 1 on the second (torchrun's --node_rank from
  # SLURM_NODEID), each on its own machine, and met each other at the first node's address, which the batch
  # script took from SLURM_NODE_ALIASES; the environment is the batch script's.
  local first=$CLUSTER_SUBNET.11 second=$CLUSTER_SUBNET.12
  local env="FI_PROVIDER=efa FI_EFA_USE_DEVICE_RDMA=1 FI_EFA_FORK_SAFE=1 NEURON_COMPILE_CACHE_URL=/shared/neuron-cache NEURON_RT_ROOT_COMM_ID=$first:46820 MASTER_ADDR=$first MASTER_PORT=41000"
  run grep '^rendezvous: ' "$out"
  echo "# $output" >&3
  if [ "$launcher" = torchrun ]; then
    [[ $output == "rendezvous: torchrun, world 2, gloo all_reduce sum 3 at $first:41000 (torch "* ]]
  else
    [ "$output" = "rendezvous: TCP of the job's own at $first:41000 (no PyTorch here)" ]
  fi
  # The first node's address came from SLURM_NODE_ALIASES ("name:address:hostname", or the address in brackets).
  run grep '^aliases: ' "$out"
  echo "# $output" >&3
  [[ $output =~ [:,\ ]demo-1:\[?"$first"\]?: ]]
  run sort <(grep '^job: ' "$out")
  [ "${lines[0]}" = "job: rank=0 node=demo-1 host=ip-${first//./-} met=demo-2 $env" ]
  [ "${lines[1]}" = "job: rank=1 node=demo-2 host=ip-${second//./-} met=demo-1 $env" ]
  [ "${#lines[@]}" -eq 2 ]
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
  no_live_instances
}
