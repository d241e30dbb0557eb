# shellcheck shell=bash
# A real Slurm cluster on this machine for the cluster's bats files: munged, slurmctld with the slurm.conf that
# src/cluster/slurm.ts renders (timeouts shortened), the real programs from src/userdata/cluster as its
# Resume/Suspend/ResumeFailProgram, and the EC2 stand-in, whose hook (node-hook.sh) makes each launched
# instance a network namespace on a bridge of our own, running the real node-bootstrap.sh and slurmd.
# Only local addresses: the bridge 10.209.0.1/24 (the head), the nodes 10.209.0.11 and up.
# Everything started here is recorded and stopped by its id in cluster_down, on success and failure alike.
# shellcheck disable=SC2154 # status and output are set by bats' `run`

load test_helper

HEAD_IP=10.209.0.1
# How long Slurm waits, shortened for the test; each within what Slurm accepts and what this 2-core machine
# meets under load (a node here boots in about 2 s, each AWS CLI call takes about 2 s).
TEST_IDLE_MINUTES=0.1       # SuspendTime=6 s
TEST_RESUME_SECONDS=60      # ResumeTimeout
TEST_SUSPEND_SECONDS=10     # SuspendTimeout
TEST_SLURMD_SECONDS=30      # SlurmdTimeout
TEST_MESSAGE_SECONDS=5      # MessageTimeout
TEST_REQUEUE_DELAY_SECONDS=5  # AuthInfo=cred_expire: a requeued job waits this long (Slurm's default 120)

# cluster_skip_reason: why the real-Slurm tests cannot run here (empty when they can).
cluster_skip_reason() {
  local command
  [[ $EUID -eq 0 ]] || { echo "not root: network namespaces and a bridge need root"; return; }
  ip netns list > /dev/null 2>&1 || { echo "no 'ip netns' (iproute2)"; return; }
  for command in slurmctld slurmd sbatch scontrol munged munge; do
    command -v "$command" > /dev/null ||
      { echo "Slurm not installed ($command missing; apt-get install slurmctld slurmd slurm-client munge)"; return; }
  done
  unshare --time --boottime 0 true 2> /dev/null || { echo "no time namespaces (Linux 5.6+, unshare --time)"; return; }
  [[ -x $(aws_cli) ]] || { echo "no AWS CLI (apt-get install awscli)"; return; }
  command -v jq > /dev/null || { echo "no jq (apt-get install jq)"; return; }
  command -v python3 > /dev/null || { echo "no python3 (the jobs' rendezvous)"; return; }
  if ip -o addr show | grep -q ' 10\.209\.0\.'; then echo "10.209.0.0/24 is in use here (another cluster test running?)"; return; fi
  if (: < /dev/tcp/127.0.0.1/6817) 2> /dev/null; then echo "port 6817 (slurmctld) is in use here"; return; fi
}

# One real-Slurm cluster at a time on this machine (its subnet, slurmctld's port 6817): every file holds this
# lock from setup_file to teardown_file, so a second run (another worktree's) waits for the first.
CLUSTER_LOCK=${TMPDIR:-/tmp}/trainium-spot-slurm-test.lock
CLUSTER_LOCK_WAIT_SECONDS=600

# cluster_setup_file: every cluster file's setup_file: skips all its tests with the reason where the cluster
# cannot run here, else takes the lock and starts it (teardown_file: cluster_teardown_file).
cluster_setup_file() {
  local reason
  exec {CLUSTER_LOCK_FD}> "$CLUSTER_LOCK"
  flock -w "$CLUSTER_LOCK_WAIT_SECONDS" "$CLUSTER_LOCK_FD" ||
    skip "another real-Slurm test on this machine held $CLUSTER_LOCK for ${CLUSTER_LOCK_WAIT_SECONDS} s"
  reason=$(cluster_skip_reason)
  [[ -z $reason ]] || skip "$reason"
  cluster_up
}

cluster_teardown_file() {
  cluster_down
  if [[ -n ${CLUSTER_LOCK_FD:-} ]]; then exec {CLUSTER_LOCK_FD}>&-; fi
}

# cluster_up: starts everything; exports SLURM_CONF, CLUSTER_RUN and the stand-in's FAKE_EC2_*.
cluster_up() {
  CLUSTER_RUN=$BATS_FILE_TMPDIR/cluster
  CLUSTER_PREFIX=tsc$((RANDOM % 90000 + 10000))
  export CLUSTER_RUN CLUSTER_PREFIX SLURM_CONF=$CLUSTER_RUN/slurm.conf
  mkdir -p "$CLUSTER_RUN"/{bin,state,log,run,spool}
  echo "$CLUSTER_PREFIX" > "$CLUSTER_RUN/prefix"
  _cluster_up || { cluster_down; return 1; }
}

_cluster_up() {
  local i
  # The head's network: a bridge of our own, named after this run.
  ip link add "${CLUSTER_PREFIX}br" type bridge || return 1
  echo "${CLUSTER_PREFIX}br" > "$CLUSTER_RUN/bridge"
  ip addr add "$HEAD_IP/24" dev "${CLUSTER_PREFIX}br" && ip link set "${CLUSTER_PREFIX}br" up || return 1

  # MUNGE: the machine's daemon if one answers, else one of ours.
  if ! munge -n > /dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- munged || return 1
    for ((i = 0; i < 50; i++)); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$CLUSTER_RUN/munged.pid"
    munge -n > /dev/null || return 1
  fi

  # The stand-in, with the hook's settings in its environment.
  export HOOK_RUN_DIR=$CLUSTER_RUN HOOK_BRIDGE=${CLUSTER_PREFIX}br HOOK_HEAD_NAME HOOK_HEAD_IP=$HEAD_IP
  export HOOK_PREFIX=$CLUSTER_PREFIX HOOK_NODE_CONF=$CLUSTER_RUN/cluster.conf HOOK_NODE_BOOTSTRAP=$PROGRAMS/node-bootstrap.sh
  export HOOK_EC2_DIR=$CLUSTER_RUN/ec2
  HOOK_HEAD_NAME=$(hostname -s)
  start_fake_ec2 "$CLUSTER_RUN/ec2" "$CLUSTER_TESTS/node-hook.sh" || return 1
  echo "$FAKE_EC2_PID" > "$CLUSTER_RUN/fake-ec2.pid"

  # The configuration, as the stack renders it, and the programs' environment (systemd's Environment= on a head).
  render "$CLUSTER_RUN/slurm.conf" slurm "$(slurm_props)" "$CLUSTER_RUN/cluster.conf" cluster "$(cluster_props)" || return 1
  echo 'CgroupPlugin=cgroup/v1' > "$CLUSTER_RUN/cgroup.conf"
  # The test's only addition to the rendered file: how often Slurm looks at pending jobs. By default the
  # backfill scheduler runs every 30 s (bf_interval) and the main loop every 60 s (sched_interval), so a requeued
  # job, or one whose nodes came back into service, waited up to 30 s for the next pass; here every second or two.
  # https://slurm.schedmd.com/sched_config.html (checked 2026-12-07)
  echo 'SchedulerParameters=bf_interval=1,sched_interval=2' >> "$CLUSTER_RUN/slurm.conf"
  local program
  for program in resume.sh suspend.sh resume-fail.sh; do
    {
      echo '#!/bin/sh'
      echo "# Environment for the real $program, then the program itself."
      printf 'export TS_CLUSTER_CONF=%q TS_EC2_ENDPOINT_URL=%q TS_AWS=%q\n' "$CLUSTER_RUN/cluster.conf" "$FAKE_EC2_URL" "$(aws_cli)"
      echo 'export AWS_ACCESS_KEY_ID=AKIDSTANDIN AWS_SECRET_ACCESS_KEY=stand-in AWS_EC2_METADATA_DISABLED=true'
      echo 'export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null'
      printf 'exec %q "$@" >> %q 2>&1\n' "$PROGRAMS/$program" "$CLUSTER_RUN/log/programs.log"
    } > "$CLUSTER_RUN/bin/$program"
    chmod 0755 "$CLUSTER_RUN/bin/$program"
  done

  setsid slurmctld -D -i -f "$SLURM_CONF" < /dev/null > "$CLUSTER_RUN/log/slurmctld.out" 2>&1 &
  echo $! > "$CLUSTER_RUN/slurmctld.pid"
  wait_until 20 "slurmctld answers" scontrol ping
}

slurm_props() {
  jq -n --arg head "$(hostname -s)" --arg ip "$HEAD_IP" --arg run "$CLUSTER_RUN" \
    --argjson idle "$TEST_IDLE_MINUTES" --argjson resume "$TEST_RESUME_SECONDS" --argjson suspend "$TEST_SUSPEND_SECONDS" \
    --argjson slurmd "$TEST_SLURMD_SECONDS" --argjson message "$TEST_MESSAGE_SECONDS" --argjson requeue "$TEST_REQUEUE_DELAY_SECONDS" '{
    clusterName: "demo", headHostname: $head, headAddress: $ip, nodes: 4, cpusPerNode: 1, memoryMiB: 500,
    nodeIdleMinutes: $idle, slurmUser: "root", proctrackType: "proctrack/linuxproc",
    timeouts: { resumeSeconds: $resume, suspendSeconds: $suspend, slurmdSeconds: $slurmd, messageSeconds: $message,
      requeueDelaySeconds: $requeue },
    paths: { stateSaveLocation: "\($run)/state", slurmdSpoolDir: "\($run)/spool/%n", slurmctldLogFile: "\($run)/log/slurmctld.log",
      slurmdLogFile: "\($run)/log/slurmd-%n.log", slurmctldPidFile: "\($run)/run/slurmctld.pid",
      slurmdPidFile: "\($run)/run/slurmd-%n.pid", programsDir: "\($run)/bin" } }'
}

cluster_props() {
  jq -n --arg ip "$HEAD_IP" '{ name: "lab", clusterName: "demo", region: "us-east-2", market: "spot",
    placementGroupName: "lab-pg", headHost: $ip, capacityRetryMinutes: 0 }'
}

# cluster_down: stops everything cluster_up started, by id, whatever state it is in. Bounded.
cluster_down() {
  local pid ns i
  [[ -n ${CLUSTER_RUN:-} && -d $CLUSTER_RUN ]] || return 0
  if [[ -s $CLUSTER_RUN/slurmctld.pid ]]; then
    pid=$(cat "$CLUSTER_RUN/slurmctld.pid")
    kill -TERM "$pid" 2> /dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null
    rm -f "$CLUSTER_RUN/slurmctld.pid"
  fi
  # Every "instance" still up: its processes killed by id, its namespace removed (the hook's own terminate).
  for ns in $(ip netns list | awk -v p="$CLUSTER_PREFIX-" 'index($1, p) == 1 { print $1 }'); do
    HOOK_RUN_DIR=$CLUSTER_RUN HOOK_BRIDGE=- HOOK_HEAD_NAME=- HOOK_HEAD_IP=- HOOK_PREFIX=$CLUSTER_PREFIX \
      "$CLUSTER_TESTS/node-hook.sh" terminate cleanup - "10.209.0.${ns##*-}"
  done
  if [[ -s $CLUSTER_RUN/fake-ec2.pid ]]; then
    FAKE_EC2_PID=$(cat "$CLUSTER_RUN/fake-ec2.pid") stop_fake_ec2
    rm -f "$CLUSTER_RUN/fake-ec2.pid"
  fi
  if [[ -s $CLUSTER_RUN/bridge ]]; then ip link del "$(cat "$CLUSTER_RUN/bridge")" 2> /dev/null; rm -f "$CLUSTER_RUN/bridge"; fi
  if [[ -s $CLUSTER_RUN/munged.pid ]]; then
    pid=$(cat "$CLUSTER_RUN/munged.pid")
    kill -TERM "$pid" 2> /dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    rm -f "$CLUSTER_RUN/munged.pid"
  fi
  return 0
}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND once a second until it succeeds; fails after SECONDS with
# what the cluster looked like.
wait_until() {
  local limit=$1 what=$2 started=$SECONDS
  shift 2
  while ((SECONDS - started < limit)); do
    "$@" > /dev/null 2>&1 && return 0
    sleep 1
  done
  echo "gave up after ${limit} s waiting for: $what" >&2
  cluster_report >&2
  return 1
}

# cluster_report: the cluster's state, for a failing test's output.
cluster_report() {
  echo "--- squeue"; squeue -o '%i %T %r %N' 2>&1
  echo "--- sinfo -R"; sinfo -R 2>&1
  echo "--- sinfo"; sinfo -N -o '%N %T %E' 2>&1
  echo "--- instances"; control instances 2>&1
  echo "--- programs.log"; tail -n 30 "$CLUSTER_RUN/log/programs.log" 2>&1
  echo "--- hook.log"; tail -n 20 "$CLUSTER_RUN/hook.log" 2>&1
  echo "--- slurmctld.log"; grep -v 'select/cons_tres' "$CLUSTER_RUN/log/slurmctld.log" 2>&1 | tail -n 30
}

# reconcile: one pass of the real reconcile.sh, as the head's timer runs it.
reconcile() {
  (
    program_env "$CLUSTER_RUN/cluster.conf"
    "$PROGRAMS/reconcile.sh"
  ) >> "$CLUSTER_RUN/log/programs.log" 2>&1
}

job_state() { squeue -h -j "$1" -o '%T' 2>/dev/null; }
job_done() { [[ -z $(job_state "$1") ]]; }
job_running() { [[ $(job_state "$1") == RUNNING ]]; }
job_requeued() { [[ $(job_field "$1" Restarts) -ge 1 ]]; }
# The job's accounting is off here (no slurmdbd): the end state comes from the controller while it keeps the job.
job_field() { scontrol show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# nodes_are NODES STATE: every node of the hostlist is in that sinfo state (e.g. idle~).
nodes_are() { [[ $(sinfo -h -N -n "$1" -o '%T' | sort -u) == "$2" ]]; }

# no_live_instances: the stand-in holds no instance that is not terminated.
no_live_instances() { [[ -z $(live_instances) ]]; }

# job_time JOB FIELD: one of the job's times (StartTime, EndTime, SubmitTime) in seconds since the epoch.
job_time() { date -d "$(job_field "$1" "$2")" +%s; }

# elapsed SINCE: seconds since SINCE (date +%s.%N), one decimal.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
