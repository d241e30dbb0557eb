#!/usr/bin/env bash
# Installs trainium-spot's box agent (the idle check and its units, idle settings, interruption watcher,
# Neuron monitor feed, login message) from a manifest. State Manager runs it on every box of the stack
# through the SSM document that src/userdata/agent.ts renders: when the box registers, when the document
# or its settings change, and on the association's schedule, which mends whatever drifted. The cluster's
# head gets its software (Slurm, munge, the power-saving programs) the same way, from its own manifest
# (src/cluster/head-agent.ts).
#
#   install-agent.sh MANIFEST DOCUMENT_HASH [PUBLIC_KEY [INSTANCE_ARN_PREFIX]]
#
# MANIFEST, one instruction a line (rendered at synth time; user text only ever inside base64):
#   version V                         the trainium-spot version that rendered the document
#   apt PACKAGE...                    these packages are installed before any file (the missing ones; 3 tries)
#   file PATH MODE GZIP_BASE64        PATH holds exactly these bytes, with this mode, owned by root
#   remove PATH                       PATH does not exist
#   unit NAME enable [PATH...]        NAME is enabled and running; restarted when a PATH changed
#   unit NAME absent                  NAME is stopped and disabled (before its files are removed)
#   aws required|optional             whether the units need the AWS CLI (to publish the idle verdict)
#   authorized-key USER               USER may log in with PUBLIC_KEY (type and key, no comment); the key
#                                     the agent authorized before is taken out, keys added by hand stay
#   instance-arn-prefix PATH          PATH holds INSTANCE_ARN_PREFIX, the box's ARN up to its id (for the idle check)
#   run PATH [ARG...]                 PATH (a file above) runs with ARGs once files, key and units are in
#                                     place, under TRAINIUM_SPOT_ROOT too (it must honour it); its failure
#                                     fails the run, after the record is written
#
# Twice is once: a file whose bytes and mode already match is left alone, a unit restarts only when a
# file it names changed, and /etc/trainium-spot/agent.json is rewritten only when something changed.
# Every file is written beside its target and renamed over it, so the timer's next check runs the old
# script or the new one, never half of one. State (/run/trainium-spot: keep-alive, last activity, lock)
# is not the installer's and is never touched, so a box that got the agent from user data keeps it.
#
# TRAINIUM_SPOT_ROOT=DIR installs every path under DIR and starts, stops or restarts nothing (it prints
# what it would run), so tests install exactly what a box gets.
set -euo pipefail
umask 022

readonly ROOT=${TRAINIUM_SPOT_ROOT:-}
# systemd's PATH for system services: the one the idle check's timer runs it with.
readonly SERVICE_PATH=${TS_SERVICE_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
readonly AGENT_RECORD=/etc/trainium-spot/agent.json
readonly UNIT_DIR=/etc/systemd/system/

say() { printf 'trainium-spot agent: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

[[ $# -ge 2 && $# -le 4 && -r $1 ]] || fail "usage: install-agent.sh MANIFEST DOCUMENT_HASH [PUBLIC_KEY [INSTANCE_ARN_PREFIX]]"
readonly MANIFEST=$1 DOCUMENT_HASH=$2 PUBLIC_KEY=${3:-} INSTANCE_ARN_PREFIX=${4:-}
readonly KEY_RECORD=/etc/trainium-spot/authorized-key
[[ -z $ROOT || -d $ROOT ]] || fail "TRAINIUM_SPOT_ROOT=$ROOT is not a directory"

# The file being written, removed on any exit so a failed run leaves no stray file beside a target.
pending=''
trap '[[ -z $pending ]] || rm -f "$pending"' EXIT

systemctl_do() {
  if [[ -n $ROOT ]]; then
    say "would run: systemctl $*"
  else
    systemctl "$@"
  fi
}

# ---------------------------------------------------------------------------------------------
# Reading the manifest
# ---------------------------------------------------------------------------------------------
version=''
apt_packages=()
aws_need=optional
key_user=''
arn_prefix_path=''
files=() modes=() contents=() removals=() enabled_units=() absent_units=() runs=()
declare -A watched_by_unit=()
while read -r verb first second rest; do
  case $verb in
    version) version=$first ;;
    apt) read -r -a words <<<"$first $second $rest" && apt_packages+=("${words[@]}") ;;
    file) files+=("$first") modes+=("$second") contents+=("$rest") ;;
    remove) removals+=("$first") ;;
    unit)
      case $second in
        enable) enabled_units+=("$first") watched_by_unit[$first]=$rest ;;
        absent) absent_units+=("$first") ;;
        *) fail "manifest: unit $first: unknown state '$second'" ;;
      esac
      ;;
    aws) aws_need=$first ;;
    authorized-key) key_user=$first ;;
    instance-arn-prefix) arn_prefix_path=$first ;;
    run) runs+=("$first $second $rest") ;;
    '' | '#'*) ;;
    *) fail "manifest: unknown instruction '$verb'" ;;
  esac
done <"$MANIFEST"
[[ -n $version ]] || fail "manifest: no version line"
[[ -z $arn_prefix_path || -n $INSTANCE_ARN_PREFIX ]] || fail "no INSTANCE_ARN_PREFIX for $arn_prefix_path"

changed=()

# ---------------------------------------------------------------------------------------------
# Packages, before the files and units that use them; apt waits out another apt (DPkg::Lock::Timeout)
# ---------------------------------------------------------------------------------------------
apt_install() {
  local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
  [[ -z $ROOT ]] || apt=(say would run: "${apt[@]}")
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update && DEBIAN_FRONTEND=noninteractive "${apt[@]}" -y install --no-install-recommends "$@"
}
missing=()
for package in ${apt_packages[@]+"${apt_packages[@]}"}; do
  # shellcheck disable=SC2016 # dpkg-query's format
  [[ $(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Status}' "$package" 2>/dev/null) == 'install ok installed' ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  for attempt in 1 2 3; do
    apt_install "${missing[@]}" && break
    ((attempt < 3)) || fail "apt-get could not install ${missing[*]} (3 attempts)"
    sleep "${TS_PACKAGE_RETRY_SECONDS:-20}"
  done
  changed+=("${missing[@]/#/package:}")
fi

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

# install_content PATH MODE COMMAND...: PATH holds what COMMAND prints. Compared in place (an unchanged file
# is not even rewritten, so its directory keeps its time too); a different one is written beside PATH, then
# renamed over it.
install_content() {
  local target=$ROOT$1 mode=$2 path=$1
  shift 2
  if [[ -f $target && ! -L $target ]] && "$@" | cmp -s - "$target"; then
    if [[ $(stat -c %a "$target") != "${mode#0}" ]]; then
      chmod "$mode" "$target"
      changed+=("$path")
    fi
    return 0
  fi
  mkdir -p "${target%/*}"
  pending=$(mktemp "$target.trainium-spot-new.XXXXXX")
  "$@" >"$pending" || fail "cannot decode $path"
  chmod "$mode" "$pending"
  [[ -n $ROOT ]] || chown root:root "$pending"
  mv -f "$pending" "$target"
  pending=''
  changed+=("$path")
}

unpack() { printf '%s' "$1" | base64 -d | gzip -dc; }

remove_file() {
  if [[ -e $ROOT$1 || -L $ROOT$1 ]]; then
    rm -f "$ROOT$1"
    changed+=("$1")
  fi
}

# Units no longer wanted stop before their files go.
for unit in ${absent_units[@]+"${absent_units[@]}"}; do
  if [[ -e $ROOT$UNIT_DIR$unit ]]; then systemctl_do disable --now "$unit" || true; fi
done
# The ARN prefix first: a new idle check, which reads it, may start as soon as it is renamed into place.
if [[ -n $arn_prefix_path ]]; then install_content "$arn_prefix_path" 0644 printf '%s\n' "$INSTANCE_ARN_PREFIX"; fi
for i in "${!files[@]}"; do install_content "${files[i]}" "${modes[i]}" unpack "${contents[i]}"; done
for path in ${removals[@]+"${removals[@]}"}; do remove_file "$path"; done

# ---------------------------------------------------------------------------------------------
# The login key: a new sshPublicKey reaches a running box here, since the box keeps the key pair it
# was launched with
# ---------------------------------------------------------------------------------------------
# has_key FILE BLOB: a line of FILE carries the key BLOB (after any options, before any comment).
has_key() {
  local -a fields
  while read -r -a fields; do
    for field in ${fields[@]+"${fields[@]}"}; do [[ $field == "$2" ]] && return 0; done
  done <"$1"
  return 1
}

authorize_key() {
  local user=$1 home keys blob old_blob='' line
  read -r _ blob <<<"$PUBLIC_KEY"
  if [[ -n $ROOT ]]; then
    home=$ROOT/home/$user
  else
    home=$(getent passwd "$user" | cut -d: -f6) || fail "no user $user for the login key"
  fi
  keys=$home/.ssh/authorized_keys
  [[ -r $ROOT$KEY_RECORD ]] && read -r _ old_blob <"$ROOT$KEY_RECORD"
  [[ $old_blob == "$blob" ]] && old_blob=''
  if [[ -f $keys ]] && has_key "$keys" "$blob" && { [[ -z $old_blob ]] || ! has_key "$keys" "$old_blob"; }; then
    :
  else
    mkdir -p "$home/.ssh"
    pending=$(mktemp "$keys.trainium-spot-new.XXXXXX")
    if [[ -f $keys ]]; then
      while IFS= read -r line || [[ -n $line ]]; do
        # The key the agent authorized before goes; every other line stays as it was.
        if [[ -n $old_blob && " $line " == *" $old_blob "* ]]; then continue; fi
        printf '%s\n' "$line"
      done <"$keys" >"$pending"
    fi
    has_key "$pending" "$blob" || printf '%s\n' "$PUBLIC_KEY" >>"$pending"
    chmod 0600 "$pending"
    [[ -n $ROOT ]] || chown "$user:" "$pending" "$home/.ssh"
    mv -f "$pending" "$keys"
    pending=''
    changed+=("${keys#"$ROOT"}")
  fi
  if [[ $(cat "$ROOT$KEY_RECORD" 2>/dev/null) != "$PUBLIC_KEY" ]]; then
    mkdir -p "$ROOT${KEY_RECORD%/*}"
    printf '%s\n' "$PUBLIC_KEY" >"$ROOT$KEY_RECORD.new"
    mv -f "$ROOT$KEY_RECORD.new" "$ROOT$KEY_RECORD"
  fi
}

if [[ -n $key_user && -n $PUBLIC_KEY ]]; then authorize_key "$key_user"; fi

# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------
was_changed() {
  local path
  for path in ${changed[@]+"${changed[@]}"}; do [[ $path == "$1" ]] && return 0; done
  return 1
}

for path in ${changed[@]+"${changed[@]}"}; do
  if [[ $path == "$UNIT_DIR"* ]]; then
    systemctl_do daemon-reload
    break
  fi
done
for unit in ${enabled_units[@]+"${enabled_units[@]}"}; do
  restart=false
  for path in ${watched_by_unit[$unit]}; do was_changed "$path" && restart=true; done
  if $restart; then
    systemctl_do enable "$unit"
    systemctl_do restart "$unit"
  else
    # Starts a unit that is enabled but stopped, or was disabled by hand; a running one is left alone.
    systemctl_do enable --now "$unit"
  fi
done

# ---------------------------------------------------------------------------------------------
# Steps that act on the box (the data volume's mount), once everything they use is installed
# ---------------------------------------------------------------------------------------------
failed_runs=''
for step in ${runs[@]+"${runs[@]}"}; do
  read -r -a argv <<<"$step"
  "$ROOT${argv[0]}" "${argv[@]:1}" || failed_runs+="${failed_runs:+, }${argv[0]}"
done

# ---------------------------------------------------------------------------------------------
# The AWS CLI the units use, under their own PATH
# ---------------------------------------------------------------------------------------------
aws_cli=''
if aws_cli=$(env PATH="$SERVICE_PATH" aws --version 2>&1); then
  aws_cli=${aws_cli%%$'\n'*}
else
  aws_cli=''
fi

# ---------------------------------------------------------------------------------------------
# What is installed: rewritten only when something changed
# ---------------------------------------------------------------------------------------------
json_string() {
  local text=${1//\\/\\\\}
  text=${text//\"/\\\"}
  printf '"%s"' "${text//[[:cntrl:]]/ }"
}

record=$ROOT$AGENT_RECORD
if ((${#changed[@]} > 0)) || ! grep -qF "\"documentHash\": $(json_string "$DOCUMENT_HASH")," "$record" 2>/dev/null ||
  ! grep -qF "\"awsCli\": $(json_string "$aws_cli")," "$record" 2>/dev/null; then
  mkdir -p "${record%/*}"
  pending=$(mktemp "$record.trainium-spot-new.XXXXXX")
  {
    printf '{\n'
    printf '  "project": "trainium-spot",\n'
    printf '  "version": %s,\n' "$(json_string "$version")"
    printf '  "documentHash": %s,\n' "$(json_string "$DOCUMENT_HASH")"
    printf '  "awsCli": %s,\n' "$(json_string "$aws_cli")"
    printf '  "installedAt": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '  "files": ['
    for i in "${!files[@]}"; do
      ((i == 0)) || printf ','
      printf '\n    %s' "$(json_string "${files[i]}")"
    done
    printf '\n  ]\n}\n'
  } >"$pending"
  chmod 0644 "$pending"
  mv -f "$pending" "$record"
  pending=''
fi

if ((${#changed[@]} > 0)); then
  say "trainium-spot $version installed (document $DOCUMENT_HASH): ${changed[*]}"
else
  say "trainium-spot $version (document $DOCUMENT_HASH): nothing to change"
fi

[[ -z $failed_runs ]] || fail "$failed_runs failed (its lines above say why); everything else is installed."

if [[ -z $aws_cli ]]; then
  message="no working AWS CLI (aws --version) under the units' PATH ($SERVICE_PATH)"
  if [[ $aws_need == required ]]; then
    # Last, so everything else is in place: the idle check still stops an idle box by itself.
    fail "$message: the idle check cannot publish its verdict, and the CloudWatch backstop will treat" \
      "this box as silent. Install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)" \
      "or set idle.publishVerdict to false."
  fi
  say "note: $message; nothing here needs it."
fi
