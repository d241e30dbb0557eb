#!/usr/bin/env bash
# Requires IMDSv2 (session tokens, hop limit 1) on this box, once, at its first boot.
#
# Why on the box: EC2's RequestSpotInstances has no metadata options, so a box launched by a spot
# request starts with the account's defaults, whatever Terraform's metadata_options say. The
# setting stays with the instance across stop and start, so one successful call is enough.
# The instance role may call ec2:ModifyInstanceMetadataOptions only on instances that carry it.
set -euo pipefail

IMDS=${TS_IMDS_ENDPOINT:-http://169.254.169.254}
LOG_FILE=${TS_LOG_FILE:-/var/log/trainium-spot-imdsv2.log}
ATTEMPTS=${TS_ATTEMPTS:-20}
PAUSE_SECONDS=${TS_PAUSE_SECONDS:-15}

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
  printf '%s\n' "$line"
  printf '%s\n' "$line" >>"$LOG_FILE" 2>/dev/null || true
}

# The token call works whether IMDSv2 is optional or already required.
metadata() {
  local token
  token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/latest/api/token") || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

if ! command -v aws >/dev/null; then
  log "WARNING: no aws CLI on this AMI: IMDSv2 is not required on this box; set it with" \
    "aws ec2 modify-instance-metadata-options --http-tokens required"
  exit 0
fi

for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
  # Instance profile credentials and the box's own tags can take a moment after boot: retry.
  if instance_id=$(metadata instance-id) && region=$(metadata placement/region) &&
    aws ec2 modify-instance-metadata-options --region "$region" --instance-id "$instance_id" \
      --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled >/dev/null; then
    log "IMDSv2 required on $instance_id (hop limit 1)"
    exit 0
  fi
  log "attempt $attempt of $ATTEMPTS to require IMDSv2 failed; retrying in ${PAUSE_SECONDS}s"
  sleep "$PAUSE_SECONDS"
done
log "WARNING: could not require IMDSv2 on this box after $ATTEMPTS attempts"
exit 0
