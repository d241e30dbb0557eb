#!/usr/bin/env bash
# Runs on the cluster's head as root (SSM Run Command, AWS-RunShellScript), sent by `trainium-spot cluster
# submit`: keeps the batch script under the login user's directory on /shared (its home when /shared is not
# mounted, with a warning: the nodes cannot see it there) and submits it with sbatch as that user. Prints the
# job id alone on stdout; everything else goes to stderr.
#
# Usage: submit-job.sh USER JOB_NAME BASE64_OF_THE_BATCH_SCRIPT
# SHARED (default /shared) is the shared storage's mount point; tests point it elsewhere.
set -euo pipefail

user=$1 name=$2 script_b64=$3
shared=${SHARED:-/shared}

if [[ ! $name =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; then
  echo "job name \"$name\" is not one word of letters, digits, _ . -" >&2
  exit 2
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [[ -z $home ]]; then
  echo "no user $user on the head" >&2
  exit 2
fi

if mountpoint -q "$shared"; then
  workdir=$shared/$user
  install -d -o "$user" -g "$user" -m 0755 "$workdir"
  # One compile cache for every user and node; sticky like /tmp, so nobody removes another's files.
  install -d -m 1777 "$shared/neuron-cache"
else
  workdir=$home
  echo "warning: $shared is not mounted on the head; the job runs from $workdir, which the nodes do not share" >&2
fi
jobs=$workdir/jobs
install -d -o "$user" -g "$user" -m 0755 "$jobs"

# A new file each time (the date and a random suffix), written whole before sbatch reads it.
file=$(mktemp "$jobs/$name-$(date -u +%Y%m%dT%H%M%SZ)-XXXX.sbatch")
base64 -d <<< "$script_b64" > "$file"
chown "$user:" "$file"
chmod 0644 "$file"
echo "job script: $file" >&2

cd "$workdir"
runuser -u "$user" -- sbatch --parsable --chdir="$workdir" --output="$jobs/%x-%j.out" "$file"
