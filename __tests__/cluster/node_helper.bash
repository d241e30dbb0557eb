# shellcheck shell=bash
# Shared by the compute node's bats files (node-setup.bats, mount-shared.bats): a fake root for the node's
# first-boot programs and stubs, on PATH, for everything that would touch this machine or the network.
# Every stub call is one line "NAME ARGS..." in $TS_FAKE/calls; what a stub answers is arranged in $TS_FAKE:
# NAME.out is printed, NAME.exit is its exit status (default 0).
# shellcheck disable=SC2154 # status and output are set by bats' `run`

NODE_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$NODE_TESTS/../.." && pwd)
export NODE_TESTS REPO_ROOT

# node_stubs DIR NAME...: a recording stub under each name.
node_stubs() {
  local dir=$1 name
  shift
  mkdir -p "$dir"
  for name in "$@"; do
    cat > "$dir/$name" << 'STUB'
#!/bin/sh
name=${0##*/}
printf '%s %s\n' "$name" "$*" >> "$TS_FAKE/calls"
[ -f "$TS_FAKE/$name.out" ] && cat "$TS_FAKE/$name.out"
exit "$(cat "$TS_FAKE/$name.exit" 2> /dev/null || echo 0)"
STUB
    chmod 755 "$dir/$name"
  done
}

# mount_table_stubs DIR: `mount -t TYPE -o OPTIONS SOURCE TARGET` records "TARGET SOURCE" in $TS_FAKE/mounts (or
# fails with $TS_FAKE/mount.exit); `findmnt -n -o SOURCE --mountpoint TARGET` prints the source mounted there,
# or exits 1 as findmnt does when nothing is.
mount_table_stubs() {
  mkdir -p "$1"
  cat > "$1/mount" << 'STUB'
#!/bin/sh
printf 'mount %s\n' "$*" >> "$TS_FAKE/calls"
[ -f "$TS_FAKE/mount.exit" ] && exit "$(cat "$TS_FAKE/mount.exit")"
[ "$1" = -t ] && [ "$3" = -o ] && [ $# -eq 6 ] || { echo "mount stub: expected mount -t TYPE -o OPTIONS SOURCE TARGET" >&2; exit 2; }
printf '%s %s\n' "$6" "$5" >> "$TS_FAKE/mounts"
STUB
  cat > "$1/findmnt" << 'STUB'
#!/bin/sh
for target in "$@"; do :; done
[ -f "$TS_FAKE/mounts" ] || exit 1
while read -r mounted source; do
  [ "$mounted" = "$target" ] && { printf '%s\n' "$source"; exit 0; }
done < "$TS_FAKE/mounts"
exit 1
STUB
  chmod 755 "$1/mount" "$1/findmnt"
}

# calls_matching REGEX: how many stub calls match.
calls_matching() { grep -cE "$1" "$TS_FAKE/calls" 2> /dev/null || true; }

fail_with() {
  printf '%s\n--- output ---\n%s\n--- calls ---\n%s\n' "$1" "$output" "$(cat "$TS_FAKE/calls" 2> /dev/null)" >&2
  return 1
}

# identity_of FILE: inode, modification time and content: equal means the file was not rewritten.
identity_of() { stat -c '%i %Y' "$1" && sha256sum < "$1"; }
