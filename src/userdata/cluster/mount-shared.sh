#!/usr/bin/env bash
# Mounts the cluster's shared storage, on the head and on every compute node:
#
#   mount-shared.sh efs|fsx-lustre SOURCE [MOUNT_POINT]      (MOUNT_POINT: default /shared)
#
# SOURCE is the stack's `shared_storage` output: `<file system DNS name>:/` for EFS,
# `<file system DNS name>@tcp:/<mount name>` for FSx for Lustre.
#
# 1. The client, installed when its mount helper is missing:
#    - EFS: NFS v4.1 from Ubuntu's nfs-common (mount.nfs4).
#    - FSx for Lustre: the client for the running kernel, lustre-client-modules-$(uname -r), from Amazon FSx's
#      Ubuntu repository (its key, its `deb ... <codename> main` line); it brings the mount helper. No kernel
#      change and no reboot: a compute node must come up in one boot. Source: Amazon FSx for Lustre User Guide,
#      "Installing the Lustre client" (Ubuntu), https://docs.aws.amazon.com/fsx/latest/LustreGuide/install-lustre-client.html,
#      checked 2026-12-07. If FSx has no client for the image's kernel yet, this step fails and says so.
# 2. /etc/fstab: one line for MOUNT_POINT, replacing any other line for it (the file is written beside and
#    renamed); a second run finds the line in place and leaves the file untouched. `nofail`: a boot never waits
#    for the file system; `_netdev`: it is mounted once the network is up.
#    - EFS, the options AWS recommends for NFS clients (the EFS mount helper's own): nfsvers=4.1,rsize=1048576,
#      wsize=1048576,hard,timeo=600,retrans=2,noresvport. Source: Amazon EFS User Guide, "Mount settings used by
#      EFS mount helper", https://docs.aws.amazon.com/efs/latest/ug/mount-helper-setting.html, checked 2026-12-07.
#    - Lustre: relatime,flock, as AWS mounts it ("Mounting from an Amazon EC2 instance",
#      https://docs.aws.amazon.com/fsx/latest/LustreGuide/mounting-ec2-instance.html, checked 2026-12-07). AWS's
#      fstab example adds x-systemd.requires=network.service, a unit Ubuntu 24.04 does not have; _netdev orders
#      the mount after the network instead.
# 3. The mount, unless something is mounted there already: a bounded number of tries (the file system's DNS
#    name resolves only once its mount target is up, and a node's network goes through the head).
#
# Every action is one line in the log; a failure ends with a FAILED line and exit status 1.
# Test hooks: TS_ROOT (a directory standing for /: fstab, mount point, apt sources), TS_MOUNT_ATTEMPTS,
# TS_MOUNT_RETRY_SECONDS, and those of setup-lib.sh.
set -uo pipefail
umask 022
PROGRAM=mount-shared
# shellcheck source=src/userdata/cluster/setup-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup-lib.sh"

# Run by the head's agent (install-agent.sh), it honours the installer's TRAINIUM_SPOT_ROOT too.
readonly ROOT=${TS_ROOT:-${TRAINIUM_SPOT_ROOT:-}}
readonly FSTAB=$ROOT/etc/fstab
readonly MOUNT_ATTEMPTS=${TS_MOUNT_ATTEMPTS:-6}
readonly MOUNT_RETRY_SECONDS=${TS_MOUNT_RETRY_SECONDS:-10}
readonly MOUNT_RUN_SECONDS=120
readonly EFS_OPTIONS=nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail
readonly LUSTRE_OPTIONS=relatime,flock,_netdev,nofail
readonly FSX_KEY_URL=https://fsx-lustre-client-repo-public-keys.s3.amazonaws.com/fsx-ubuntu-public-key.asc
readonly FSX_REPO_URL=https://fsx-lustre-client-repo.s3.amazonaws.com/ubuntu
readonly FSX_KEYRING=/usr/share/keyrings/fsx-ubuntu-public-key.gpg

(($# == 2 || $# == 3)) || fail "usage: mount-shared.sh efs|fsx-lustre SOURCE [MOUNT_POINT]"
readonly TYPE=$1 SOURCE=$2 MOUNT_POINT=${3:-/shared}
[[ $MOUNT_POINT == /?* && $MOUNT_POINT != *[[:space:]]* ]] || fail "mount point '$MOUNT_POINT' is not an absolute path"
case $TYPE in
  efs)
    [[ $SOURCE =~ ^[A-Za-z0-9.-]+:/$ ]] || fail "'$SOURCE' is not an EFS source (<DNS name>:/)"
    readonly FSTYPE=nfs4 OPTIONS=$EFS_OPTIONS HELPER=mount.nfs4
    ;;
  fsx-lustre)
    [[ $SOURCE =~ ^[A-Za-z0-9.-]+@tcp:/[A-Za-z0-9]+$ ]] || fail "'$SOURCE' is not an FSx for Lustre source (<DNS name>@tcp:/<mount name>)"
    readonly FSTYPE=lustre OPTIONS=$LUSTRE_OPTIONS HELPER=mount.lustre
    ;;
  *) fail "unknown storage type '$TYPE'; allowed: efs, fsx-lustre" ;;
esac
readonly TARGET=$ROOT$MOUNT_POINT
readonly LINE="$SOURCE $MOUNT_POINT $FSTYPE $OPTIONS 0 0"

# ---------------------------------------------------------------------------------------------
# 1. The client
# ---------------------------------------------------------------------------------------------
add_fsx_repository() {
  local codename
  codename=$(sed -n "s/^VERSION_CODENAME=[\"']\{0,1\}\([a-z]*\).*/\1/p" "$ROOT/etc/os-release" 2> /dev/null)
  [[ -n $codename ]] || fail "no VERSION_CODENAME in /etc/os-release: cannot pick Amazon FSx's Lustre repository"
  mkdir -p "$ROOT${FSX_KEYRING%/*}" "$ROOT/etc/apt/sources.list.d"
  if ! curl -fsSL --retry 5 --retry-all-errors --max-time 60 "$FSX_KEY_URL" | gpg --dearmor > "$ROOT$FSX_KEYRING.new"; then
    fail "could not fetch Amazon FSx's repository key from $FSX_KEY_URL"
  fi
  mv "$ROOT$FSX_KEYRING.new" "$ROOT$FSX_KEYRING"
  echo "deb [signed-by=$FSX_KEYRING] $FSX_REPO_URL $codename main" > "$ROOT/etc/apt/sources.list.d/fsxlustreclientrepo.list"
  log "added Amazon FSx's Lustre client repository ($codename)"
}

if command -v "$HELPER" > /dev/null; then
  log "$HELPER is installed"
elif [[ $TYPE == efs ]]; then
  apt_install nfs-common || fail "could not install nfs-common (the NFS client EFS needs)"
else
  add_fsx_repository
  kernel=$(uname -r)
  apt_install "lustre-client-modules-$kernel" ||
    fail "could not install lustre-client-modules-$kernel: Amazon FSx may have no Lustre client for this kernel yet"
  modprobe lustre || fail "the lustre kernel module does not load on kernel $kernel"
fi

# ---------------------------------------------------------------------------------------------
# 2. /etc/fstab
# ---------------------------------------------------------------------------------------------
# lines_for MOUNT_POINT: the fstab lines (not comments) that mount something there.
lines_for() { awk -v mp="$1" '$1 !~ /^#/ && $2 == mp' "$FSTAB" 2> /dev/null; }

if [[ $(lines_for "$MOUNT_POINT") == "$LINE" ]]; then
  log "/etc/fstab already mounts $SOURCE at $MOUNT_POINT"
else
  mkdir -p "${FSTAB%/*}"
  if ! {
    awk -v mp="$MOUNT_POINT" '!($1 !~ /^#/ && $2 == mp)' "$FSTAB" 2> /dev/null
    printf '%s\n' "$LINE"
  } > "$FSTAB.trainium-spot.new" || ! chmod 644 "$FSTAB.trainium-spot.new" || ! mv "$FSTAB.trainium-spot.new" "$FSTAB"; then
    fail "could not write /etc/fstab"
  fi
  log "/etc/fstab: $LINE"
fi

# ---------------------------------------------------------------------------------------------
# 3. The mount
# ---------------------------------------------------------------------------------------------
if mounted=$(findmnt -n -o SOURCE --mountpoint "$TARGET"); then
  [[ $mounted == "$SOURCE" ]] || fail "$MOUNT_POINT already holds $mounted, not $SOURCE"
  log "$SOURCE is mounted at $MOUNT_POINT already"
  exit 0
fi
mkdir -p "$TARGET" || fail "cannot create $MOUNT_POINT"
for ((attempt = 1; attempt <= MOUNT_ATTEMPTS; attempt++)); do
  if timeout "$MOUNT_RUN_SECONDS" mount -t "$FSTYPE" -o "$OPTIONS" "$SOURCE" "$TARGET"; then
    log "mounted $SOURCE at $MOUNT_POINT ($FSTYPE)"
    exit 0
  fi
  log "mount of $SOURCE at $MOUNT_POINT failed (attempt $attempt of $MOUNT_ATTEMPTS)"
  ((attempt < MOUNT_ATTEMPTS)) && sleep "$MOUNT_RETRY_SECONDS"
done
fail "could not mount $SOURCE at $MOUNT_POINT after $MOUNT_ATTEMPTS tries" \
  "(does the security group allow the file system's port to itself: 2049 for EFS, 988 for Lustre?)"
