#!/usr/bin/env bash
# Runs every bats test under __tests__/userdata and prints one TAP stream: a `1..N` plan, then the
# results numbered 1..N (skips as `# skip`). Exits non-zero when a test fails or a test did not run.
#
# Two bats runs share the machine's cores, each with about half the work: the timeline's work, idle and
# bounded scenarios in one, every other test in the other. The timeline's figures test sums up every scenario of both, so it runs last, reading the
# figures both wrote to one shared file.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

bats=node_modules/bats/bin/bats
tests=__tests__/userdata
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TIMELINE_FIGURES_FILE=$work/timeline-figures

files=("$tests"/*.bats)
if ((${#files[@]} == 0)) || [[ ! -e ${files[0]} ]]; then
  printf '1..1\nnot ok 1 bats: no test files in %s\n' "$tests"
  exit 1
fi

# Test names are regular expressions for bats --filter; no name outside timeline.bats starts this way.
timeline_first='^(work|idle|bounded): '
timeline_figures='^figures: '

"$bats" --formatter tap --filter "$timeline_first" "$tests/timeline.bats" >"$work/1.tap" 2>"$work/1.err" &
first=$!
"$bats" --formatter tap --negative-filter "$timeline_first|$timeline_figures" "${files[@]}" >"$work/2.tap" 2>"$work/2.err" &
second=$!
failed=0
wait "$first" || failed=1
wait "$second" || failed=1
"$bats" --formatter tap --filter "$timeline_figures" "$tests/timeline.bats" >"$work/3.tap" 2>"$work/3.err" || failed=1

# One plan for the three runs, then their lines renumbered in order. Anything else a run printed
# (diagnostics, its own stderr) stays, as TAP comments.
planned=0
for part in 1 2 3; do
  plan=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$work/$part.tap" | head -n 1)
  planned=$((planned + ${plan:-0}))
done
declared=$(cat "${files[@]}" | grep -c '^@test ')
total=$planned
((declared == planned)) || total=$((planned + 1))
printf '1..%s\n' "$total"
number=0
for part in 1 2 3; do
  while IFS= read -r line; do
    if [[ $line =~ ^(ok|not\ ok)\ [0-9]+(.*)$ ]]; then
      number=$((number + 1))
      printf '%s %s%s\n' "${BASH_REMATCH[1]}" "$number" "${BASH_REMATCH[2]}"
    elif [[ ! $line =~ ^1\.\.[0-9]+$ ]]; then
      printf '%s\n' "$line"
    fi
  done <"$work/$part.tap"
  while IFS= read -r line; do printf '# %s\n' "$line"; done <"$work/$part.err"
done
if ((declared != planned)); then
  number=$((number + 1))
  printf 'not ok %s bats: %s tests in %s, but the runs planned %s\n' "$number" "$declared" "$tests" "$planned"
  failed=1
fi
if ((number != total)); then
  failed=1
fi
exit "$failed"
