#!/usr/bin/env bash
# Installs AWS CLI v2 at /usr/local/bin/aws on the head, where the power-saving programs (run by slurmctld as the
# slurm user, with a bare PATH) and the munge key step find it. Ubuntu 24.04's archive has no awscli package, and
# the snap keeps data under its user's home directory, which the slurm user (home /nonexistent) lacks; AWS's own
# bundle is the install AWS documents for Linux (AWS CLI User Guide, "Installing or updating to the latest
# version of the AWS CLI", Linux: the awscli-exe-linux-<arch>.zip bundle, `./aws/install --bin-dir --install-dir`,
# https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html, checked 2026-12-07).
#   aws-cli.sh
# An installed CLI is left as it is (twice is once); its own updates are the administrator's.
# TRAINIUM_SPOT_ROOT=DIR looks for the CLI under DIR and installs nothing (it prints what it would run).
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

readonly ROOT=${TRAINIUM_SPOT_ROOT:-}
readonly BIN_DIR=/usr/local/bin INSTALL_DIR=/usr/local/aws-cli

say() { printf 'trainium-spot aws cli: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

if [[ -x $ROOT$BIN_DIR/aws ]]; then
  exit 0
fi
bundle="https://awscli.amazonaws.com/awscli-exe-linux-$(uname -m).zip"
if [[ -n $ROOT ]]; then
  say "would install $bundle into $INSTALL_DIR, linked from $BIN_DIR/aws"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 --retry-delay 5 -o "$work/awscliv2.zip" "$bundle" || fail "cannot download $bundle"
unzip -q "$work/awscliv2.zip" -d "$work" || fail "cannot unpack $bundle (is unzip installed?)"
"$work/aws/install" --bin-dir "$BIN_DIR" --install-dir "$INSTALL_DIR" || fail "AWS's installer failed"
say "installed $("$BIN_DIR/aws" --version)"
