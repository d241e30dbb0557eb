# shellcheck shell=bash
# A real Slurm cluster on this machine for the cluster's bats files: munged, slurmctld with the slurm.conf that
# src/cluster/slurm.ts renders (timeouts shortened), the real programs from src/userdata/cluster as its
# Resume/Suspend/ResumeFailProgram, and the EC2 stand-in, whose hook (node-hook.sh) makes each launched
# instance a network namespace on a bridge of our own, running the real node-bootstrap.sh and slurmd.
# Up to CLUSTER_SLOTS clusters run side by side (the slurm part of npm test runs its files at once), each in a
# slot of its own: slot N has the subnet 10.209.N.0/24 (the bridge, the head, is 10.209.N.1, the nodes
# 10.209.N.11 and up) and slurmctld listens on port 16817+N (slurm.conf's SlurmctldPort, cluster.conf's
# TS_HEAD_PORT). Only local addresses. One munged serves them all (started by the first, stopped by the last).
# Everything started here is recorded and stopped by its id in cluster_down, on success and failure alike.
# shellcheck disable=SC2154 # status and output are set by bats' `run`

load test_helper

CLUSTER_SLOTS=3
CLUSTER_PORT_BASE=16817
# How long Slurm waits, shortened for the test; each within what Slurm accepts and what this 2-core machine
# meets under load (a node here boots in about 2 s, each AWS CLI call takes about 2 s).
TEST_IDLE_MINUTES=0.1       # SuspendTime=6 s
TEST_RESUME_SECONDS=60      # ResumeTimeout
TEST_SUSPEND_SECONDS=10     # SuspendTimeout
TEST_SLURMD_SECONDS=30      # SlurmdTimeout
TEST_MESSAGE_SECONDS=5      # MessageTimeout
TEST_REQUEUE_DELAY_SECONDS=5  # AuthInfo=cred_expire: a requeued job waits this long (Slurm's default 120)

# cluster_skip_reason: why the real-Slurm tests cannot run on this machine (empty when they can).
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
}

# slot_in_use_reason: why this file's slot cannot be used although its lock is ours (empty when it can).
slot_in_use_reason() {
  if ip -o addr show | grep -qF " $CLUSTER_SUBNET."; then echo "$CLUSTER_SUBNET.0/24 is in use here"; return; fi
  if (: < "/dev/tcp/127.0.0.1/$CLUSTER_PORT") 2> /dev/null; then echo "port $CLUSTER_PORT (slurmctld) is in use here"; fi
}

# One real-Slurm cluster per slot on this machine: a file holds its slot's lock from setup_file to teardown_file,
# so a file finding every slot taken (another worktree's run) waits for one, bounded.
CLUSTER_LOCK_DIR=${TMPDIR:-/tmp}
CLUSTER_LOCK_WAIT_SECONDS=600

# take_slot: takes the first free slot's lock; sets CLUSTER_SLOT and CLUSTER_LOCK_FD. Fails after the wait.
take_slot() {
  local slot started=$SECONDS
  while ((SECONDS - started < CLUSTER_LOCK_WAIT_SECONDS)); do
    for ((slot = 0; slot < CLUSTER_SLOTS; slot++)); do
      exec {CLUSTER_LOCK_FD}> "$CLUSTER_LOCK_DIR/trainium-spot-slurm-test.$slot.lock"
      if flock -n "$CLUSTER_LOCK_FD"; then CLUSTER_SLOT=$slot; return 0; fi
      exec {CLUSTER_LOCK_FD}>&-
    done
    sleep 1
  done
  unset CLUSTER_LOCK_FD
  return 1
}

# cluster_setup_file: every cluster file's setup_file: skips all its tests with the reason where the cluster
# cannot run here, else takes a slot and starts the cluster in it (teardown_file: cluster_teardown_file).
cluster_setup_file() {
  local reason
  reason=$(cluster_skip_reason)
  [[ -z $reason ]] || skip "$reason"
  take_slot || skip "every real-Slurm slot on this machine was held for ${CLUSTER_LOCK_WAIT_SECONDS} s"
  CLUSTER_SUBNET=10.209.$CLUSTER_SLOT CLUSTER_PORT=$((CLUSTER_PORT_BASE + CLUSTER_SLOT))
  HEAD_IP=$CLUSTER_SUBNET.1
  export CLUSTER_SLOT CLUSTER_SUBNET CLUSTER_PORT HEAD_IP
  reason=$(slot_in_use_reason)
  [[ -z $reason ]] || skip "$reason (slot $CLUSTER_SLOT)"
  cluster_up
}

cluster_teardown_file() {
  cluster_down
  if [[ -n ${CLUSTER_LOCK_FD:-} ]]; then exec {CLUSTER_LOCK_FD}>&-; fi
}

# The munged the clusters share, where the machine has none of its own: its pid, and a file per cluster using it.
MUNGE_SHARE=${TMPDIR:-/tmp}/trainium-spot-slurm-test.munge

# munge_up: the machine's munged if one answers, else the shared one of ours, started by the first cluster.
munge_up() {
  (
    flock -w 60 9 || exit 1
    mkdir -p "$MUNGE_SHARE/users"
    local i pid
    if ! munge -n > /dev/null 2>&1; then
      mkdir -p /run/munge && chown munge:munge /run/munge
      rm -f /run/munge/munged.pid
      # munged outlives this file: it must not hold this lock or the file's slot lock (it would inherit them).
      runuser -u munge -- munged 9>&- {CLUSTER_LOCK_FD}>&- || exit 1
      for ((i = 0; i < 50; i++)); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
      cp /run/munge/munged.pid "$MUNGE_SHARE/munged.pid" || exit 1
      munge -n > /dev/null || exit 1
    fi
    # A user of ours only while the daemon is the one we started.
    pid=$(cat "$MUNGE_SHARE/munged.pid" 2> /dev/null) && [[ $(cat "/proc/$pid/comm" 2> /dev/null) == munged ]] &&
      echo "$$" > "$MUNGE_SHARE/users/$CLUSTER_PREFIX"
    exit 0
  ) 9> "$MUNGE_SHARE.lock"
}

# munge_down: this cluster no longer uses munged; the last user of the one we started stops it. Bounded.
munge_down() {
  (
    flock -w 60 9 || exit 1
    local user pid i
    rm -f "$MUNGE_SHARE/users/$CLUSTER_PREFIX"
    # Users whose bats run is gone (killed before its teardown) do not count.
    for user in "$MUNGE_SHARE"/users/*; do
      [[ -e $user ]] || continue
      kill -0 "$(cat "$user")" 2> /dev/null && exit 0
      rm -f "$user"
    done
    pid=$(cat "$MUNGE_SHARE/munged.pid" 2> /dev/null) || exit 0
    if [[ $(cat "/proc/$pid/comm" 2> /dev/null) == munged ]]; then
      kill -TERM "$pid" 2> /dev/null
      for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    fi
    rm -f "$MUNGE_SHARE/munged.pid"
  ) 9> "$MUNGE_SHARE.lock"
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

  munge_up || return 1

  # The stand-in, with the hook's settings in its environment.
  export HOOK_RUN_DIR=$CLUSTER_RUN HOOK_BRIDGE=${CLUSTER_PREFIX}br HOOK_HEAD_NAME HOOK_HEAD_IP=$HEAD_IP
  export HOOK_PREFIX=$CLUSTER_PREFIX HOOK_NODE_CONF=$CLUSTER_RUN/cluster.conf HOOK_NODE_BOOTSTRAP=$PROGRAMS/node-bootstrap.sh
  export HOOK_EC2_DIR=$CLUSTER_RUN/ec2 FAKE_EC2_SUBNET=$CLUSTER_SUBNET
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
  jq -n --arg head "$(hostname -s)" --arg ip "$HEAD_IP" --argjson port "$CLUSTER_PORT" --arg run "$CLUSTER_RUN" \
    --argjson idle "$TEST_IDLE_MINUTES" --argjson resume "$TEST_RESUME_SECONDS" --argjson suspend "$TEST_SUSPEND_SECONDS" \
    --argjson slurmd "$TEST_SLURMD_SECONDS" --argjson message "$TEST_MESSAGE_SECONDS" --argjson requeue "$TEST_REQUEUE_DELAY_SECONDS" '{
    clusterName: "demo", headHostname: $head, headAddress: $ip, headPort: $port, nodes: 4, cpusPerNode: 1, memoryMiB: 500,
    nodeIdleMinutes: $idle, slurmUser: "root", proctrackType: "proctrack/linuxproc",
    timeouts: { resumeSeconds: $resume, suspendSeconds: $suspend, slurmdSeconds: $slurmd, messageSeconds: $message,
      requeueDelaySeconds: $requeue },
    paths: { stateSaveLocation: "\($run)/state", slurmdSpoolDir: "\($run)/spool/%n", slurmctldLogFile: "\($run)/log/slurmctld.log",
      slurmdLogFile: "\($run)/log/slurmd-%n.log", slurmctldPidFile: "\($run)/run/slurmctld.pid",
      slurmdPidFile: "\($run)/run/slurmd-%n.pid", programsDir: "\($run)/bin" } }'
}

cluster_props() {
  jq -n --arg ip "$HEAD_IP" --argjson port "$CLUSTER_PORT" '{ name: "lab", clusterName: "demo", region: "us-east-2", market: "spot",
    placementGroupName: "lab-pg", headHost: $ip, headPort: $port, capacityRetryMinutes: 0 }'
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
      "$CLUSTER_TESTS/node-hook.sh" terminate cleanup - "$CLUSTER_SUBNET.${ns##*-}"
  done
  if [[ -s $CLUSTER_RUN/fake-ec2.pid ]]; then
    FAKE_EC2_PID=$(cat "$CLUSTER_RUN/fake-ec2.pid") stop_fake_ec2
    rm -f "$CLUSTER_RUN/fake-ec2.pid"
  fi
  if [[ -s $CLUSTER_RUN/bridge ]]; then ip link del "$(cat "$CLUSTER_RUN/bridge")" 2> /dev/null; rm -f "$CLUSTER_RUN/bridge"; fi
  munge_down
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

# job_time JOB FIELD: one of the job's times (StartTime, EndTime, SubmitTime) in seconds since the epoch.
job_time() { date -d "$(job_field "$1" "$2")" +%s; }

# elapsed SINCE: seconds since SINCE (date +%s.%N), one decimal.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
