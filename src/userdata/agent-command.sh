#!/bin/sh
# @ABOUT@
# State Manager runs this (aws:runShellScript, with sh): it writes the installer and its manifest to a
# private directory and runs the installer with bash. Quoted here-documents: nothing in them is expanded.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/install-agent.sh" <<'TRAINIUM_SPOT_INSTALLER'
@INSTALLER@
TRAINIUM_SPOT_INSTALLER
cat >"$work/manifest" <<'TRAINIUM_SPOT_MANIFEST'
@MANIFEST@
TRAINIUM_SPOT_MANIFEST
bash "$work/install-agent.sh" "$work/manifest" @ARGUMENTS@
