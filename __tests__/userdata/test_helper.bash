# Shared by every .bats file here: a fake box in $BATS_TEST_TMPDIR on which the idle check runs unchanged,
# as the agent installed it from the synthesized SSM document (setup_suite.bash). /proc inputs are fixture files, the clock is TS_NOW,
# and every external command the check calls is the one stub in stubs/, linked under its name.
# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output and lines are set by bats' `run`

IDLE_CHECK=${TS_AGENT_ROOT:?setup_suite.bash installs the agent first}/usr/local/sbin/trainium-spot-idle

# The real tools the check may use. Nothing else from the host's PATH is visible to it, so a host
# that happens to have nvidia-smi or neuron-monitor installed cannot change a result.
SYSTEM_TOOLS=(bash env cat grep head sleep stat touch chmod mkdir mv rm flock timeout tr)

# The fake box's instance ID, as cloud-init saved it.
BOX_INSTANCE_ID=i-0123456789abcdef0

# Jiffies per simulated minute: one vCPU at USER_HZ 100.
JIFFIES_PER_MINUTE=6000

# ---------------------------------------------------------------------------------------------
# The box
# ---------------------------------------------------------------------------------------------

# A box booted an hour ago (past the boot grace), quiet since, with the default idle.conf.
# In $1/box, by default the test's own temporary directory.
setup_box() {
  export BOX=${1:-$BATS_TEST_TMPDIR}/box
  export TS_FAKE=$BOX/fake
  build_box_template
  cp -a "$BOX_TEMPLATE" "$BOX"

  export TS_IDLE_CONF=$BOX/etc/idle.conf
  export TS_STATE_DIR=$BOX/run/trainium-spot
  export TS_PROC_ROOT=$BOX/proc
  export TS_LOG_FILE=$BOX/log/trainium-spot-idle.log
  export TS_NEURON_BIN_DIR=$BOX/opt/aws/neuron/bin
  export TS_COMMAND_TIMEOUT_SECONDS=5
  export TS_DEV_PTS=$BOX/dev/pts
  export TS_INSTANCE_ID_FILE=$BOX/cloud/instance-id
  export TS_INSTANCE_ARN_PREFIX_FILE=$BOX/etc/instance-arn-prefix
  export TS_NOW=1700000000 TZ=UTC
  # Under systemd, as on the box: stdout reaches the journal (a test that runs the check by hand unsets it).
  export JOURNAL_STREAM=8:1
  unset TS_KEEPALIVE_FILE TS_LOCK_FILE

  BOOT_ID=6f1c0a52-0d7e-4c1b-9b53-7a4f0f3f2f01
  UPTIME_SECONDS=3600
  BUSY_JIFFIES=3600 # 1 % of the hour since boot
  IDLE_JIFFIES=$((60 * JIFFIES_PER_MINUTE - BUSY_JIFFIES))
  NET_BYTES=3600000   # 1 KB/s since boot
  DISK_SECTORS=7032 # 1 KB/s in the hour since boot
  LO_BYTES=0
  MEM_USED_PERCENT=6
  VCPUS=1 # cpuN lines in /proc/stat
  write_proc
  # shellcheck disable=SC2119 # no extra command lines: only the idle DLAMI's own processes
  processes
}

# The parts of a box every test starts with (directories, the tool links, the stubs, idle.conf), built
# once per bats run: a box is then one `cp -a`, where building it takes a process per link.
BOX_TEMPLATE=${BATS_RUN_TMPDIR:-${TMPDIR:-/tmp}}/trainium-spot-box
build_box_template() {
  [[ -d $BOX_TEMPLATE ]] && return 0
  local staging=$BOX_TEMPLATE.$$ tool
  local -a tools=()
  mkdir -p "$staging/bin" "$staging/sysbin" "$staging/fake" "$staging/etc" "$staging/log" "$staging/run" \
    "$staging/proc/net" "$staging/proc/sys/kernel/random" "$staging/dev/pts" "$staging/cloud"
  # Where PATH finds each tool, from bash's own lookup table rather than a subshell per tool.
  hash "${SYSTEM_TOOLS[@]}"
  for tool in "${SYSTEM_TOOLS[@]}"; do tools+=("${BASH_CMDS[$tool]}"); done
  # One ln for all tools: each link is named after its target, which is the tool's name.
  ln -s "${tools[@]}" "$staging/sysbin/"
  install_stub "$staging/bin" ps ss shutdown logger curl wget aws
  cp "$BATS_TEST_DIRNAME/fixtures/idle.conf" "$staging/etc/idle.conf"
  # What the agent wrote from the association's instanceArnPrefix parameter.
  cp "$TS_AGENT_ROOT/etc/trainium-spot/instance-arn-prefix" "$staging/etc/instance-arn-prefix"
  printf '%s\n' "$BOX_INSTANCE_ID" >"$staging/cloud/instance-id"
  # Renamed whole, so a test never copies a half-built template.
  mv -T "$staging" "$BOX_TEMPLATE" 2>/dev/null || rm -rf "$staging"
}

# Runs the check as systemd would, with only the stubs and SYSTEM_TOOLS on PATH. Sets status and
# output as bats' `run` does, without its subshell: the check's own processes are the ones that count.
run_check() {
  check_with check
}

# check_with <command>: the idle check with this command (check, status, ...), as run_check.
check_with() {
  status=0
  PATH="$BOX/bin:$BOX/sysbin" "$BOX/sysbin/bash" "$IDLE_CHECK" "$@" >"$BOX/check.out" 2>&1 || status=$?
  output=''
  IFS= read -r -d '' output <"$BOX/check.out" || true
  # As $(...) in `run`: without the trailing newlines.
  while [[ $output == *$'\n' ]]; do output=${output%$'\n'}; done
}

install_stub() {
  local dir=$1 name
  shift
  mkdir -p "$dir"
  for name in "$@"; do
    ln -sf "$BATS_TEST_DIRNAME/stubs/stub" "$dir/$name"
  done
}

# What a stub does: `stub_does ps out "text"`, `stub_does ss exit 1`, `stub_does ps sleep 9`.
stub_does() {
  printf '%s\n' "$3" >"$TS_FAKE/$1.$2"
}

# Sets one idle.conf key, e.g. `conf DRY_RUN true` or `conf PROCESS_PATTERNS "( 'x' )"`.
conf() {
  printf '%s=%s\n' "$1" "$2" >>"$TS_IDLE_CONF"
}

# ---------------------------------------------------------------------------------------------
# /proc and the clock
# ---------------------------------------------------------------------------------------------

write_proc() {
  printf '%s.00 %s.00\n' "$UPTIME_SECONDS" "$((UPTIME_SECONDS * 2))" >"$BOX/proc/uptime"
  # user nice system idle iowait irq softirq steal guest guest_nice
  local n
  {
    printf 'cpu  %s 0 %s %s 0 0 0 0 0 0\n' "$((BUSY_JIFFIES / 2))" "$((BUSY_JIFFIES - BUSY_JIFFIES / 2))" "$IDLE_JIFFIES"
    for ((n = 0; n < VCPUS; n++)); do printf 'cpu%s 1 0 1 1 0 0 0 0 0 0\n' "$n"; done
    printf 'intr 12345 0 0\nbtime 1699996400\n'
  } >"$BOX/proc/stat"
  local total=32000000
  printf 'MemTotal:       %s kB\nMemFree:        1000 kB\nMemAvailable:   %s kB\nBuffers:        100 kB\n' \
    "$total" "$((total - total * MEM_USED_PERCENT / 100))" >"$BOX/proc/meminfo"
  {
    printf 'Inter-|   Receive                                                |  Transmit\n'
    printf ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n'
    printf '    lo: %s 100 0 0 0 0 0 0 %s 100 0 0 0 0 0 0\n' "$LO_BYTES" "$LO_BYTES"
    printf '  ens5: %s 5000 0 0 0 0 0 0 %s 4000 0 0 0 0 0 0\n' "$((NET_BYTES / 2))" "$((NET_BYTES - NET_BYTES / 2))"
  } >"$BOX/proc/net/dev"
  printf '%s\n' "$BOOT_ID" >"$BOX/proc/sys/kernel/random/boot_id"
  # Whole disk, a partition and a loop device: only the whole disk counts.
  printf ' 259       0 nvme0n1 100 0 %s 50 200 0 %s 80 0 90 130\n' "$((DISK_SECTORS / 2))" "$((DISK_SECTORS - DISK_SECTORS / 2))" >"$BOX/proc/diskstats"
  printf ' 259       1 nvme0n1p1 100 0 %s 50 200 0 %s 80 0 90 130\n   7       0 loop0 9 0 %s 0 0 0 0 0 0 0 0\n' \
    "$DISK_SECTORS" "$DISK_SECTORS" "$LO_BYTES" >>"$BOX/proc/diskstats"
}

# One minute passes: `tick [busy cpu percent] [network KB/s] [disk KB/s]`. Loopback traffic and
# partition and loop device I/O are heavy on purpose.
tick() {
  advance_counters "$@"
  write_proc
}

# The counters of `tick`, without writing /proc: the simulator writes it only before a check reads it.
advance_counters() {
  local cpu_percent=${1:-1} network_kbps=${2:-1} disk_kbps=${3:-0}
  local busy=$((JIFFIES_PER_MINUTE * cpu_percent / 100))
  UPTIME_SECONDS=$((UPTIME_SECONDS + 60))
  export TS_NOW=$((TS_NOW + 60))
  BUSY_JIFFIES=$((BUSY_JIFFIES + busy))
  IDLE_JIFFIES=$((IDLE_JIFFIES + JIFFIES_PER_MINUTE - busy))
  NET_BYTES=$((NET_BYTES + network_kbps * 1000 * 60))
  DISK_SECTORS=$((DISK_SECTORS + disk_kbps * 1000 * 60 / 512))
  LO_BYTES=$((LO_BYTES + 500000000))
}

# A stop/start: a fresh /run, a new boot id, the clock of a new boot.
reboot_box() {
  rm -rf "$BOX/run"
  mkdir -p "$BOX/run"
  BOOT_ID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  UPTIME_SECONDS=$1
  BUSY_JIFFIES=$((UPTIME_SECONDS * 100 / 100))
  IDLE_JIFFIES=$((UPTIME_SECONDS * 100 - BUSY_JIFFIES))
  NET_BYTES=$((UPTIME_SECONDS * 1000))
  DISK_SECTORS=$((UPTIME_SECONDS * 1000 / 512))
  write_proc
}

# The kernel reports memory in use at $1 percent.
memory_in_use() {
  MEM_USED_PERCENT=$1
  write_proc
}

# The kernel reports a new boot id and uptime ($1 seconds), but the state directory survived.
kernel_reports_new_boot() {
  BOOT_ID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  UPTIME_SECONDS=$1
  write_proc
}

touch_keepalive() {
  touch -d "@$TS_NOW" "$TS_STATE_DIR/keepalive"
}

# Someone types on terminal $1 (a /dev/pts entry whose access time moves).
type_on_terminal() {
  touch -a -d "@$TS_NOW" "$TS_DEV_PTS/${1:-0}"
}

# The StopVerdict the last check published, or nothing when it published none.
published_verdict() {
  local line value=''
  [[ -r $TS_FAKE/calls ]] || return 0
  while IFS= read -r line; do
    [[ $line =~ ^begin\ aws\ cloudwatch\ put-metric-data\ .*\ --value\ ([01])$ ]] && value=${BASH_REMATCH[1]}
  done <"$TS_FAKE/calls"
  [[ -z $value ]] || printf '%s\n' "$value"
}

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

# What `ps -e -ww -o pid= -o ppid= -o args=` shows on an idle Neuron DLAMI (Ubuntu 24.04), plus
# any command lines given. None of these may look like work.
IDLE_DLAMI_PROCESSES=(
  '/sbin/init'
  '[kthreadd]'
  '[kworker/0:1-events]'
  '/usr/lib/systemd/systemd-journald'
  '/usr/lib/systemd/systemd-udevd'
  '/usr/lib/systemd/systemd-networkd'
  '/usr/lib/systemd/systemd-resolved'
  '/usr/lib/systemd/systemd-logind'
  '@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only'
  '/usr/sbin/cron -f -P'
  '/usr/sbin/chronyd -F 1'
  '/usr/sbin/rsyslogd -n -iNONE'
  '/usr/sbin/irqbalance'
  '/usr/libexec/polkitd --no-debug'
  '/usr/bin/python3 /usr/bin/networkd-dispatcher --run-startup-triggers'
  '/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal'
  '/snap/amazon-ssm-agent/11320/amazon-ssm-agent'
  '/snap/amazon-ssm-agent/11320/ssm-agent-worker'
  'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'
  '/sbin/agetty -o -p -- \u --noclear - linux'
  '/usr/bin/containerd'
)

# The fakes' PIDs start above PID_MAX_LIMIT of 64-bit Linux (4194304, include/linux/threads.h), the
# highest pid_max can be set, so no real process has one. The check leaves out its own PID and the
# processes under it, so a fake that shared the check's real PID vanished (failsafe.bats forces that).
FAKE_INIT_PID=4194305

# shellcheck disable=SC2120 # the .bats files pass command lines
processes() {
  local pid=$FAKE_INIT_PID args
  for args in "${IDLE_DLAMI_PROCESSES[@]}" "$@"; do
    printf '%7s %7s %s\n' "$pid" "$((pid == FAKE_INIT_PID ? 0 : FAKE_INIT_PID))" "$args"
    pid=$((pid + 100))
  done >"$TS_FAKE/ps.out"
}

# One neuron-monitor report: one runtime, core 0 at $1 percent, core 1 at 0.5 %.
report_with() {
  printf '{"neuron_runtime_data":[{"pid":4242,"neuron_runtime_tag":"4242","error":"","report":{"neuroncore_counters":{"period":1.000113182,"neuroncores_in_use":{"0":{"neuroncore_utilization":%s,"flops":1234},"1":{"neuroncore_utilization":0.5,"flops":12}},"error":""}}}],"instance_info":{"instance_type":"trn1.2xlarge","error":""},"neuron_hardware_info":{"neuron_device_count":1,"error":""}}\n' "$1"
}

# neuron-monitor, installed where the DLAMI keeps it, reporting one runtime at this utilization.
neuron_monitor_reports() {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  report_with "$1" >"$TS_FAKE/neuron-monitor.out"
}

# ---------------------------------------------------------------------------------------------
# Slurm, on a cluster head
# ---------------------------------------------------------------------------------------------

# A cluster head: squeue installed and idle.detectors.slurm on, with an empty queue.
cluster_head() {
  install_stub "$BOX/bin" squeue sinfo
  : >"$TS_FAKE/squeue.out"
  nodes 'demo-1|idle+cloud+powered_down' 'demo-2|idle+cloud+powered_down'
  conf DETECT_SLURM true
}

# The jobs `squeue --all --noheader --format='%T %Q %r'` lists, one "STATE PRIORITY REASON" line each;
# none empties the queue.
queue() {
  : >"$TS_FAKE/squeue.out"
  (($# == 0)) || printf '%s\n' "$@" >"$TS_FAKE/squeue.out"
}

# The compute nodes `sinfo --all --noheader --Node --Format='NodeList:|,StateComplete:'` lists, one
# "NAME|STATE+FLAG..." line each (as Debian's Slurm 22.05.8 prints them); none lists no node.
nodes() {
  : >"$TS_FAKE/sinfo.out"
  (($# == 0)) || printf '%s\n' "$@" >"$TS_FAKE/sinfo.out"
}

# ---------------------------------------------------------------------------------------------
# Assertions (plain bash: bats-assert is not a dependency)
# ---------------------------------------------------------------------------------------------

fail_with() {
  printf '%s\n--- output:\n%s\n' "$1" "${output-}" >&2
  return 1
}

assert_success() { [[ $status -eq 0 ]] || fail_with "expected exit 0, got $status"; }
assert_output_has() { [[ $output == *"$1"* ]] || fail_with "expected the output to contain: $1"; }
refute_output_has() { [[ $output != *"$1"* ]] || fail_with "expected the output not to contain: $1"; }

# Sets CALL_COUNT to the number of calls the stubs recorded that match the extended regular expression
# $1, as `grep -cE` would count them (in bash: these assertions run after nearly every check).
count_calls() {
  local line
  CALL_COUNT=0
  [[ -r $TS_FAKE/calls ]] || return 0
  while IFS= read -r line; do
    [[ $line =~ $1 ]] && CALL_COUNT=$((CALL_COUNT + 1))
  done <"$TS_FAKE/calls"
  return 0
}

shutdown_calls() {
  count_calls '^begin shutdown'
  printf '%s\n' "$CALL_COUNT"
}
assert_stopped() {
  count_calls '^begin shutdown -h now'
  ((CALL_COUNT > 0)) || fail_with "expected shutdown -h now"
}
refute_stopped() {
  count_calls '^begin shutdown'
  ((CALL_COUNT == 0)) || fail_with "expected no shutdown"
}

# The check's verdict on one detector in its last decision, e.g. "ssh: ACTIVE (SSH session: ...)".
verdict() {
  local rest='' item
  while IFS= read -r item || [[ -n $item ]]; do rest=$item; done <"$TS_LOG_FILE"
  rest+=" | "
  while [[ $rest == *" | "* ]]; do
    item=${rest%%" | "*}
    rest=${rest#*" | "}
    if [[ $item == "$1: "* ]]; then
      printf '%s\n' "$item"
      return 0
    fi
  done
  return 1
}
