#!/usr/bin/env bash
# Runs every test the project has and ends with one line: "N passed, N failed, N skipped".
#   typecheck  - one `tsc --noEmit` of everything (jest itself only transpiles), incremental
#   jest       - config, constructs, stack, policy, CLI
#   engine     - the whole synthesized stack on the real Terraform engine (jest, __tests__/engine)
#   bats       - the on-box idle check, run unchanged against stubs, and the timeline simulator
#   cluster    - the Slurm cluster's programs against a loopback EC2 stand-in and the real AWS CLI, the head's
#                and the nodes' setup against stubs (bats, __tests__/cluster/*.bats but slurm-*)
#   slurm      - a real Slurm cluster whose nodes are network namespaces (bats, __tests__/cluster/slurm-*.bats;
#                skipped with the reason where not root or Slurm is not installed)
#   and shellcheck over every shell file (one check per file)
# Three parts run at a time, the longest first, and each part that ends makes room for the next (see the
# queue below). Jest, which spreads over both cores, runs at a lower priority (nice 10) than the parts that
# hold one core each. Each part's output is printed whole when it ends, with its wall and CPU time.
#
#   npm test                       everything
#   npm test -- <jest arguments>   only jest, with those arguments (e.g. a test file), no other part
#   TEST_PARTS="typecheck bats" npm test   only those parts, side by side
#   RUNNING_PARTS=4 npm test       everything, that many parts at a time (default 3)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

export CHECKPOINT_DISABLE=1
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT
# One cache of synthesized stacks for the run's jest parts (engine, jest): a configuration both synthesize is
# synthesized once (__tests__/support/synth-cache.ts; the global setup leaves a cache it did not open alone).
export TRAINIUM_SPOT_SYNTH_CACHE=$report_dir/synth
mkdir "$TRAINIUM_SPOT_SYNTH_CACHE"

# ------------------------------------------------------------------ the parts
# Each writes "passed failed skipped" to $report_dir/<part>.counts; its output goes to <part>.out.

# jest_counts REPORT: the counts of a jest --json report (a suite that failed to run counts as failed).
jest_counts() {
  if [[ ! -s "$1" ]]; then echo "0 1 0"; echo "jest wrote no report" >&2; return; fi
  node -e '
    const r = require(process.argv[1]);
    console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites, r.numPendingTests + r.numTodoTests);
  ' "$1"
}

part_typecheck() {
  # The build info lets an unchanged file keep its verdict between runs; a fresh clone checks everything.
  if node_modules/.bin/tsc --noEmit --incremental --tsBuildInfoFile node_modules/.cache/trainium-spot/tsc.tsbuildinfo; then
    echo "1 0 0" > "$report_dir/typecheck.counts"
  else
    echo "typecheck failed"; echo "0 1 0" > "$report_dir/typecheck.counts"
  fi
}

part_jest() {
  # With arguments, jest runs what they name (the engine's file too); without, all but the engine's.
  # Two workers, at a lower priority than the single-threaded parts beside it.
  if [[ $# -eq 0 ]]; then set -- --maxWorkers=2 --testPathIgnorePatterns '/__tests__/engine/'; fi
  node_modules/.bin/jest --ci --json --outputFile="$report_dir/jest.json" "$@"
  jest_counts "$report_dir/jest.json" > "$report_dir/jest.counts"
}

part_engine() {
  # One Terraform command at a time (ENGINE_LANES; the test's own default is 2): beside the other parts, two
  # at once took as long and cost about 12 CPU-s more (contention), measured with `npm test`.
  ENGINE_LANES=${ENGINE_LANES:-1} node_modules/.bin/jest --ci --json --outputFile="$report_dir/engine.json" __tests__/engine
  jest_counts "$report_dir/engine.json" > "$report_dir/engine.counts"
}

part_bats() {
  # One bats run, not several side by side: nearly all of bats' time is starting processes (the real
  # idle check starts about 8 per check), and on the development machine two runs side by side started
  # them no faster than one while costing 70 % more CPU (`npm run bench -- --parts`, the probes).
  run_bats bats __tests__/userdata/*.bats
}

part_cluster() {
  # Every cluster bats file but the real-Slurm ones (the slurm part): the programs, the head's and the nodes' setup.
  local files=() file
  for file in __tests__/cluster/*.bats; do [[ $file == */slurm-*.bats ]] || files+=("$file"); done
  run_bats cluster "${files[@]}"
}

part_slurm() {
  # Each file is a cluster of its own (its own subnet and slurmctld port: cluster_helper.bash's slots), so the
  # files run side by side: each mostly waits on Slurm's timers, and one after another they took over 200 s.
  local file name names=() passed=0 failed=0 skipped=0
  for file in __tests__/cluster/slurm-*.bats; do
    name=${file##*/} && name=${name%.bats}
    names+=("$name")
    ( started=$SECONDS; run_bats "$name" "$file"; echo "-- $name: $((SECONDS - started)) s wall" ) \
      > "$report_dir/$name.out" 2>&1 &
  done
  wait
  for name in "${names[@]}"; do
    cat "$report_dir/$name.out"
    add_counts "$name"
  done
  echo "$passed $failed $skipped" > "$report_dir/slurm.counts"
}

# add_counts PART: adds PART's counts to the caller's passed, failed and skipped; a part without counts failed.
add_counts() {
  local p f s
  if [[ -s "$report_dir/$1.counts" ]]; then
    read -r p f s < "$report_dir/$1.counts"
  else
    echo "$1 reported no counts"; p=0 f=1 s=0
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# run_bats PART FILES...: one bats run of the files, counted into $report_dir/PART.counts.
run_bats() {
  local part=$1 tap=$report_dir/$1.tap files
  shift
  files=("$@")
  # bats names its executable through `directories.bin`, which npm does not link into .bin.
  node_modules/bats/bin/bats --formatter tap "${files[@]}" | tee "$tap"
  local p s f planned declared
  p=$(grep -cE '^ok [0-9]+ ' "$tap")
  s=$(grep -cE '^ok [0-9]+ .*# skip' "$tap")
  f=$(grep -cE '^not ok [0-9]+ ' "$tap")
  planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$tap" | head -n 1)
  # The plan covers every test the files declare, and the run reported every test of the plan.
  declared=$(cat "${files[@]}" | grep -c '^@test ')
  if [[ -z "$planned" || $planned -ne $declared || $((p + f)) -ne "$planned" ]]; then
    echo "bats did not run every test ($declared declared, plan ${planned:-none}, $((p + f)) reported)"; f=$((f + 1))
  fi
  echo "$((p - s)) $f $s" > "$report_dir/$part.counts"
}

part_shellcheck() {
  local files passed=0 failed=0 file
  mapfile -t files < <(git ls-files -co --exclude-standard -- '*.sh' '*.bash' '*.bats' .ci/run | sort -u)
  if ! command -v shellcheck > /dev/null; then
    echo "SKIPPED shellcheck: not installed (Debian/Ubuntu: apt-get install shellcheck; .ci/run installs it)"
    echo "0 0 ${#files[@]}" > "$report_dir/shellcheck.counts"; return
  fi
  # One shellcheck for all files (its start-up is most of a per-file run); a file passes when no finding names it.
  shellcheck -x -f gcc "${files[@]}" > "$report_dir/shellcheck.findings"
  if [[ $? -gt 1 ]]; then echo "shellcheck could not run"; echo "0 1 0" > "$report_dir/shellcheck.counts"; return; fi
  for file in "${files[@]}"; do
    if grep -q -F -- "$file:" "$report_dir/shellcheck.findings"; then
      grep -F -- "$file:" "$report_dir/shellcheck.findings"; failed=$((failed + 1))
    else
      passed=$((passed + 1))
    fi
  done
  # A finding in a sourced file outside the list still fails the run.
  if [[ $failed -eq 0 && -s "$report_dir/shellcheck.findings" ]]; then cat "$report_dir/shellcheck.findings"; failed=1; fi
  echo "$passed $failed 0" > "$report_dir/shellcheck.counts"
}

# ------------------------------------------------------------------ running them
declare -A part_of_pid=()

# Starts the next part of the queue, if one is left.
start_next() {
  ((${#queue[@]} > 0)) || return 0
  local name=${queue[0]}
  queue=("${queue[@]:1}")
  (
    TIMEFORMAT='%1R %U %S'
    # The part that spreads over both cores (jest's two workers) yields to the single-threaded ones, which
    # each hold one core: the engine (one Terraform command at a time), bats, the cluster's bats.
    if [[ " ${YIELDING_PARTS} " == *" $name "* ]]; then renice -n 10 -p "$BASHPID" > /dev/null; fi
    { time "part_$name" "${jest_args[@]}" > "$report_dir/$name.out" 2>&1; } 2> "$report_dir/$name.time"
  ) &
  part_of_pid[$!]=$name
}

# Waits for any running part, prints it whole (its output, then "-- part: wall, CPU") and starts the
# next part of the queue in its place.
finish_part() {
  local pid name wall user sys part_cpu
  wait -n -p pid
  name=${part_of_pid[$pid]}
  unset "part_of_pid[$pid]"
  echo "== $name"
  cat "$report_dir/$name.out"
  read -r wall user sys < "$report_dir/$name.time"
  read -r part_cpu cpu < <(awk -v c="$cpu" -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f %.1f\n", u + s, c + u + s }')
  echo "-- $name: ${wall} s wall, ${part_cpu} s CPU"
  start_next
}

YIELDING_PARTS="jest"
jest_args=("$@")
if [[ $# -gt 0 ]]; then
  queue=(jest)
elif [[ -n ${TEST_PARTS:-} ]]; then
  read -r -a queue <<< "$TEST_PARTS"
else
  # The longest first, each as soon as one of three running ends: the engine and bats each hold a core
  # for most of the run; the slurm part mostly waits on Slurm's timers; the short parts and jest fill in
  # behind whichever ends first. (Two fixed lanes, engine+jest beside typecheck+shellcheck+bats+cluster,
  # left a core idle for the last 10-20 s, whichever lane ended first. On fresh clones, three at a time took
  # 157-161 s; four at a time 172 s and two with the slurm part beside them 179 s: more parts at once cost
  # more CPU than they filled in.)
  queue=(engine slurm bats typecheck shellcheck cluster jest)
  RUNNING_PARTS=${RUNNING_PARTS:-3}
fi
parts=("${queue[@]}")

run_started=$SECONDS
# The parts' CPU time, summed: over two cores, half of it is the least wall time the run can take here.
cpu=0
for ((i = 0; i < ${RUNNING_PARTS:-${#queue[@]}}; i++)); do start_next; done
while [[ ${#part_of_pid[@]} -gt 0 ]]; do finish_part; done
passed=0 failed=0 skipped=0
for part in "${parts[@]}"; do add_counts "$part"; done
echo "-- all parts: $((SECONDS - run_started)) s wall, $cpu s CPU"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[[ $failed -eq 0 ]]
