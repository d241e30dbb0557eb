#!/usr/bin/env bash
# Runs every bats test under __tests__/userdata in one bats run and prints its TAP stream (skips as
# `# skip`). Exits non-zero when a test fails or a test did not run.
#
# One run, not several side by side: nearly all of bats' time is starting processes (the real idle check
# starts about 8 per check), and on the development machine two runs side by side started them no faster
# than one (`npm run bench -- --parts`, the process-start probe), while costing 70 % more CPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

bats=node_modules/bats/bin/bats
tests=__tests__/userdata
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

files=("$tests"/*.bats)
if ((${#files[@]} == 0)) || [[ ! -e ${files[0]} ]]; then
  printf '1..1\nnot ok 1 bats: no test files in %s\n' "$tests"
  exit 1
fi

failed=0
"$bats" --formatter tap "${files[@]}" >"$work/run.tap" 2>"$work/run.err" || failed=1

# The plan must cover every test the files declare; anything the run wrote to stderr stays, as TAP
# comments.
planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$work/run.tap" | head -n 1)
declared=$(cat "${files[@]}" | grep -c '^@test ')
if ((declared != ${planned:-0})); then
  sed -E '/^1\.\.[0-9]+$/d' "$work/run.tap" >"$work/body.tap"
  reported=$(grep -cE '^(ok|not ok) [0-9]+' "$work/body.tap")
  printf '1..%s\n' "$((reported + 1))"
  cat "$work/body.tap"
  printf 'not ok %s bats: %s tests in %s, but the run planned %s\n' "$((reported + 1))" "$declared" "$tests" "${planned:-none}"
  failed=1
else
  cat "$work/run.tap"
fi
while IFS= read -r line; do printf '# %s\n' "$line"; done <"$work/run.err"
exit "$failed"
