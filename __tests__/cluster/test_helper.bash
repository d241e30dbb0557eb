# shellcheck shell=bash
# Shared by the cluster's bats files: the EC2 stand-in (fake-ec2.mjs), the rendered configuration, and the
# environment the programs in src/userdata/cluster run with in tests (never edited copies: the files themselves).
# shellcheck disable=SC2154 # status, output and lines are set by bats' `run`

CLUSTER_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_TESTS/../.." && pwd)
PROGRAMS=$REPO_ROOT/src/userdata/cluster
export CLUSTER_TESTS REPO_ROOT PROGRAMS

# render FILE slurm|cluster PROPS-JSON ...: the configuration files, from src/cluster/slurm.ts.
render() {
  (cd "$REPO_ROOT" && node_modules/.bin/ts-node --transpile-only "$CLUSTER_TESTS/render.ts" "$@")
}

# The AWS CLI the programs run: Debian's (awscli) where installed, else the first on PATH.
aws_cli() {
  if [[ -x /usr/bin/aws ]]; then echo /usr/bin/aws; else command -v aws; fi
}

# start_fake_ec2 DIR [HOOK]: starts the stand-in with its state in DIR; sets FAKE_EC2_PID and FAKE_EC2_URL.
start_fake_ec2() {
  local dir=$1 i
  mkdir -p "$dir"
  rm -f "$dir/port"
  node "$CLUSTER_TESTS/fake-ec2.mjs" "$dir" ${2:+"$2"} > "$dir/fake-ec2.log" 2>&1 &
  FAKE_EC2_PID=$!
  for ((i = 0; i < 100; i++)); do [[ -s $dir/port ]] && break; sleep 0.1; done
  [[ -s $dir/port ]] || { cat "$dir/fake-ec2.log" >&2; return 1; }
  FAKE_EC2_PORT=$(cat "$dir/port")
  FAKE_EC2_DIR=$dir
  export FAKE_EC2_PID FAKE_EC2_PORT FAKE_EC2_DIR FAKE_EC2_URL=http://127.0.0.1:$FAKE_EC2_PORT
}

stop_fake_ec2() {
  if [[ -n ${FAKE_EC2_PID:-} ]] && kill "$FAKE_EC2_PID" 2> /dev/null; then wait "$FAKE_EC2_PID" 2> /dev/null || true; fi
}

# control PATH [JSON]: one call to the stand-in's controls (refuse, lose, instances).
control() {
  if [[ -n ${2:-} ]]; then
    curl -sf --max-time 30 -X POST "$FAKE_EC2_URL/_control/$1" -d "$2"
  else
    curl -sf --max-time 30 "$FAKE_EC2_URL/_control/$1"
  fi
}

# The programs' environment in tests: the settings file, the stand-in as EC2 endpoint, fake credentials.
program_env() {
  export TS_CLUSTER_CONF=$1 TS_EC2_ENDPOINT_URL=$FAKE_EC2_URL TS_AWS
  TS_AWS=$(aws_cli)
  export AWS_ACCESS_KEY_ID=AKIDSTANDIN AWS_SECRET_ACCESS_KEY=stand-in AWS_EC2_METADATA_DISABLED=true
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# calls ACTION [JQ-FILTER]: the stand-in's record of that action's calls, one JSON value a line.
calls() {
  [[ -s $FAKE_EC2_DIR/calls.jsonl ]] || return 0
  jq -c --arg a "$1" "select(.action == \$a) | ${2:-.}" "$FAKE_EC2_DIR/calls.jsonl"
}

# live_instances: "node state" of every instance the stand-in holds that is not terminated; fails when the stand-in
# does not answer (never an empty list for a stand-in that is gone).
live_instances() {
  local all
  all=$(control instances) || return 1
  jq -r '.[] | select(.state != "terminated") | "\(.tags["slurm:node"]) \(.state)"' <<< "$all" | sort
}

# no_live_instances: the stand-in answers, and holds no instance that is not terminated.
no_live_instances() { local live; live=$(live_instances) && [[ -z $live ]]; }

# only_live NODE: the stand-in's one live instance is NODE's, alive (pending or running: the stand-in's instance
# runs 1 s after launch).
only_live() { local live; live=$(live_instances) && [[ $live =~ ^"$1"\ (pending|running)$ ]]; }
