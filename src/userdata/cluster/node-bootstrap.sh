#!/usr/bin/env bash
# On a compute node: finds the node's Slurm name in its own instance tag and starts slurmd under that name,
# fetching slurm.conf from the head (configless).
#   node-bootstrap.sh [SLURMD-ARGS...]     e.g. -D to stay in the foreground under systemd
# The name is the instance's slurm:node tag, read from instance metadata (IMDSv2; the launch template enables
# instance tags in metadata). It is read a bounded number of times: right after boot, metadata can lag.
# Test hooks: TS_CLUSTER_CONF, TS_IMDS_URL (default http://169.254.169.254), TS_SLURMD (default slurmd).
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source=/dev/null # written by the launch template's user data
source "${TS_CLUSTER_CONF:-/etc/trainium-spot/cluster.conf}"
: "${TS_NODE_TAG_KEY:?cluster.conf sets TS_NODE_TAG_KEY}" "${TS_HEAD_HOST:?cluster.conf sets TS_HEAD_HOST}"
IMDS=${TS_IMDS_URL:-http://169.254.169.254}
ATTEMPTS=30

log() {
  printf '%s node-bootstrap: %s\n' "$(date -u +%FT%TZ)" "$*"
  logger -t trainium-spot-slurm -- "node-bootstrap: $*" 2> /dev/null || true
}

# metadata PATH: one IMDSv2 read.
metadata() {
  local token
  token=$(curl -sf --max-time 2 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') &&
    curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

main() {
  local name='' attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    name=$(metadata "tags/instance/$TS_NODE_TAG_KEY") && [[ -n $name ]] && break
    sleep 1
  done
  if [[ -z $name ]]; then
    log "no $TS_NODE_TAG_KEY tag in instance metadata after $ATTEMPTS tries (are instance tags in metadata on?)"
    return 1
  fi
  # --conf-server HOST[:PORT]: without a port, Slurm's own (6817).
  local server=$TS_HEAD_HOST${TS_HEAD_PORT:+:$TS_HEAD_PORT}
  log "starting slurmd as $name, configuration from $server"
  exec "${TS_SLURMD:-slurmd}" -N "$name" --conf-server "$server" "$@"
}

main "$@"
