#!/usr/bin/env bats
# The data volume's mount step (src/userdata/data-volume.sh) as the agent installs and runs it from a synthesized
# stack with `dataVolume`, on fake devices: sparse files linked under a fake root's /dev/disk/by-id, probed and
# formatted by the real blkid, wipefs and mkfs.ext4 (util-linux, e2fsprogs). Only what would touch the host is
# stubbed: mount and findmnt share a mount table in $TS_FAKE (stubs/mount-table), systemctl and chown are recorded,
# mkfs.ext4 is recorded and run (stubs/recording). No loop device, no root needed: it runs wherever those tools are
# installed, and says so where they are not.

setup_file() {
  export VOLUME_ID=vol-0123456789abcdef0 OTHER_VOLUME_ID=vol-0fedcba9876543210
  export VOLUME_STACK=$BATS_FILE_TMPDIR/volume.out/stacks/trainium-spot/cdk.tf.json
  printf '{"dataVolume": {"sizeGiB": 500}}' >"$BATS_FILE_TMPDIR/volume.json"
  (cd "$TS_REPO_ROOT" && TRAINIUM_SPOT_CONFIG=$BATS_FILE_TMPDIR/volume.json CDKTF_OUTDIR=$BATS_FILE_TMPDIR/volume.out node scripts/app.mjs) \
    >"$BATS_FILE_TMPDIR/volume.log" 2>&1
  # The mount step the mount tests run, as that stack's agent installs it. No volume is attached in this
  # root, so the agent's own run of it fails there; the tests run the installed file on their own boxes.
  export INSTALLED_MOUNT_STEP=$BATS_FILE_TMPDIR/agent/usr/local/sbin/trainium-spot-data-volume
  mkdir -p "$BATS_FILE_TMPDIR/agent"
  TS_PARAMETER_dataVolumeIds=$VOLUME_ID TS_DEVICE_WAIT_SECONDS=0 \
    node "$TS_REPO_ROOT/__tests__/support/agent-root.mjs" "$VOLUME_STACK" "$BATS_FILE_TMPDIR/agent" >"$BATS_FILE_TMPDIR/agent.log" 2>&1 || true
  [[ -x $INSTALLED_MOUNT_STEP ]] || { cat "$BATS_FILE_TMPDIR/volume.log" "$BATS_FILE_TMPDIR/agent.log" >&2; return 1; }
}

setup() {
  load test_helper
  local tool
  for tool in blkid wipefs mkfs.ext4 mke2fs mkswap; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (util-linux, e2fsprogs)"
  done
  export TS_FAKE=$BATS_TEST_TMPDIR/fake TS_REAL_PATH=$PATH
  ROOT=$BATS_TEST_TMPDIR/root
  BY_ID=$ROOT/dev/disk/by-id
  STUBS=$BATS_TEST_TMPDIR/bin
  MOUNT_SCRIPT=$ROOT/usr/local/sbin/trainium-spot-data-volume
  mkdir -p "$TS_FAKE" "$BY_ID" "$ROOT/etc" "$STUBS"
  printf '# /etc/fstab: static file system information.\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
  install_stub "$STUBS" systemctl chown
  ln -s "$BATS_TEST_DIRNAME/stubs/mount-table" "$STUBS/mount"
  ln -s "$BATS_TEST_DIRNAME/stubs/mount-table" "$STUBS/findmnt"
  ln -s "$BATS_TEST_DIRNAME/stubs/recording" "$STUBS/mkfs.ext4"
}

# attach_volume ID [LINK_SUFFIX]: a 64 MiB blank device for volume ID, linked as udev links an EBS NVMe device.
attach_volume() {
  local image=$BATS_TEST_TMPDIR/${1}.img
  truncate -s 64M "$image"
  ln -s "$image" "$BY_ID/nvme-Amazon_Elastic_Block_Store_${1/-/}${2:-}"
  printf '%s\n' "$image"
}

# install_agent [STACK_JSON]: the document's command as State Manager runs it on the box at $ROOT, with the ids
# of both boxes' volumes as the association passes them (default: the data volume stack).
install_agent() {
  run env PATH="$STUBS:$PATH" TS_PARAMETER_dataVolumeIds="$OTHER_VOLUME_ID $VOLUME_ID" TS_DEVICE_WAIT_SECONDS=0 \
    node "$TS_REPO_ROOT/__tests__/support/agent-root.mjs" "${1:-$VOLUME_STACK}" "$ROOT"
}

# The mount step as the agent installed it, on this test's box: mount point, owner, the stack's volume ids.
mount_step() {
  run env PATH="$STUBS:$PATH" TRAINIUM_SPOT_ROOT="$ROOT" TS_DEVICE_WAIT_SECONDS=0 "$INSTALLED_MOUNT_STEP" /data ubuntu "$@"
}

uuid_of() { blkid -p -o value -s UUID "$1"; }
# A file's identity and content: equal means not rewritten, not even with the same bytes.
identity_of() { stat -c '%i %Y %s' "$1" && sha256sum <"$1"; }
# Every entry of a tree with its type, mode, size, modification time and inode.
tree_of() { (cd "$1" && find . -printf '%p %y %m %s %T@ %i\n' | sort); }

assert_calls() {
  count_calls "$1"
  ((CALL_COUNT == $2)) || fail_with "expected $2 calls matching $1, got $CALL_COUNT: $(cat "$TS_FAKE/calls" 2>/dev/null)"
}

@test "the agent installs the mount step byte for byte and runs it: the box's blank volume is mounted; its second run changes nothing" {
  # GIVEN a box whose data volume is attached, blank
  local device before
  device=$(attach_volume "$VOLUME_ID")
  # WHEN the agent runs on it
  install_agent
  # THEN the script is the one in src/userdata (without its comment lines), and it ran with the ids SSM filled in:
  # the volume is ext4 and mounted
  assert_success
  node "$TS_REPO_ROOT/__tests__/support/shipped-copy.mjs" --check data-volume.sh "$MOUNT_SCRIPT" || fail_with "the installed script differs"
  [[ $(stat -c %a "$MOUNT_SCRIPT") == 755 ]]
  [[ $(blkid -p -o value -s TYPE "$device") == ext4 ]] || fail_with "no filesystem on the volume"
  assert_calls "^begin mount -t ext4 $device $ROOT/data\$" 1
  assert_output_has "trainium-spot data volume: $VOLUME_ID ($device, ext4, UUID $(uuid_of "$device")) at /data: formatted, written to /etc/fstab, mounted"
  # WHEN the agent runs again
  before=$(tree_of "$ROOT"; identity_of "$device")
  install_agent
  # THEN the box is the same to the inode and modification time
  assert_success
  assert_output_has ": nothing to change"
  [[ $(tree_of "$ROOT"; identity_of "$device") == "$before" ]] || fail_with "the box changed"
  assert_calls '^begin (mkfs|mount )' 2
}

@test "a failing mount step fails the agent's run, after everything else is installed and recorded" {
  # GIVEN no data volume attached to the box (yet)
  # WHEN
  install_agent
  # THEN
  ((status == 1)) || fail_with "expected exit 1, got $status"
  assert_output_has "none of the stack's data volumes ($OTHER_VOLUME_ID $VOLUME_ID) is attached to this box"
  assert_output_has "FAILED: /usr/local/sbin/trainium-spot-data-volume failed (its lines above say why); everything else is installed."
  [[ -x $ROOT/usr/local/sbin/trainium-spot-idle && -f $ROOT/etc/trainium-spot/agent.json ]] || fail_with "the rest is missing"
}

@test "volume ids with anything but an id's characters are refused before they reach the box" {
  TS_PARAMETER_dataVolumeIds="$VOLUME_ID; touch $BATS_TEST_TMPDIR/pwned" \
    run node "$TS_REPO_ROOT/__tests__/support/agent-root.mjs" "$VOLUME_STACK" "$ROOT"
  ((status != 0)) || fail_with "accepted"
  [[ $output == *"SSM would refuse"* ]] || fail_with "no reason"
  [[ ! -e $BATS_TEST_TMPDIR/pwned ]]
}

@test "switching dataVolume off takes the mount step off a box that had it" {
  attach_volume "$VOLUME_ID" >/dev/null
  install_agent
  assert_success
  install_agent "$TS_STACK_JSON"
  assert_success
  [[ ! -e $MOUNT_SCRIPT ]] || fail_with "the mount script stayed"
  [[ -e $ROOT/usr/local/sbin/trainium-spot-idle ]]
}

@test "a blank volume is formatted once, owned by the login user, mounted by UUID with nofail; a second run changes nothing" {
  # GIVEN the box's volume, blank, attached
  local device uuid before
  device=$(attach_volume "$VOLUME_ID")
  # WHEN the mount step runs with the stack's ids (the other box's volume is not attached here)
  mount_step "$OTHER_VOLUME_ID" "$VOLUME_ID"
  # THEN it made one ext4 filesystem on that device
  assert_success
  assert_output_has "$VOLUME_ID ($device) is blank: making an ext4 filesystem"
  assert_calls "^begin mkfs.ext4 -q -m 0 $device\$" 1
  [[ $(blkid -p -o value -s TYPE "$device") == ext4 ]] || fail_with "no ext4 on the device"
  uuid=$(uuid_of "$device")
  # AND /etc/fstab mounts it by UUID, never holding up a boot, beside the lines that were there
  [[ $(<"$ROOT/etc/fstab") == $'# /etc/fstab: static file system information.\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n'"UUID=$uuid /data ext4 defaults,nofail 0 2" ]] ||
    fail_with "$(cat "$ROOT/etc/fstab")"
  assert_calls '^begin systemctl daemon-reload$' 1
  # AND it is mounted at /data, which the login user owns
  assert_calls "^begin mount -t ext4 $device $ROOT/data\$" 1
  assert_calls "^begin chown ubuntu: $ROOT/data\$" 1
  assert_output_has "at /data: formatted, written to /etc/fstab, mounted"

  # WHEN it runs again
  before=$(identity_of "$ROOT/etc/fstab"; identity_of "$device")
  mount_step "$OTHER_VOLUME_ID" "$VOLUME_ID"
  # THEN nothing is formatted, written, mounted, reloaded or chowned
  assert_success
  assert_output_has "UUID $uuid) at /data: nothing to change"
  [[ $(identity_of "$ROOT/etc/fstab"; identity_of "$device") == "$before" ]] || fail_with "the fstab or the device changed"
  assert_calls '^begin mkfs' 1
  assert_calls '^begin mount ' 1
  assert_calls '^begin systemctl' 1
  assert_calls '^begin chown' 1
}

@test "a volume with a filesystem is never formatted: it is mounted as it is, with its own type, and keeps its owners" {
  # GIVEN a volume restored from a snapshot: an ext2 filesystem with data on it
  local device before
  device=$(attach_volume "$VOLUME_ID")
  mke2fs -q -t ext2 -U 0f0e0d0c-0b0a-4908-8706-050403020100 "$device"
  before=$(identity_of "$device")
  # WHEN
  mount_step "$VOLUME_ID"
  # THEN not one byte of the device changed, and nothing made a filesystem
  assert_success
  [[ $(identity_of "$device") == "$before" ]] || fail_with "the device was written"
  assert_calls '^begin mkfs' 0
  refute_output_has "making"
  # AND it is mounted by its own UUID and type, its owners left alone
  grep -qxF 'UUID=0f0e0d0c-0b0a-4908-8706-050403020100 /data ext2 defaults,nofail 0 2' "$ROOT/etc/fstab" || fail_with "$(cat "$ROOT/etc/fstab")"
  assert_calls "^begin mount -t ext2 $device $ROOT/data\$" 1
  assert_calls '^begin chown' 0
}

@test "a volume with a partition table is never formatted and never mounted: the run fails and says what it found" {
  # GIVEN a volume that carries an MBR partition table (one Linux partition) and no filesystem of its own
  local device before
  device=$(attach_volume "$VOLUME_ID")
  printf '\x00\x20\x21\x00\x83\x8a\x08\x00\x00\x08\x00\x00\x00\xf8\x01\x00' | dd of="$device" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$device" bs=1 seek=510 conv=notrunc status=none
  before=$(identity_of "$device"; identity_of "$ROOT/etc/fstab")
  # WHEN
  mount_step "$VOLUME_ID"
  # THEN
  ((status == 1)) || fail_with "expected exit 1, got $status"
  assert_output_has "$VOLUME_ID ($device) carries a dos partition table: it is never formatted"
  [[ $(identity_of "$device"; identity_of "$ROOT/etc/fstab") == "$before" ]] || fail_with "the device or the fstab changed"
  assert_calls '^begin (mkfs|mount|systemctl|chown)' 0
}

@test "a volume with another signature (swap) is never formatted and never mounted" {
  local device before
  device=$(attach_volume "$VOLUME_ID")
  mkswap -q "$device" >/dev/null
  before=$(identity_of "$device")

  mount_step "$VOLUME_ID"

  ((status == 1)) || fail_with "expected exit 1, got $status"
  assert_output_has "$VOLUME_ID ($device) carries swap (other), not a filesystem: never formatted, not mounted"
  [[ $(identity_of "$device") == "$before" ]] || fail_with "the device was written"
  assert_calls '^begin (mkfs|mount)' 0
}

@test "the volume is found by its id alone: an instance store disk and the other boxes' volumes are never touched" {
  # GIVEN a blank instance store disk (an NVMe device too) and this box's volume under udev's newer link name
  local store device store_before
  store=$BATS_TEST_TMPDIR/instance-store.img
  truncate -s 64M "$store"
  ln -s "$store" "$BY_ID/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1234567890ABCDEF0"
  store_before=$(identity_of "$store")
  device=$(attach_volume "$VOLUME_ID" _1)
  # WHEN
  mount_step "$OTHER_VOLUME_ID" "$VOLUME_ID"
  # THEN
  assert_success
  assert_calls "^begin mkfs.ext4 -q -m 0 $device\$" 1
  assert_calls '^begin mkfs' 1
  [[ $(identity_of "$store") == "$store_before" ]] || fail_with "the instance store disk was written"
}

@test "fails, formatting nothing, when none of the stack's volumes is attached to the box" {
  mount_step "$OTHER_VOLUME_ID" "$VOLUME_ID"
  ((status == 1)) || fail_with "expected exit 1, got $status"
  assert_output_has "none of the stack's data volumes ($OTHER_VOLUME_ID $VOLUME_ID) is attached to this box after 0 s"
  assert_calls '^begin' 0
}

@test "the fstab line of a replaced volume gives way to the new one; every other line stays" {
  # GIVEN the line an earlier volume left for /data, and a comment about /data
  local device uuid
  printf '# /data was the old volume\nUUID=11111111-2222-3333-4444-555555555555 /data ext4 defaults,nofail 0 2\n' >>"$ROOT/etc/fstab"
  chmod 0644 "$ROOT/etc/fstab"
  device=$(attach_volume "$VOLUME_ID")
  # WHEN
  mount_step "$VOLUME_ID"
  # THEN
  assert_success
  uuid=$(uuid_of "$device")
  [[ $(<"$ROOT/etc/fstab") == $'# /etc/fstab: static file system information.\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n# /data was the old volume\n'"UUID=$uuid /data ext4 defaults,nofail 0 2" ]] ||
    fail_with "$(cat "$ROOT/etc/fstab")"
  [[ $(stat -c %a "$ROOT/etc/fstab") == 644 ]]
}

@test "fails without mounting when another filesystem is mounted at /data" {
  local device
  device=$(attach_volume "$VOLUME_ID")
  mke2fs -q -t ext4 "$device"
  printf '%s %s\n' "$ROOT/data" 99999999-8888-7777-6666-555555555555 >"$TS_FAKE/mounts"

  mount_step "$VOLUME_ID"

  ((status == 1)) || fail_with "expected exit 1, got $status"
  assert_output_has "/data holds another filesystem (UUID 99999999-8888-7777-6666-555555555555), not $VOLUME_ID"
  assert_calls '^begin (mkfs|mount )' 0
}
