#!/usr/bin/env bash
# Mounts this box's data volume (the config's `dataVolume`): the agent runs it on every association run, with
# the ids of every box's data volume, and it mounts the one attached to this box.
#
#   trainium-spot-data-volume MOUNT_POINT OWNER VOLUME_ID...
#
# 1. Which volume: on Nitro instances an EBS volume is an NVMe device whose serial number is its volume id
#    without the dash, and udev links it as /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123...
#    (model and serial; newer udev adds a `_1` namespace link too). Device names (/dev/nvme1n1, /dev/sdf) are
#    not used: they follow the order the devices answer at boot, and instance store disks are NVMe devices too.
#    Sources: Amazon EBS User Guide, "Map Amazon EBS volumes to NVMe device names" ("NVMe EBS volumes have the
#    EBS volume ID set as the serial number"), https://docs.aws.amazon.com/ebs/latest/userguide/identify-nvme-ebs-device.html;
#    systemd rules.d/60-persistent-storage.rules (nvme: ID_SERIAL = model_serial, link disk/by-id/nvme-$ID_SERIAL),
#    https://github.com/systemd/systemd/blob/main/rules.d/60-persistent-storage.rules; both checked 2026-12-07.
#    A box may boot before its volume is attached: the script waits for it a while.
# 2. Formatting: only a device on which both blkid's low-level probe (`blkid -p`: superblocks and partition
#    tables) and wipefs find no signature at all is formatted (ext4), and then it is owned by OWNER. A device
#    with a filesystem is mounted as it is; one with a partition table, or any other signature (swap, RAID,
#    LVM, crypto), is never formatted and never mounted: the run fails and says what it found.
# 3. Mounting: /etc/fstab gets one line for MOUNT_POINT, by filesystem UUID with `nofail` (a boot never waits
#    for a volume that is gone), replacing an older line for the same mount point (a volume that was
#    replaced), and the filesystem is mounted if it is not. Amazon EBS User Guide, "Make an Amazon EBS volume
#    available for use", https://docs.aws.amazon.com/ebs/latest/userguide/ebs-using-volumes.html, checked 2026-12-07.
#
# Twice is once: a second run finds the filesystem, the fstab line and the mount in place and changes nothing.
# TRAINIUM_SPOT_ROOT=DIR looks for the device links, /etc/fstab and the mount point under DIR (tests).
set -euo pipefail
umask 022

readonly ROOT=${TRAINIUM_SPOT_ROOT:-}
# How long to wait for the volume to appear: a replaced box registers with SSM about when its volume is attached.
readonly WAIT_SECONDS=${TS_DEVICE_WAIT_SECONDS:-180}
readonly POLL_SECONDS=5
readonly FILESYSTEM=ext4
readonly BY_ID=$ROOT/dev/disk/by-id
readonly FSTAB=$ROOT/etc/fstab
readonly LOCK=$ROOT/run/trainium-spot-data-volume.lock

say() { printf 'trainium-spot data volume: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

(($# >= 3)) || fail "usage: trainium-spot-data-volume MOUNT_POINT OWNER VOLUME_ID..."
readonly MOUNT_POINT=$1 OWNER=$2
shift 2
[[ $MOUNT_POINT == /?* && $MOUNT_POINT != *[[:space:]]* ]] || fail "mount point '$MOUNT_POINT' is not an absolute path"
for id in "$@"; do
  [[ $id =~ ^vol-[0-9a-f]{8,17}$ ]] || fail "'$id' is not an EBS volume id"
done

# One run at a time: two runs that both found the device blank must not both format it.
mkdir -p "${LOCK%/*}"
exec 9>>"$LOCK"
flock -w 60 9 || fail "another run holds $LOCK"

# ---------------------------------------------------------------------------------------------
# 1. The stack's volume that is attached to this box
# ---------------------------------------------------------------------------------------------
# attached_links: the by-id link of each listed volume that is present, one a line.
attached_links() {
  local id link
  for id in "$@"; do
    for link in "$BY_ID/nvme-Amazon_Elastic_Block_Store_${id/-/}" "$BY_ID/nvme-Amazon_Elastic_Block_Store_${id/-/}_1"; do
      if [[ -e $link ]]; then
        printf '%s %s\n' "$id" "$link"
        break
      fi
    done
  done
}

waited=0
while attached=$(attached_links "$@") && [[ -z $attached ]] && ((waited < WAIT_SECONDS)); do
  sleep "$POLL_SECONDS"
  waited=$((waited + POLL_SECONDS))
done
[[ -n $attached ]] || fail "none of the stack's data volumes ($*) is attached to this box after ${WAIT_SECONDS} s;" \
  "the agent's next run tries again (trainium-spot status shows each box's volume)"
(($(wc -l <<<"$attached") == 1)) || fail "more than one of the stack's data volumes is attached to this box: ${attached//$'\n'/, }"
read -r volume_id link <<<"$attached"
device=$(readlink -f "$link")

# ---------------------------------------------------------------------------------------------
# 2. A filesystem: made only on a device that carries nothing at all
# ---------------------------------------------------------------------------------------------
# probe: blkid's low-level probe of the device as KEY=value lines; exit 2 means it found nothing.
probe() {
  local out code=0
  out=$(blkid -p -o export "$device") || code=$?
  case $code in
    0) printf '%s\n' "$out" ;;
    2) ;;
    *) fail "blkid -p could not probe $device ($volume_id), exit $code: not formatted, not mounted" ;;
  esac
}
value_of() { sed -n "s/^$1=//p" <<<"$2"; }

probed=$(probe)
formatted=false
if [[ -z $probed ]]; then
  signatures=$(wipefs --no-act --noheadings "$device") || fail "wipefs could not read $device ($volume_id): not formatted"
  [[ -z $signatures ]] || fail "blkid finds nothing on $device ($volume_id) but wipefs does ($signatures): not formatted, not mounted"
  say "$volume_id ($device) is blank: making an $FILESYSTEM filesystem"
  mkfs.ext4 -q -m 0 "$device" || fail "mkfs.ext4 failed on $device ($volume_id)"
  formatted=true
  probed=$(probe)
fi
partition_table=$(value_of PTTYPE "$probed")
type=$(value_of TYPE "$probed")
usage=$(value_of USAGE "$probed")
if [[ -n $partition_table ]]; then
  fail "$volume_id ($device) carries a $partition_table partition table: it is never formatted, and only a filesystem" \
    "on the whole volume is mounted; mount its partitions yourself, or give dataVolume a snapshot of a volume without one"
fi
[[ -n $type && $usage == filesystem ]] ||
  fail "$volume_id ($device) carries ${type:-a signature} (${usage:-unknown use}), not a filesystem: never formatted, not mounted"
uuid=$(value_of UUID "$probed")
[[ -n $uuid ]] || fail "the $type filesystem on $volume_id ($device) has no UUID to mount it by"

# ---------------------------------------------------------------------------------------------
# 3. /etc/fstab and the mount
# ---------------------------------------------------------------------------------------------
changed=()
$formatted && changed+=(formatted)
line="UUID=$uuid $MOUNT_POINT $type defaults,nofail 0 2"
if ! grep -qxF -- "$line" "$FSTAB" 2>/dev/null; then
  mkdir -p "${FSTAB%/*}"
  next=$(mktemp "$FSTAB.trainium-spot-new.XXXXXX")
  trap 'rm -f "$next"' EXIT
  # Every other line stays as it is; an older line for this mount point (a replaced volume) goes.
  if [[ -f $FSTAB ]]; then
    awk -v mount_point="$MOUNT_POINT" '$1 ~ /^#/ || $2 != mount_point' "$FSTAB" >"$next"
    chmod --reference="$FSTAB" "$next"
  else
    chmod 0644 "$next"
  fi
  printf '%s\n' "$line" >>"$next"
  mv -f "$next" "$FSTAB"
  changed+=("written to /etc/fstab")
  # systemd makes mount units from /etc/fstab; it reads the file again on a reload.
  systemctl daemon-reload
fi

target=$ROOT$MOUNT_POINT
mounted=$(findmnt -rn -o UUID --mountpoint "$target") || mounted=''
if [[ $mounted == "$uuid" ]]; then
  :
elif [[ -n $mounted ]]; then
  fail "$MOUNT_POINT holds another filesystem (UUID $mounted), not $volume_id (UUID $uuid): not mounted"
else
  mkdir -p "$target"
  mount -t "$type" "$device" "$target" || fail "could not mount $volume_id ($device, $type) at $MOUNT_POINT"
  changed+=(mounted)
fi
if $formatted; then
  # A new filesystem is the login user's to fill; an existing one keeps its owners.
  chown "$OWNER:" "$target"
fi

if ((${#changed[@]} > 0)); then
  summary=$(printf '%s, ' "${changed[@]}")
  say "$volume_id ($device, $type, UUID $uuid) at $MOUNT_POINT: ${summary%, }"
else
  say "$volume_id ($device, $type, UUID $uuid) at $MOUNT_POINT: nothing to change"
fi
