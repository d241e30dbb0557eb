#!/usr/bin/env bats
# mount-shared.sh (src/userdata/cluster), run as it is on a node, in a fake root: /etc/fstab and /shared are in
# $ROOT; mount and findmnt share a mount table in $TS_FAKE; apt-get, curl, gpg, uname, modprobe and the mount
# helpers are recorded stubs.
# shellcheck disable=SC2030,SC2031 # each test changes its own environment

load node_helper

EFS=fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/
LUSTRE=fs-0123456789abcdef0.fsx.us-east-2.amazonaws.com@tcp:/abcdefgh
EFS_OPTIONS=nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail

setup() {
  export TS_FAKE=$BATS_TEST_TMPDIR/fake ROOT=$BATS_TEST_TMPDIR/root
  export TS_ROOT=$ROOT TS_MOUNT_RETRY_SECONDS=0 TS_APT_RETRY_SECONDS=0 TS_APT_ATTEMPTS=2
  STUBS=$BATS_TEST_TMPDIR/bin
  mkdir -p "$TS_FAKE" "$ROOT/etc"
  printf '# /etc/fstab: static file system information.\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n' > "$ROOT/etc/fstab"
  printf 'NAME="Ubuntu"\nVERSION_CODENAME=noble\n' > "$ROOT/etc/os-release"
  node_stubs "$STUBS" apt-get curl gpg modprobe logger mount.nfs4
  echo 6.8.0-1019-aws > "$TS_FAKE/uname.out"
  node_stubs "$STUBS" uname
  mount_table_stubs "$STUBS"
}

mount_shared() {
  run env PATH="$STUBS:$PATH" "$REPO_ROOT/src/userdata/cluster/mount-shared.sh" "$@"
}

@test "EFS: one fstab line with AWS's NFS options and nofail, mounted at /shared" {
  # WHEN
  mount_shared efs "$EFS"
  # THEN
  ((status == 0)) || fail_with "exit $status"
  [[ $(tail -n 1 "$ROOT/etc/fstab") == "$EFS /shared nfs4 $EFS_OPTIONS 0 0" ]] || fail_with "fstab: $(cat "$ROOT/etc/fstab")"
  [[ $(head -n 2 "$ROOT/etc/fstab") == $'# /etc/fstab: static file system information.\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1' ]] ||
    fail_with "the image's own lines changed"
  [[ $(stat -c %a "$ROOT/etc/fstab") == 644 ]]
  [[ $(calls_matching "^mount -t nfs4 -o $EFS_OPTIONS $EFS $ROOT/shared\$") == 1 ]] || fail_with "no mount"
  [[ -d $ROOT/shared ]]
  # AND the client was already there: nothing installed
  [[ $(calls_matching '^apt-get') == 0 ]] || fail_with "apt-get ran"
  [[ $output == *"mount-shared: mounted $EFS at /shared (nfs4)"* ]] || fail_with "no log line"
}

@test "twice equals once: the second run leaves fstab untouched and mounts nothing" {
  mount_shared efs "$EFS"
  ((status == 0)) || fail_with "first run: exit $status"
  local before
  before=$(identity_of "$ROOT/etc/fstab")
  # WHEN
  mount_shared efs "$EFS"
  # THEN
  ((status == 0)) || fail_with "second run: exit $status"
  [[ $(identity_of "$ROOT/etc/fstab") == "$before" ]] || fail_with "fstab was rewritten"
  [[ $(calls_matching '^mount ') == 1 ]] || fail_with "mounted again"
  [[ $output == *"/etc/fstab already mounts $EFS at /shared"* && $output == *"is mounted at /shared already"* ]] || fail_with "no log lines"
}

@test "a line for /shared from an earlier file system is replaced, other lines kept" {
  printf 'fs-0aaaaaaaaaaaaaaaa.efs.us-east-2.amazonaws.com:/ /shared nfs4 defaults 0 0\n# /shared nfs4 a comment\n' >> "$ROOT/etc/fstab"
  mount_shared efs "$EFS"
  ((status == 0)) || fail_with "exit $status"
  [[ $(grep -c '^[^#].* /shared ' "$ROOT/etc/fstab") == 1 && $(tail -n 1 "$ROOT/etc/fstab") == "$EFS /shared nfs4 $EFS_OPTIONS 0 0" && $(grep -c '^# /shared nfs4 a comment$' "$ROOT/etc/fstab") == 1 ]] ||
    fail_with "fstab: $(cat "$ROOT/etc/fstab")"
  [[ $(grep -c . "$ROOT/etc/fstab") == 4 ]]
}

@test "FSx for Lustre: the client for the running kernel from FSx's repository, relatime,flock, mounted" {
  # GIVEN no Lustre mount helper on the node
  # WHEN
  mount_shared fsx-lustre "$LUSTRE"
  # THEN FSx's repository for this release, signed by its key
  ((status == 0)) || fail_with "exit $status"
  [[ $(cat "$ROOT/etc/apt/sources.list.d/fsxlustreclientrepo.list") == \
    'deb [signed-by=/usr/share/keyrings/fsx-ubuntu-public-key.gpg] https://fsx-lustre-client-repo.s3.amazonaws.com/ubuntu noble main' ]]
  [[ -f $ROOT/usr/share/keyrings/fsx-ubuntu-public-key.gpg ]]
  [[ $(calls_matching '^curl .*https://fsx-lustre-client-repo-public-keys.s3.amazonaws.com/fsx-ubuntu-public-key.asc$') == 1 ]]
  # AND the client modules for the running kernel, loaded
  [[ $(calls_matching '^apt-get .* install lustre-client-modules-6.8.0-1019-aws$') == 1 ]] || fail_with "no install"
  [[ $(calls_matching '^modprobe lustre$') == 1 ]]
  # AND the fstab line and the mount
  [[ $(tail -n 1 "$ROOT/etc/fstab") == "$LUSTRE /shared lustre relatime,flock,_netdev,nofail 0 0" ]] || fail_with "fstab"
  [[ $(calls_matching "^mount -t lustre -o relatime,flock,_netdev,nofail $LUSTRE $ROOT/shared\$") == 1 ]] || fail_with "no mount"
}

@test "a client FSx does not have for this kernel fails with a line that says so" {
  echo 100 > "$TS_FAKE/apt-get.exit"
  mount_shared fsx-lustre "$LUSTRE"
  ((status == 1)) || fail_with "exit $status"
  [[ $(calls_matching '^apt-get .* update$') == 2 ]] || fail_with "not retried twice"
  [[ $output == *"FAILED: could not install lustre-client-modules-6.8.0-1019-aws: Amazon FSx may have no Lustre client for this kernel yet"* ]] ||
    fail_with "no FAILED line"
  [[ $(calls_matching '^mount ') == 0 ]]
}

@test "a mount that keeps failing is tried a bounded number of times and reported" {
  echo 32 > "$TS_FAKE/mount.exit"
  TS_MOUNT_ATTEMPTS=3 mount_shared efs "$EFS"
  ((status == 1)) || fail_with "exit $status"
  [[ $(calls_matching '^mount ') == 3 ]] || fail_with "not 3 tries"
  [[ $output == *"mount of $EFS at /shared failed (attempt 3 of 3)"* ]]
  [[ $output == *"FAILED: could not mount $EFS at /shared after 3 tries"* ]] || fail_with "no FAILED line"
  # AND the fstab line is in place for the next boot (nofail: the boot does not wait for it)
  [[ $(tail -n 1 "$ROOT/etc/fstab") == "$EFS /shared nfs4 $EFS_OPTIONS 0 0" ]]
}

@test "fails when the source is not the type's form, or the type is unknown" {
  mount_shared efs "$LUSTRE"
  ((status == 1)) && [[ $output == *"FAILED: '$LUSTRE' is not an EFS source (<DNS name>:/)"* ]] || fail_with "efs: $status"
  mount_shared fsx-lustre "$EFS"
  ((status == 1)) && [[ $output == *"is not an FSx for Lustre source"* ]] || fail_with "lustre: $status"
  mount_shared nfs "$EFS"
  ((status == 1)) && [[ $output == *"FAILED: unknown storage type 'nfs'; allowed: efs, fsx-lustre"* ]] || fail_with "type: $status"
  [[ $(calls_matching '^mount ') == 0 ]]
}

@test "something else mounted at /shared is an error, not a second mount" {
  printf '%s %s\n' "$ROOT/shared" "fs-0aaaaaaaaaaaaaaaa.efs.us-east-2.amazonaws.com:/" > "$TS_FAKE/mounts"
  mount_shared efs "$EFS"
  ((status == 1)) || fail_with "exit $status"
  [[ $output == *"FAILED: /shared already holds fs-0aaaaaaaaaaaaaaaa.efs.us-east-2.amazonaws.com:/, not $EFS"* ]] || fail_with "no FAILED line"
}
