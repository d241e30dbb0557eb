#!/usr/bin/env bash
# Keeps this machine's munge key equal to the cluster's, which lives in an SSM SecureString parameter.
#   munge-key.sh [--generate]
# The parameter (TS_MUNGE_KEY_PARAMETER in cluster.conf) holds the key base64-encoded: a SecureString is text,
# a munge key 1024 random bytes (munge's installation guide makes it with dd from /dev/urandom). Terraform
# creates the parameter holding a marker (TS_MUNGE_KEY_UNSET) and never reads it again, so the key is never in
# Terraform's state or plan.
# - The marker and --generate (the head): a new key is made, written to the parameter, then to the key file.
# - The marker without --generate (a node): fails; the head has not written the key yet.
# - A key: written to the key file if that differs. Anything else in the parameter is refused, never replaced.
# The key file (/etc/munge/munge.key, 0400, munge:munge) is written beside and renamed over; munged is restarted
# only when the file changed, and otherwise only started if it is not running (this step, not the installer's unit
# list, enables munge: munged refuses to start without a key). Twice is once.
# The AWS CLI gets the key from a private file (file://), never on its command line, which `ps` would show.
# Exit status, so a node's first boot (node-setup.sh) can tell waiting from giving up:
#   0  the key file holds the cluster's key
#   1  refused: the parameter holds neither the marker nor a key, SSM said no (the CLI's 254: the service answered
#      with an error, e.g. AccessDenied, ParameterNotFound), or a write failed; waiting would not help
#   3  not written yet: the marker, without --generate
#   4  SSM not reached: the CLI's other failures (255: no connection; 253: no credentials yet) or no answer in
#      SSM_SECONDS. Return codes: https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html
#      (checked 2026-12-07).
# Test hooks: TS_CLUSTER_CONF, TS_AWS (default: aws on the PATH); TRAINIUM_SPOT_ROOT=DIR keeps cluster.conf and the key file under DIR, and
# changes no owner and restarts nothing (it prints what it would run).
set -euo pipefail
umask 077

readonly ROOT=${TRAINIUM_SPOT_ROOT:-}
# shellcheck source=/dev/null # written at deploy (src/cluster/slurm.ts renderClusterConf)
source "${TS_CLUSTER_CONF:-$ROOT/etc/trainium-spot/cluster.conf}"
: "${TS_REGION:?cluster.conf sets TS_REGION}" "${TS_MUNGE_KEY_PARAMETER:?cluster.conf sets TS_MUNGE_KEY_PARAMETER}"
: "${TS_MUNGE_KEY_UNSET:?cluster.conf sets TS_MUNGE_KEY_UNSET}"
readonly KEY_FILE=$ROOT/etc/munge/munge.key
readonly KEY_BYTES=1024
# munge refuses shorter keys (MUNGE_MINIMUM_SECRET_KEY_LEN, 32 bytes): a shorter value is not a key of ours.
readonly MIN_KEY_BYTES=32

# One read or write of the parameter at most this long (the AWS CLI retries by itself within it).
readonly SSM_SECONDS=60
readonly EXIT_REFUSED=1 EXIT_NOT_WRITTEN=3 EXIT_UNREACHABLE=4

say() { printf 'trainium-spot munge key: %s\n' "$*"; }
# fail MESSAGE [STATUS]: exits with STATUS (default: refused).
fail() { say "FAILED: $1" >&2; exit "${2:-$EXIT_REFUSED}"; }

generate=false
case ${1:-} in
  --generate) generate=true ;;
  '') ;;
  *) fail "usage: munge-key.sh [--generate]" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ssm() { timeout "$SSM_SECONDS" "${TS_AWS:-aws}" ssm "$@" --region "$TS_REGION"; }

read_status=0
value=$(ssm get-parameter --name "$TS_MUNGE_KEY_PARAMETER" --with-decryption --query Parameter.Value --output text) || read_status=$?
case $read_status in
  0) ;;
  254) fail "cannot read $TS_MUNGE_KEY_PARAMETER: SSM refused (its lines above say why)" ;;
  *) fail "cannot read $TS_MUNGE_KEY_PARAMETER: SSM not reached (exit $read_status; its lines above say why)" "$EXIT_UNREACHABLE" ;;
esac

if [[ $value == "$TS_MUNGE_KEY_UNSET" ]]; then
  $generate || fail "$TS_MUNGE_KEY_PARAMETER holds no key yet: the head writes it when its agent first runs" "$EXIT_NOT_WRITTEN"
  dd if=/dev/urandom of="$work/key" bs="$KEY_BYTES" count=1 status=none
  base64 -w 0 "$work/key" > "$work/value"
  ssm put-parameter --name "$TS_MUNGE_KEY_PARAMETER" --type SecureString --overwrite --value "file://$work/value" > /dev/null ||
    fail "cannot write the new key to $TS_MUNGE_KEY_PARAMETER (its lines above say why)"
  say "generated a key and wrote it to $TS_MUNGE_KEY_PARAMETER"
elif printf '%s' "$value" | base64 -d > "$work/key" 2> /dev/null && (($(stat -c %s "$work/key") >= MIN_KEY_BYTES)); then
  :
else
  fail "$TS_MUNGE_KEY_PARAMETER holds neither a base64 key of $MIN_KEY_BYTES bytes or more nor the marker; left as it is"
fi

systemctl_do() {
  if [[ -n $ROOT ]]; then say "would run: systemctl $*"; else systemctl "$@"; fi
}

if [[ -f $KEY_FILE ]] && cmp -s "$work/key" "$KEY_FILE"; then
  say "${KEY_FILE#"$ROOT"} is the cluster's key"
  # munged runs from here on: started if it was stopped, left alone if it runs.
  systemctl_do enable --now munge.service
  exit 0
fi
mkdir -p "${KEY_FILE%/*}"
pending=$(mktemp "$KEY_FILE.trainium-spot-new.XXXXXX")
trap 'rm -rf "$work" "$pending"' EXIT
cat "$work/key" > "$pending"
chmod 0400 "$pending"
if [[ -n $ROOT ]]; then say "would run: chown munge:munge ${KEY_FILE#"$ROOT"}"; else chown munge:munge "$pending"; fi
mv -f "$pending" "$KEY_FILE"
say "wrote the cluster's key to ${KEY_FILE#"$ROOT"}"
systemctl_do enable munge.service
systemctl_do restart munge.service
