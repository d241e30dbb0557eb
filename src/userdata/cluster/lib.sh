# shellcheck shell=bash
# Shared by the Slurm power-saving programs on the head (resume, suspend, resume-fail, reconcile).
# Slurm starts them with a bare environment (a PATH of its own, SLURM_CONF, nothing else), so everything they
# need comes from cluster.conf; the variables below only exist so tests can point the programs elsewhere:
#   TS_CLUSTER_CONF      the settings file (default /etc/trainium-spot/cluster.conf)
#   TS_AWS, TS_SCONTROL, TS_SINFO  the AWS CLI, scontrol and sinfo to run (default: those on the PATH below)
#   TS_EC2_ENDPOINT_URL  an EC2 endpoint instead of the Region's (the tests' loopback stand-in)
# Every action is one line on stdout and, where syslog listens, in syslog under the tag trainium-spot-slurm.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# EC2 answers a refused launch with HTTP 500 (InsufficientInstanceCapacity is a server error): two attempts
# at most, so a refusal reaches Slurm in seconds instead of after the CLI's five backed-off attempts.
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=2

# Every reason these programs give a node ends with this, so reconcile knows which DOWN nodes are its own
# to return to service, and never touches a node an administrator set DOWN.
REASON_MARK='[trainium-spot]'

# The instance states in which an instance still holds (or will hold) a node.
LIVE_STATES=pending,running,stopping,stopped

# shellcheck source=/dev/null # written at deploy (src/cluster/slurm.ts renderClusterConf)
source "${TS_CLUSTER_CONF:-/etc/trainium-spot/cluster.conf}"
: "${TS_CLUSTER_NAME:?cluster.conf sets TS_CLUSTER_NAME}" "${TS_REGION:?cluster.conf sets TS_REGION}"
: "${TS_CLUSTER_TAG_KEY:?}" "${TS_NODE_TAG_KEY:?}"

log() {
  printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "$PROGRAM" "$*"
  logger -t trainium-spot-slurm -- "$PROGRAM: $*" 2> /dev/null || true
}

# ec2 ACTION ARGS...: one EC2 call in the cluster's Region, text output.
ec2() {
  local endpoint=()
  [[ -n ${TS_EC2_ENDPOINT_URL:-} ]] && endpoint=(--endpoint-url "$TS_EC2_ENDPOINT_URL")
  "${TS_AWS:-aws}" ec2 "$@" --region "$TS_REGION" "${endpoint[@]}" --output text
}

# scontrol_ ARGS...: scontrol; an update (idempotent) is tried up to three times, 2 s apart, as slurmctld can be
# too busy to answer within MessageTimeout (ParallelCluster retries its power-down updates likewise).
scontrol_() {
  local attempt
  [[ ${1:-} == update ]] || { "${TS_SCONTROL:-scontrol}" "$@"; return; }
  for attempt in 1 2 3; do
    "${TS_SCONTROL:-scontrol}" "$@" && return 0
    ((attempt < 3)) && sleep 2
  done
  return 1
}

# hostnames HOSTLIST: one node name a line ("demo-[1-3]" -> demo-1 demo-2 demo-3).
hostnames() { scontrol_ show hostnames "$1"; }

# cluster_instances: "instance-id node-name state private-ip" lines of this cluster's live instances.
cluster_instances() {
  ec2 describe-instances \
    --filters "Name=tag:$TS_CLUSTER_TAG_KEY,Values=$TS_CLUSTER_NAME" "Name=instance-state-name,Values=$LIVE_STATES" \
    --query "Reservations[].Instances[].[InstanceId, Tags[?Key=='$TS_NODE_TAG_KEY'] | [0].Value, State.Name, PrivateIpAddress]"
}

# instances_of NODE...: "instance-id node-name state private-ip" lines of the live instances of these nodes.
instances_of() {
  local values
  values=$(IFS=,; echo "$*")
  ec2 describe-instances \
    --filters "Name=tag:$TS_CLUSTER_TAG_KEY,Values=$TS_CLUSTER_NAME" "Name=tag:$TS_NODE_TAG_KEY,Values=$values" \
    "Name=instance-state-name,Values=$LIVE_STATES" \
    --query "Reservations[].Instances[].[InstanceId, Tags[?Key=='$TS_NODE_TAG_KEY'] | [0].Value, State.Name, PrivateIpAddress]"
}

# terminate INSTANCE-ID...: terminates them; an instance already gone is no error to EC2.
terminate() {
  ec2 terminate-instances --instance-ids "$@" --query 'TerminatingInstances[].[InstanceId]' > /dev/null
}

# node_down NODE REASON: sets the node DOWN with a reason sinfo -R shows, so Slurm requeues its job, then has
# Slurm power it down (POWER_DOWN: SuspendProgram, which finds no instance, then POWERED_DOWN after
# SuspendTimeout). It stays DOWN, powered down, with the reason, until reconcile returns it to service.
node_down() {
  scontrol_ update nodename="$1" state=down reason="$2 $REASON_MARK" && scontrol_ update nodename="$1" state=power_down
}

# aws_error_reason STDERR-TEXT: "Code: message" from the CLI's "An error occurred (Code) when calling ...: message".
aws_error_reason() {
  local text=$1 code message
  code=$(sed -n 's/.*An error occurred (\([^)]*\)).*/\1/p' <<< "$text" | head -n 1)
  message=$(sed -En 's/.*An error occurred \([^)]*\) when calling the [A-Za-z]+ operation( \([^)]*\))?: //p' <<< "$text" | head -n 1)
  if [[ -z $code ]]; then
    code=LaunchFailed message=$(tr '\n' ' ' <<< "$text" | cut -c 1-200)
  fi
  # A reason is one line and never holds a double quote (scontrol's own quoting).
  printf '%s: %s' "$code" "$(tr -d '"\n' <<< "$message" | cut -c 1-200)"
}
