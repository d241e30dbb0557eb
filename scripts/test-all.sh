#!/usr/bin/env bash
# Runs every test the project has and ends with one line: "N passed, N failed[, N skipped]".
#   tsc    - one type-check of everything (jest itself only transpiles)
#   jest   - config, constructs, stack, policy, engine (terraform plan), CLI
#   bats   - the on-box idle check, run unchanged against stubs
#   lint   - shellcheck over every shell file (one check per file)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

export CHECKPOINT_DISABLE=1
passed=0
failed=0
skipped=0
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT

# Each part prints its own wall time, so a slow part is visible without a profiler.
part_started=$SECONDS
end_part() { echo "-- $1: $((SECONDS - part_started)) s"; part_started=$SECONDS; }

# ------------------------------------------------------------------ type-check
# Once for the whole project: jest transpiles each file on its own (isolatedModules) and checks no types.
echo "== typecheck"
if npx tsc --noEmit; then passed=$((passed + 1)); else echo "typecheck failed"; failed=$((failed + 1)); fi
end_part typecheck

# ------------------------------------------------------------------ jest
echo "== jest"
npx jest --ci --json --outputFile="$report_dir/jest.json" "$@"
if [[ -s "$report_dir/jest.json" ]]; then
  read -r p f s < <(node -e '
    const r = require(process.argv[1]);
    console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites, r.numPendingTests + r.numTodoTests);
  ' "$report_dir/jest.json")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
else
  echo "jest wrote no report"; failed=$((failed + 1))
fi
end_part jest

# ------------------------------------------------------------------ bats
echo "== bats"
if compgen -G "__tests__/userdata/*.bats" > /dev/null; then
  # bats names its executable through `directories.bin`, which npm does not link into .bin.
  node_modules/bats/bin/bats --formatter tap __tests__/userdata | tee "$report_dir/bats.tap"
  p=$(grep -cE '^ok [0-9]+ ' "$report_dir/bats.tap" | tr -d ' ')
  s=$(grep -cE '^ok [0-9]+ .*# skip' "$report_dir/bats.tap" | tr -d ' ')
  f=$(grep -cE '^not ok [0-9]+ ' "$report_dir/bats.tap" | tr -d ' ')
  planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$report_dir/bats.tap" | head -n 1)
  if [[ -z "$planned" || $((p + f)) -ne "$planned" ]]; then
    echo "bats did not finish its plan (${planned:-no plan}, $((p + f)) reported)"; f=$((f + 1))
  fi
  passed=$((passed + p - s)); failed=$((failed + f)); skipped=$((skipped + s))
else
  echo "no bats tests found"; failed=$((failed + 1))
fi
end_part bats

# ------------------------------------------------------------------ shellcheck
echo "== shellcheck"
mapfile -t shell_files < <(git ls-files -co --exclude-standard -- '*.sh' '*.bash' '*.bats' .ci/run | sort -u)
if command -v shellcheck > /dev/null; then
  for file in "${shell_files[@]}"; do
    if shellcheck -x "$file"; then passed=$((passed + 1)); else echo "shellcheck: $file"; failed=$((failed + 1)); fi
  done
else
  echo "SKIPPED shellcheck: not installed (Debian/Ubuntu: apt-get install shellcheck; .ci/run installs it)"
  skipped=$((skipped + ${#shell_files[@]}))
fi
end_part shellcheck

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[[ $failed -eq 0 ]]
