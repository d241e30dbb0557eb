# shellcheck shell=bash
# Shared by a cluster machine's first-boot programs (node-setup.sh, mount-shared.sh): one log line per action,
# a clear FAILED line before giving up, and apt-get with bounded retries. The network of a compute node goes
# through the head (its NAT), which may lag right after boot; apt's own lock may be held by the image's
# unattended upgrades at first boot, which apt-get waits for (DPkg::Lock::Timeout, apt 1.9.11 and later).
# Each program sets PROGRAM before sourcing this file. Test hooks: TS_APT_ATTEMPTS, TS_APT_RETRY_SECONDS.

# The tools live in the sbin directories too; appended, so a test's stubs earlier on PATH still win.
export PATH=$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

APT_ATTEMPTS=${TS_APT_ATTEMPTS:-10}
APT_RETRY_SECONDS=${TS_APT_RETRY_SECONDS:-15}
# One apt-get run at most this long (a package download through the head included).
APT_RUN_SECONDS=900

log() {
  printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "$PROGRAM" "$*"
  logger -t trainium-spot-node -- "$PROGRAM: $*" 2> /dev/null || true
}

# fail MESSAGE: the line a reader of the log looks for, then exit 1.
fail() {
  log "FAILED: $*"
  exit 1
}

apt_get() {
  DEBIAN_FRONTEND=noninteractive timeout "$APT_RUN_SECONDS" apt-get -q -y -o DPkg::Lock::Timeout=300 \
    -o Acquire::Retries=3 -o Dpkg::Options::=--force-confold "$@"
}

# apt_install PACKAGE...: update the package lists and install, up to APT_ATTEMPTS times.
apt_install() {
  local attempt
  for ((attempt = 1; attempt <= APT_ATTEMPTS; attempt++)); do
    if apt_get update && apt_get install "$@"; then
      log "installed $*"
      return 0
    fi
    log "apt-get could not install $* (attempt $attempt of $APT_ATTEMPTS)"
    ((attempt < APT_ATTEMPTS)) && sleep "$APT_RETRY_SECONDS"
  done
  return 1
}
