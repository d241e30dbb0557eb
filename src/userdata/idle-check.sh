#!/usr/bin/env bash
# trainium-spot-idle: stop this box soon after the last sign of work, never during it.
#   trainium-spot-idle check    one check (trainium-spot-idle.timer runs it every CHECK_INTERVAL_SECONDS)
#   trainium-spot-idle status   each signal's reading, the verdict and the minutes left; changes nothing
# Work (CPU, disk, network, NeuronCore/GPU use, terminal input, the keep-alive file, and on a cluster head
# Slurm jobs running or pending and compute nodes not powered down) keeps the box up; presence (sessions,
# multiplexers, matched processes, a runtime holding its cores, memory, held or suspended Slurm jobs) only
# until MAX_IDLE_SESSION_HOURS pass without work or input. After IDLE_MINUTES (boot clock) with nothing
# counting, never within BOOT_GRACE_MINUTES of boot, it runs `shutdown -h now` (EC2 stops an EBS-backed box). Each
# check publishes StopVerdict (1 = stopping) to CloudWatch, in this box's own namespace (METRIC_NAMESPACE/
# <instance ARN>), whose backstop acts only on a box that said stop and still runs, or went silent with low
# CPU. A detector that fails is UNSURE, kept up like presence; a bad idle.conf value is logged and replaced
# by a safe one. Log: journalctl -u trainium-spot-idle.
# No instance metadata calls. Every path can be overridden (TS_*) so the tests run this exact file.
set -euo pipefail
# The log holds command lines, and command lines can hold secrets: keep new files from others.
umask 027

# ---------------------------------------------------------------------------------------------
# Paths and inputs (production defaults)
# ---------------------------------------------------------------------------------------------
IDLE_CONF=${TS_IDLE_CONF:-/etc/trainium-spot/idle.conf}
# /run is a tmpfs: the idle clock cannot outlive a stop/start and stop the box right after boot.
STATE_DIR=${TS_STATE_DIR:-/run/trainium-spot}
# A directory: it carries a timestamp and nothing else (create_keepalive_file).
KEEPALIVE_FILE=${TS_KEEPALIVE_FILE:-$STATE_DIR/keepalive}
LOCK_FILE=${TS_LOCK_FILE:-$STATE_DIR/lock}
LOG_FILE=${TS_LOG_FILE:-/var/log/trainium-spot-idle.log}
PROC_ROOT=${TS_PROC_ROOT:-/proc}
DEV_PTS=${TS_DEV_PTS:-/dev/pts}
# Written by trainium-spot-neuron-monitor.service: one neuron-monitor report per period since the last check.
NEURON_REPORTS=${TS_NEURON_REPORTS:-$STATE_DIR/neuron-monitor.jsonl}
# cloud-init keeps the instance ID here, so publishing needs no metadata call of ours.
INSTANCE_ID_FILE=${TS_INSTANCE_ID_FILE:-/var/lib/cloud/data/instance-id}
# The agent keeps the rest of this box's ARN here (arn:PARTITION:ec2:REGION:ACCOUNT:instance/), from the stack.
INSTANCE_ARN_PREFIX_FILE=${TS_INSTANCE_ARN_PREFIX_FILE:-/etc/trainium-spot/instance-arn-prefix}
# neuron-monitor lives outside systemd's default PATH on the Neuron DLAMI.
PATH=${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}:${TS_NEURON_BIN_DIR:-/opt/aws/neuron/bin}
# Any external command that can hang (ps on a process stuck in D state, a wedged driver) is cut off.
COMMAND_TIMEOUT_SECONDS=${TS_COMMAND_TIMEOUT_SECONDS:-15}

DETECTORS=(ssh ssm multiplexers neuron gpu processes cpu disk memory network keepalive terminal slurm)
# Detector statuses.
WORK=0 NOTHING=1 UNSURE=2 PRESENT=3
# Timers fire a little early or late: an idle window this close to its end counts as ended.
JITTER_CENTISECONDS=500

# The wall clock, read once: only log stamps and the keep-alive file's first sighting use it. The tests
# set TS_NOW (epoch seconds) to drive a simulated day.
NOW=${TS_NOW:-$EPOCHSECONDS}

# ---------------------------------------------------------------------------------------------
# Logging: stdout reaches the journal under systemd; by hand we also send it there with logger.
# ---------------------------------------------------------------------------------------------
log() {
  local stamp
  printf -v stamp '%(%Y-%m-%dT%H:%M:%S%z)T' "$NOW"
  printf '%s\n' "$*"
  { printf '%s %s\n' "$stamp" "$*" >>"$LOG_FILE"; } 2>/dev/null || true
  if [[ -z ${JOURNAL_STREAM:-} ]]; then
    timeout 5 logger -t trainium-spot-idle -- "$*" 2>/dev/null || true
  fi
}

# Without usable state the check cannot judge; it stops nothing and says why.
die() {
  log "ERROR: $*; the box keeps running"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Configuration: /etc/trainium-spot/idle.conf, written by cloud-init from the typed config, which
# validated every value at synth time. A value broken on the box since then is logged and replaced by
# a safe one (the longest wait, every detector on): a typo must never stop the box, nor keep it up for ever.
# ---------------------------------------------------------------------------------------------
WARNINGS=()

fall_back() {
  WARNINGS+=("$IDLE_CONF: $1='${!1-}' $2; using $3")
  printf -v "$1" '%s' "$3"
}

load_config() {
  if [[ ! -r $IDLE_CONF ]]; then
    WARNINGS+=("cannot read $IDLE_CONF; using safe values")
  else
    # shellcheck source=/dev/null
    source "$IDLE_CONF" 2>/dev/null || WARNINGS+=("$IDLE_CONF is not valid bash; safe values replace what it did not set")
  fi
  local name safe
  for name in CHECK_INTERVAL_SECONDS:60 IDLE_MINUTES:30 BOOT_GRACE_MINUTES:10 KEEPALIVE_MINUTES:60 \
    MAX_IDLE_SESSION_HOURS:3; do
    safe=${name#*:} name=${name%%:*}
    [[ ${!name-} =~ ^[0-9]+$ ]] || fall_back "$name" 'must be a whole number' "$safe"
  done
  ((IDLE_MINUTES >= 1)) || fall_back IDLE_MINUTES 'must be at least 1' 30
  for name in CPU_THRESHOLD_PERCENT:10 DISK_THRESHOLD_KBPS:200 MEMORY_THRESHOLD_PERCENT:80 \
    NETWORK_THRESHOLD_KBPS:20 NEURON_UTILIZATION_THRESHOLD_PERCENT:1 GPU_UTILIZATION_THRESHOLD_PERCENT:5; do
    safe=${name#*:} name=${name%%:*}
    [[ ${!name-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || fall_back "$name" 'must be a number such as 10 or 2.5' "$safe"
  done
  for name in DRY_RUN:false PUBLISH_VERDICT:true "${DETECTORS[@]/%/:true}"; do
    safe=${name#*:} name=${name%%:*}
    [[ $name == [a-z]* ]] && name=DETECT_${name^^}
    [[ ${!name-} == true || ${!name-} == false ]] || fall_back "$name" 'must be true or false' "$safe"
  done
  [[ ${METRIC_NAMESPACE-} =~ ^[A-Za-z0-9/_.#:-]+$ ]] || fall_back METRIC_NAMESPACE 'is not a CloudWatch namespace' TrainiumSpot/Idle
  declare -p PROCESS_PATTERNS &>/dev/null || { PROCESS_PATTERNS=() && WARNINGS+=("$IDLE_CONF: PROCESS_PATTERNS=( ... ) is missing; matching no process"); }
  declare -p IGNORE_PATTERNS &>/dev/null || { IGNORE_PATTERNS=() && WARNINGS+=("$IDLE_CONF: IGNORE_PATTERNS=( ... ) is missing; ignoring no process"); }
}

# ---------------------------------------------------------------------------------------------
# Helpers. Detectors set REASON and return a status: no subshell per detector, so a check stays cheap.
# ---------------------------------------------------------------------------------------------
REASON=''
SAVE=true # false for `status`, which must not move any sample or clock

run_bounded() { timeout -k 2 "$COMMAND_TIMEOUT_SECONDS" "$@"; }

# Why an external command failed, from its exit status.
failure() {
  case $1 in
    124 | 137) printf 'timed out after %ss' "$COMMAND_TIMEOUT_SECONDS" ;;
    127) printf 'not found' ;;
    *) printf 'exit %s' "$1" ;;
  esac
}

# Bash has no floats: percentages and rates are compared in thousandths ("2.5" -> 2500).
milli() {
  local whole=${1%%.*} fraction=000
  [[ $1 == *.* ]] && fraction=${1#*.}000
  MILLI=$((10#$whole * 1000 + 10#${fraction:0:3}))
}
show_milli() { printf -v SHOWN '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# The end of every measuring detector: "<what> <reading><unit>", and "< <threshold><unit>" when below
# it. Returns WORK at or above the threshold, NOTHING below. The reading is in thousandths.
at_or_above() {
  local what=$1 reading=$2 threshold=$3 unit=$4
  show_milli "$reading"
  REASON="$what $SHOWN$unit"
  milli "$threshold"
  ((reading >= MILLI)) && return "$WORK"
  REASON+=" < $threshold$unit"
  return "$NOTHING"
}

# State of this boot, one key=value per line in STATE_DIR/state: read once, written once per check.
# STATE_BYTES: its length, which a write in place must cover.
declare -A STATE=()
STATE_BYTES=0
read_state_file() {
  local text='' line
  [[ -r $STATE_DIR/state ]] || return 0
  IFS= read -r -d '' text <"$STATE_DIR/state" || true
  STATE_BYTES=${#text}
  while [[ $text == *$'\n'* ]]; do
    line=${text%%$'\n'*} text=${text#*$'\n'}
    [[ $line == ?*=* ]] && STATE[${line%%=*}]=${line#*=}
  done
}
load_state() {
  [[ -n ${STATE[$2]+set} ]] || return 1
  printf -v "$1" '%s' "${STATE[$2]}"
}
save_state() { STATE[$1]=$2; }
# Written whole then renamed, so a run killed mid-write never leaves half a state behind. On a full /run
# the new file gets no room: the state then goes over the old file, whose space is its own, padded with
# blank lines to the old length so that no old line outlives it (a kill mid-write leaves whole old lines).
write_state_file() {
  local key text='' short padding=''
  [[ $SAVE == true ]] || return 0
  for key in "${!STATE[@]}"; do text+="$key=${STATE[$key]}"$'\n'; done
  { printf '%s' "$text" >"$STATE_DIR/state.new"; } 2>/dev/null && mv -f "$STATE_DIR/state.new" "$STATE_DIR/state" && return 0
  [[ -f $STATE_DIR/state ]] || return 1
  short=$((STATE_BYTES - ${#text}))
  ((short > 0)) && printf -v padding '%*s' "$short" ''
  { printf '%s' "$text${padding// /$'\n'}" 1<>"$STATE_DIR/state"; } 2>/dev/null
}

# A rate since the previous check from a counter: sets RATE_MILLI (thousandths of a unit per second).
# $1 state file, $2 counter now, $3 multiplier of the counter to the unit * 1000 (e.g. 1 byte = 1 KB/1000).
rate_since_last_check() {
  local previous then_cs then_count
  load_state previous "$1" || previous='0 0'
  save_state "$1" "$UPTIME_CENTISECONDS $2"
  read -r then_cs then_count <<<"$previous"
  if ! [[ $then_cs =~ ^[0-9]+$ && $then_count =~ ^[0-9]+$ ]] || ((UPTIME_CENTISECONDS < then_cs || $2 < then_count)); then
    REASON='counters went back since the previous check'
    return "$UNSURE"
  fi
  # A second check at the same moment learns nothing new; the idle window runs from the last activity.
  if ((UPTIME_CENTISECONDS == then_cs)); then
    REASON='no time since the previous check'
    return "$NOTHING"
  fi
  RATE_MILLI=$((($2 - then_count) * 100 * $3 / (UPTIME_CENTISECONDS - then_cs)))
}

# ---------------------------------------------------------------------------------------------
# Process table: one `ps` per check, shared by the process-based detectors.
# ---------------------------------------------------------------------------------------------
PS_ARGS=(-e -ww -o pid= -o ppid= -o args=)
COMMAND_LINES=()
IDENTITIES=()
PS_ERROR=''

# What a process is: its program, then an interpreter's script (or -m module), else the first argument.
# `/opt/venv/bin/python3 -u /home/me/finetuning.py --lr 3` is "python3 finetuning.py"; an argument such
# as `--logdir runs/train` can no longer make a process look like training.
identity_of() {
  local -a words
  local program word i
  read -r -a words <<<"$1"
  program=${words[0]##*/}
  IDENTITY=$program
  case $program in
    python* | bash | sh | dash | node | perl | ruby | Rscript)
      for ((i = 1; i < ${#words[@]}; i++)); do
        word=${words[i]}
        case $word in
          -m | -c) IDENTITY+=" $word ${words[i + 1]-}" && return ;;
          -*) ;;
          *) IDENTITY+=" ${word##*/}" && return ;;
        esac
      done
      ;;
    *) ((${#words[@]} > 1)) && IDENTITY+=" ${words[1]}" ;;
  esac
  return 0
}

snapshot_processes() {
  local table=$STATE_DIR/ps.out status=0 pid ppid args i ancestor pattern
  local -a pids=() command_lines=()
  local -A parent_of=()
  # Through a file rather than $(...): one process less per check.
  run_bounded ps "${PS_ARGS[@]}" >"$table" || status=$?
  if ((status != 0)); then
    PS_ERROR="ps failed: $(failure "$status")"
    return 0
  fi
  while read -r pid ppid args; do
    [[ -n $pid ]] || continue
    parent_of[$pid]=$ppid
    pids+=("$pid")
    command_lines+=("$args")
  done <"$table"
  # Leave out this check itself and everything it started (subshells, timeout, ps): a pattern such
  # as 'ps' or 'timeout' must not find the check looking for it.
  for i in "${!pids[@]}"; do
    ancestor=${pids[i]}
    # Bounded, so a cycle in a garbled table cannot hang the check; real chains are far shorter.
    for _ in {1..32}; do
      [[ $ancestor == "$$" ]] && continue 2
      ancestor=${parent_of[$ancestor]-}
      [[ -n $ancestor ]] || break
    done
    COMMAND_LINES+=("${command_lines[i]}")
    identity_of "${command_lines[i]}"
    for pattern in "${IGNORE_PATTERNS[@]}"; do
      [[ $IDENTITY =~ $pattern ]] && continue 2
    done
    IDENTITIES+=("$IDENTITY")
  done
}

# Sets MATCH to the first of the lines ($2...) that the extended regular expression $1 matches.
# Returns 0 on a match, 1 on none, 2 when the pattern is not a valid regular expression.
first_match() {
  local pattern=$1 line status
  shift
  # set -e does not apply here: callers test this function's status.
  for line in "$@"; do
    [[ $line =~ $pattern ]]
    status=$?
    ((status == 1)) && continue
    MATCH=$line
    return "$status"
  done
  return 1
}

# A session-like process: REASON "<what>: <its command line>", PRESENT when one runs.
session_process() {
  local what=$1 pattern=$2 none=$3
  if [[ -n $PS_ERROR ]]; then
    REASON=$PS_ERROR
    return "$UNSURE"
  fi
  if first_match "$pattern" "${COMMAND_LINES[@]}"; then
    printf -v REASON '%s: %.100s' "$what" "$MATCH"
    return "$PRESENT"
  fi
  REASON=$none
  return "$NOTHING"
}

# ---------------------------------------------------------------------------------------------
# Detectors. Each sets REASON and returns WORK, PRESENT (there, but not working: bounded by
# MAX_IDLE_SESSION_HOURS), NOTHING or UNSURE (cannot tell: kept up like PRESENT). They run where
# set -e is suspended, so each checks its own commands.
# ---------------------------------------------------------------------------------------------

# sshd's session processes, not port-22 connections: a login still authenticating (or a scanner) is no
# session, while VS Code Remote-SSH, scp and port forwards are (`sshd: user@notty`); mosh runs without
# sshd once connected; VS Code tunnels (`code tunnel`) and their servers run without either.
detect_ssh() {
  session_process 'session' \
    '^sshd(-session)?: [^ ]+@|(^|/)mosh-server( |$)|(^|/)code(-insiders)? tunnel( |$)|/\.vscode(-server)?/' \
    'no sshd, mosh or VS Code session'
}

# Session Manager shells, and commands sent with Run Command (each runs under ssm-document-worker).
detect_ssm() {
  session_process 'Systems Manager' '(^|/)ssm-(session|document)-worker( |$)' \
    'no ssm-session-worker or ssm-document-worker'
}

# The server process outlives every client, so detached sessions count as well.
detect_multiplexers() {
  session_process 'multiplexer' '^([^ ]*/)?(tmux|screen|SCREEN|zellij|dtach)([ :]|$)' \
    'no tmux, screen, zellij or dtach'
}

# A training step waits on the NeuronCores with the CPU nearly idle: ask the device, not the CPU.
# The highest utilization of any report since the previous check counts, so a burst between two checks
# is not missed; without the neuron-monitor service, one report is read on the spot.
detect_neuron() {
  local status=0 config=$STATE_DIR/neuron-monitor.json reports='' rest value max=-1 count=0 where
  session_process 'Neuron compiler' '(^|[ /])(neuronx-cc|neuron-cc|neuron_parallel_compile)( |$)' '' || status=$?
  ((status == NOTHING)) || return "$status"
  if [[ -s $NEURON_REPORTS ]]; then
    read -r -d '' reports <"$NEURON_REPORTS" || true
    [[ $SAVE == true ]] && : >"$NEURON_REPORTS"
    where='neuron-monitor since the previous check'
  else
    if ! command -v neuron-monitor >/dev/null; then
      REASON='no Neuron compiler; neuron-monitor not installed'
      return "$NOTHING"
    fi
    [[ -s $config ]] || printf '%s\n' '{"period": "1s", "neuron_runtimes": [{"tag_filter": ".*",' \
      '"metrics": [{"type": "neuroncore_counters"}]}]}' >"$config" || {
      REASON="cannot write $config"
      return "$UNSURE"
    }
    # neuron-monitor streams one JSON report per period; the first one is enough.
    reports=$(run_bounded neuron-monitor -c "$config" 2>/dev/null | head -n 1) || true
    where='one neuron-monitor report'
  fi
  if [[ $reports != *'"neuron_runtime_data"'* ]]; then
    REASON='neuron-monitor gave no report'
    return "$UNSURE"
  fi
  rest=$reports
  while [[ $rest =~ \"neuroncore_utilization\"[[:space:]]*:[[:space:]]*([0-9.eE+-]+)(.*) ]]; do
    value=${BASH_REMATCH[1]}
    rest=${BASH_REMATCH[2]}
    if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
      milli "$value"
    elif [[ $value =~ ^[0-9.]+[eE]- ]]; then
      MILLI=0 # JSON encoders switch to exponents only for tiny values
    else
      REASON="unexpected neuroncore_utilization $value"
      return "$UNSURE"
    fi
    count=$((count + 1))
    ((MILLI > max)) && max=$MILLI
  done
  if ((count == 0)); then
    # neuroncores_in_use lists only cores busy during the sample: a runtime loading a model lists none.
    if [[ $reports =~ \"neuron_runtime_data\"[[:space:]]*:[[:space:]]*\[[[:space:]]*\{ ]]; then
      REASON='a Neuron runtime holds NeuronCores, none busy'
      return "$PRESENT"
    fi
    REASON='no Neuron runtime running'
    return "$NOTHING"
  fi
  at_or_above "NeuronCore utilization (highest of $where)" "$max" "$NEURON_UTILIZATION_THRESHOLD_PERCENT" % && return "$WORK"
  # A runtime holding the cores between bursts (checkpointing, loading) is there, if not at work.
  REASON+=', runtime holds NeuronCores'
  return "$PRESENT"
}

detect_gpu() {
  local out value max=-1 status=0
  if ! command -v nvidia-smi >/dev/null; then
    REASON='nvidia-smi not installed'
    return "$NOTHING"
  fi
  out=$(run_bounded nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits) || status=$?
  if ((status != 0)); then
    REASON="nvidia-smi failed: $(failure "$status")"
    return "$UNSURE"
  fi
  while read -r value; do
    [[ -z $value ]] && continue
    if [[ ! $value =~ ^[0-9]+$ ]]; then
      REASON="nvidia-smi reported '$value'"
      return "$UNSURE"
    fi
    ((10#$value > max)) && max=$((10#$value))
  done <<<"$out"
  if ((max < 0)); then
    REASON='no GPUs'
    return "$NOTHING"
  fi
  at_or_above 'GPU utilization' $((max * 1000)) "$GPU_UTILIZATION_THRESHOLD_PERCENT" %
}

# idle.processPatterns against what each process is (identity_of), leaving out idle.ignorePatterns.
# A broken pattern counts as unsure and stays in the log even when another pattern matches.
detect_processes() {
  local pattern status worst=$NOTHING
  local -a said=()
  if [[ -n $PS_ERROR ]]; then
    REASON=$PS_ERROR
    return "$UNSURE"
  fi
  for pattern in "${PROCESS_PATTERNS[@]}"; do
    status=0
    first_match "$pattern" "${IDENTITIES[@]}" || status=$?
    case $status in
      0)
        printf -v REASON "'%s': %.100s" "$pattern" "$MATCH"
        said+=("$REASON")
        worst=$PRESENT
        break
        ;;
      2)
        said+=("pattern '$pattern' is not a valid extended regular expression")
        worst=$UNSURE
        ;;
    esac
  done
  if ((${#said[@]} == 0)); then
    REASON="no process matches the ${#PROCESS_PATTERNS[@]} patterns"
    return "$NOTHING"
  fi
  printf -v REASON '%s; ' "${said[@]}"
  REASON=${REASON%; }
  return "$worst"
}

# Busy share of all vCPUs since the previous check (since boot on the first check of a boot). iowait
# counts as busy: a job waiting on the disk is working. 0.8 of a vCPU, in thousandths: a single-threaded
# job (data prep, one inference worker) after the noise of an idle box.
ONE_BUSY_VCPU_MILLI=800
detect_cpu() {
  local stat=$PROC_ROOT/stat field total=0 idle previous then_total then_idle busy_milli vcpus=0 busy_vcpus_milli line
  local -a fields
  if ! read -r -a fields 2>/dev/null <"$stat" || [[ ${fields[0]-} != cpu || ${#fields[@]} -lt 9 ]]; then
    REASON="cannot read the cpu line of $stat"
    return "$UNSURE"
  fi
  # user nice system idle iowait irq softirq steal; guest time is already inside user.
  for field in "${fields[@]:1:8}"; do
    if [[ ! $field =~ ^[0-9]+$ ]]; then
      REASON="unexpected $stat: ${fields[*]}"
      return "$UNSURE"
    fi
    total=$((total + field))
  done
  idle=${fields[4]}
  load_state previous cpu.sample || previous='0 0'
  save_state cpu.sample "$total $idle"
  read -r then_total then_idle <<<"$previous"
  if ! [[ $then_total =~ ^[0-9]+$ && $then_idle =~ ^[0-9]+$ ]] || ((total < then_total)); then
    REASON='CPU counters went back since the previous check'
    return "$UNSURE"
  fi
  if ((total == then_total)); then
    REASON='no CPU time since the previous check'
    return "$NOTHING"
  fi
  busy_milli=$(((total - then_total - (idle - then_idle)) * 100000 / (total - then_total)))
  # One busy vCPU is work however many share the average: on 128 vCPUs it is under 1 %.
  while read -r line; do
    [[ $line == cpu[0-9]* ]] && vcpus=$((vcpus + 1))
  done <"$stat"
  busy_vcpus_milli=$((busy_milli * vcpus / 100))
  if ((vcpus > 1 && busy_vcpus_milli >= ONE_BUSY_VCPU_MILLI)); then
    show_milli "$busy_milli"
    REASON="CPU $SHOWN%"
    show_milli "$busy_vcpus_milli"
    REASON+=", $SHOWN of $vcpus vCPUs busy"
    return "$WORK"
  fi
  at_or_above CPU "$busy_milli" "$CPU_THRESHOLD_PERCENT" %
}

# Sectors read and written by whole disks (not partitions, loop or device-mapper, which repeat them),
# since the previous check; a sector is 512 bytes.
detect_disk() {
  local diskstats=$PROC_ROOT/diskstats sectors=0 status=0
  local -a fields
  if [[ ! -r $diskstats ]]; then
    REASON="cannot read $diskstats"
    return "$UNSURE"
  fi
  while read -r -a fields; do
    [[ ${fields[2]-} =~ ^(nvme[0-9]+n[0-9]+|[shvx]d[a-z]+)$ ]] || continue
    if ! [[ ${fields[5]-} =~ ^[0-9]+$ && ${fields[9]-} =~ ^[0-9]+$ ]]; then
      REASON="unexpected $diskstats line: ${fields[*]}"
      return "$UNSURE"
    fi
    sectors=$((sectors + fields[5] + fields[9]))
  done <"$diskstats"
  rate_since_last_check disk.sample "$sectors" 512 || return
  at_or_above disk "$RATE_MILLI" "$DISK_THRESHOLD_KBPS" ' KB/s'
}

# Memory held is a sign that something is there (or was left behind), not that it works.
detect_memory() {
  local meminfo=$PROC_ROOT/meminfo key value total='' available=''
  if [[ ! -r $meminfo ]]; then
    REASON="cannot read $meminfo"
    return "$UNSURE"
  fi
  while read -r key value _; do
    case $key in
      MemTotal:) total=$value ;;
      MemAvailable:) available=$value ;;
    esac
  done <"$meminfo"
  if ! [[ $total =~ ^[0-9]+$ && $available =~ ^[0-9]+$ ]] || ((total == 0)); then
    REASON="no MemTotal/MemAvailable in $meminfo"
    return "$UNSURE"
  fi
  at_or_above 'memory in use' $(((total - available) * 100000 / total)) "$MEMORY_THRESHOLD_PERCENT" % && return "$PRESENT"
  return "$NOTHING"
}

# Bytes in and out of every interface but lo since the previous check; 1 KB = 1000 bytes.
detect_network() {
  local netdev=$PROC_ROOT/net/dev line iface bytes=0
  local -a fields
  if [[ ! -r $netdev ]]; then
    REASON="cannot read $netdev"
    return "$UNSURE"
  fi
  while IFS= read -r line; do
    [[ $line == *:* ]] || continue # the two header lines
    iface=${line%%:*}
    [[ ${iface//[[:space:]]/} == lo ]] && continue
    read -r -a fields <<<"${line#*:}"
    [[ ${fields[0]-} =~ ^[0-9]+$ && ${fields[8]-} =~ ^[0-9]+$ ]] || {
      REASON="unexpected $netdev line: $line"
      return "$UNSURE"
    }
    ((bytes += fields[0] + fields[8]))
  done <"$netdev"
  rate_since_last_check net.sample "$bytes" 1 || return
  at_or_above network "$RATE_MILLI" "$NETWORK_THRESHOLD_KBPS" ' KB/s'
}

# `touch /run/trainium-spot/keepalive` keeps the box up for KEEPALIVE_MINUTES. The touch is dated on the
# boot clock when a check first sees it (its wall-clock age counts at most back to the previous check),
# so a clock step can neither end nor extend it. A reference file with the last seen mtime tells a new
# touch (newer or older: the clock may have stepped back) without running stat every check.
detect_keepalive() {
  local ref=$STATE_DIR/keepalive.ref mtime age_cs seen='' seen_cs=''
  if [[ ! -e $KEEPALIVE_FILE ]]; then
    REASON="no $KEEPALIVE_FILE"
    return "$NOTHING"
  fi
  load_state seen keepalive.seen || seen=''
  seen_cs=${seen#* }
  if [[ -z $seen || $KEEPALIVE_FILE -nt $ref || $KEEPALIVE_FILE -ot $ref ]]; then
    mtime=$(stat -c %Y -- "$KEEPALIVE_FILE") || {
      REASON="cannot stat $KEEPALIVE_FILE"
      return "$UNSURE"
    }
    if ((mtime == 0)); then
      seen_cs=never
    else
      age_cs=$(((NOW - mtime) * 100))
      ((age_cs < 0)) && age_cs=0
      ((age_cs > UPTIME_CENTISECONDS - LAST_CHECK_CENTISECONDS)) && age_cs=$((UPTIME_CENTISECONDS - LAST_CHECK_CENTISECONDS))
      seen_cs=$((UPTIME_CENTISECONDS - age_cs))
    fi
    save_state keepalive.seen "$mtime $seen_cs"
    [[ $SAVE == true ]] && { touch -r "$KEEPALIVE_FILE" -- "$ref" 2>/dev/null || true; }
  fi
  if [[ ! $seen_cs =~ ^[0-9]+$ ]]; then
    REASON='never touched'
    return "$NOTHING"
  fi
  age_cs=$((UPTIME_CENTISECONDS - seen_cs))
  if ((age_cs < KEEPALIVE_MINUTES * 6000)); then
    REASON="touched $((age_cs / 100))s ago, keeps the box up for $KEEPALIVE_MINUTES min"
    return "$WORK"
  fi
  REASON="touched $((age_cs / 6000)) min ago"
  return "$NOTHING"
}

# Keyboard input: the kernel moves a terminal's access time when it is read from (what `w` shows as
# IDLE). Any terminal read since the previous check is input.
detect_terminal() {
  local -a terminals=("$DEV_PTS"/[0-9]*)
  local out newest=0 atime previous=0
  if [[ ! -e ${terminals[0]} ]]; then
    REASON='no terminals'
    return "$NOTHING"
  fi
  out=$(stat -c %X -- "${terminals[@]}" 2>/dev/null) || true
  for atime in $out; do
    [[ $atime =~ ^[0-9]+$ ]] && ((atime > newest)) && newest=$atime
  done
  load_state previous terminal.input && [[ $previous =~ ^[0-9]+$ ]] || previous=0
  save_state terminal.input "$newest"
  if ((newest > previous && previous > 0)); then
    REASON="input on ${#terminals[@]} terminal(s) since the previous check"
    return "$WORK"
  fi
  REASON="no input on ${#terminals[@]} terminal(s)"
  ((previous > 0)) && return "$NOTHING"
  REASON+=' (first look)'
  return "$NOTHING"
}

# Slurm on a cluster head: its queue (one squeue call) and its compute nodes (one sinfo call).
# The queue, all partitions, the jobs squeue lists by default (not finished). %T: the state, a flag such as
# CONFIGURING before the base state; %Q: the priority, 0 for every held job; %r: the reason, last as it may
# hold spaces. Work: jobs that hold nodes or will get them unaided (running, booting, completing, requeued, and
# pending for priority, resources, capacity, a begin time or a dependency). Presence, bounded like a session so
# a forgotten job cannot keep the head up for ever: jobs that wait for a person (held, suspended or stopped, or
# a dependency never satisfied). A failing squeue (slurmctld down) is UNSURE: a restart never stops a head at
# work, a broken head still stops.
SQUEUE_ARGS=(--all --noheader --format='%T %Q %r')
# The nodes: each once per partition it is in (-N), with every state flag (StateComplete, e.g.
# idle+cloud+powered_down, lower case: sinfo(1) of Slurm 22.05 and 23.11, -O/--Format, and sinfo's print.c,
# which lowers node_state_string_complete). A node without the POWERED_DOWN flag
# is an instance that runs (or is launching, POWERING_UP, or terminating, POWERING_DOWN), which only this head's
# power saving ends: work, so an idle head never stops before Slurm has powered its nodes down (SuspendTime
# after their last job). Not sinfo's %T: it shows one flag as a suffix (~ powered down, # powering up,
# % powering down) and a maintenance, reboot or FAIL state hides the ~ of a powered-down node. Called only
# when squeue answered; a failing sinfo is UNSURE.
SINFO_ARGS=(--all --noheader --Node --Format='NodeList:|,StateComplete:')
detect_slurm() {
  local out=$STATE_DIR/squeue.out err=$STATE_DIR/squeue.err status=0 message='' state priority reason job
  local work=0 waiting=0 first_work='' first_waiting='' unexpected='' noun=jobs kind
  local node flags up=0 down=0 first_up='' node_problem=''
  local -A seen=()
  if ! command -v squeue >/dev/null; then
    REASON='squeue not installed'
    return "$NOTHING"
  fi
  run_bounded squeue "${SQUEUE_ARGS[@]}" >"$out" 2>"$err" || status=$?
  if ((status != 0)); then
    read -r message 2>/dev/null <"$err" || true
    printf -v REASON 'squeue failed: %s%.200s' "$(failure "$status")" "${message:+: $message}"
    return "$UNSURE"
  fi
  while read -r state priority reason; do
    [[ -n $state ]] || continue
    job=$state
    [[ $reason == None ]] || job+=" $reason"
    kind=unexpected
    if [[ $priority =~ ^[0-9]+$ ]]; then
      case $state in
        PENDING) if [[ $priority == 0 || $reason == DependencyNeverSatisfied ]]; then kind=waiting; else kind=work; fi ;;
        RUNNING | CONFIGURING | COMPLETING | STAGE_OUT | SIGNALING | RESIZING | REQUEUED | REQUEUE_FED) kind=work ;;
        SUSPENDED | STOPPED | REQUEUE_HOLD | SPECIAL_EXIT | RESV_DEL_HOLD) kind=waiting ;;
        REVOKED) continue ;; # a federated job that another cluster started
      esac
    fi
    case $kind in
      work) work=$((work + 1)) first_work=${first_work:-$job} ;;
      waiting) waiting=$((waiting + 1)) first_waiting=${first_waiting:-$job} ;;
      *) unexpected=${unexpected:-$state${priority:+ $priority}${reason:+ $reason}} ;;
    esac
  done <"$out"
  # The nodes.
  out=$STATE_DIR/sinfo.out err=$STATE_DIR/sinfo.err status=0 message=''
  if ! command -v sinfo >/dev/null; then
    node_problem='sinfo not installed'
  else
    run_bounded sinfo "${SINFO_ARGS[@]}" >"$out" 2>"$err" || status=$?
    if ((status != 0)); then
      read -r message 2>/dev/null <"$err" || true
      printf -v node_problem 'sinfo failed: %s%.200s' "$(failure "$status")" "${message:+: $message}"
    else
      while IFS='|' read -r node flags; do
        [[ -n $node$flags ]] || continue
        flags=${flags,,}
        if [[ -z $node || ! $flags =~ ^[a-z_]+(\+[a-z_]+)*$ ]]; then
          [[ -n $node_problem ]] || printf -v node_problem "unexpected sinfo line '%.100s'" "$node|$flags"
          continue
        fi
        [[ -z ${seen[$node]-} ]] || continue
        seen[$node]=1
        if [[ +$flags+ == *+powered_down+* ]]; then
          down=$((down + 1))
        else
          up=$((up + 1)) first_up=${first_up:-$node $flags}
        fi
      done <"$out"
    fi
  fi
  if ((work > 0 || up > 0)); then
    REASON=''
    if ((work > 0)); then
      ((work == 1)) && noun=job
      printf -v REASON '%s %s running or queued, first: %.100s' "$work" "$noun" "$first_work"
      ((waiting > 0)) && REASON+="; $waiting waiting for a person"
    fi
    if ((up > 0)); then
      noun=nodes
      ((up == 1)) && noun=node
      printf -v REASON '%s%s compute %s not powered down, first: %.100s' "${REASON:+$REASON; }" "$up" "$noun" "$first_up"
    fi
    return "$WORK"
  fi
  if [[ -n $unexpected ]]; then
    printf -v REASON "unexpected squeue line '%.100s'" "$unexpected"
    return "$UNSURE"
  fi
  if [[ -n $node_problem ]]; then
    REASON=$node_problem
    return "$UNSURE"
  fi
  if ((waiting > 0)); then
    ((waiting == 1)) && noun=job
    printf -v REASON '%s %s waiting for a person (held, suspended or never runnable), first: %.100s' \
      "$waiting" "$noun" "$first_waiting"
    return "$PRESENT"
  fi
  noun=nodes
  ((down == 1)) && noun=node
  printf -v REASON 'no Slurm jobs pending or running, %s compute %s powered down' "$down" "$noun"
  return "$NOTHING"
}

# ---------------------------------------------------------------------------------------------
# One check
# ---------------------------------------------------------------------------------------------
VERDICTS=()
WORKING=()
PRESENT_ONLY=()

run_detectors() {
  local name flag status
  for name in "${DETECTORS[@]}"; do
    flag=DETECT_${name^^}
    if [[ ${!flag} != true ]]; then
      VERDICTS+=("$name: off")
      continue
    fi
    status=0
    REASON=''
    "detect_$name" || status=$?
    case $status in
      "$WORK") VERDICTS+=("$name: ACTIVE ($REASON)") && WORKING+=("$name") ;;
      "$NOTHING") VERDICTS+=("$name: idle ($REASON)") ;;
      "$PRESENT") VERDICTS+=("$name: PRESENT ($REASON)") && PRESENT_ONLY+=("$name") ;;
      *) VERDICTS+=("$name: UNSURE, counted as present ($REASON)") && PRESENT_ONLY+=("$name") ;;
    esac
  done
}

# A new boot id means this state came from an earlier boot (a state dir that is not on tmpfs).
forget_earlier_boots() {
  local boot_id=unknown saved=''
  read -r boot_id 2>/dev/null <"$PROC_ROOT/sys/kernel/random/boot_id" || boot_id=unknown
  load_state saved boot-id || saved=''
  [[ $saved == "$boot_id" ]] && return 0
  STATE=([boot-id]=$boot_id)
}

# A directory of mode 0722 in the root-owned 0755 STATE_DIR: any user may `touch` it (set its times to
# now) without sudo, but without search permission nobody can create anything in it, so unlike a 0666
# file nobody can fill /run through it. Made with a 1970 mtime, so that making it is no sign of life; the
# mode is reapplied in case someone made it first with sudo. A file in its place (an earlier check's,
# or a `sudo touch`) becomes the directory with the file's mtime: a keep-alive in progress carries on.
create_keepalive_file() {
  local replacement=$KEEPALIVE_FILE.new
  if [[ -e $KEEPALIVE_FILE && ! -d $KEEPALIVE_FILE ]]; then
    mkdir -p -- "$replacement" && touch -r "$KEEPALIVE_FILE" -- "$replacement" &&
      rm -f -- "$KEEPALIVE_FILE" && mv -T -- "$replacement" "$KEEPALIVE_FILE" || return
  fi
  [[ -d $KEEPALIVE_FILE ]] || { mkdir -- "$KEEPALIVE_FILE" && touch -d @0 -- "$KEEPALIVE_FILE"; } || return
  chmod 0722 -- "$KEEPALIVE_FILE"
}

# Reads a boot-clock mark (centiseconds of uptime); a missing or corrupt one is "now".
read_mark() {
  local value
  load_state value "$1" && [[ $value =~ ^[0-9]+$ ]] && ((value <= UPTIME_CENTISECONDS)) || value=$UPTIME_CENTISECONDS
  printf -v "$2" '%s' "$value"
}

# Sets DECISION (the log line's head), STOP (true/false), MINUTES_LEFT and marks the clocks.
decide() {
  local grace_cs=$((BOOT_GRACE_MINUTES * 6000)) bound_cs=$((MAX_IDLE_SESSION_HOURS * 360000))
  local last_active last_work idle_cs since_work_cs
  read_mark last-active last_active
  read_mark last-work last_work
  STOP=false
  MINUTES_LEFT=$IDLE_MINUTES
  if ((UPTIME_CENTISECONDS < grace_cs)); then
    last_active=$UPTIME_CENTISECONDS last_work=$UPTIME_CENTISECONDS
    DECISION="boot grace (up $((UPTIME_CENTISECONDS / 100))s of $((grace_cs / 100))s): not counting"
  elif ((${#WORKING[@]} > 0)); then
    last_active=$UPTIME_CENTISECONDS last_work=$UPTIME_CENTISECONDS
    DECISION="active (${WORKING[*]})"
  elif ((${#PRESENT_ONLY[@]} > 0)) && ((bound_cs == 0 || UPTIME_CENTISECONDS - last_work < bound_cs)); then
    last_active=$UPTIME_CENTISECONDS
    since_work_cs=$((UPTIME_CENTISECONDS - last_work))
    DECISION="active (${PRESENT_ONLY[*]}; no work or input for $((since_work_cs / 6000)) min"
    ((bound_cs == 0)) && DECISION+=')' || DECISION+=", counts for $MAX_IDLE_SESSION_HOURS h)"
  else
    idle_cs=$((UPTIME_CENTISECONDS - last_active))
    MINUTES_LEFT=$(((IDLE_MINUTES * 6000 - idle_cs + 5999) / 6000))
    ((MINUTES_LEFT < 0)) && MINUTES_LEFT=0
    DECISION="idle $((idle_cs / 6000))/$IDLE_MINUTES min"
    ((${#PRESENT_ONLY[@]} > 0)) &&
      DECISION+=" (${PRESENT_ONLY[*]} no longer count: no work or input for $MAX_IDLE_SESSION_HOURS h)"
    if ((idle_cs + JITTER_CENTISECONDS >= IDLE_MINUTES * 6000)); then
      if [[ $DRY_RUN == true ]]; then
        DECISION+=': dry run, would stop the box now'
      else
        DECISION+=': stopping the box (shutdown -h now)'
        STOP=true
      fi
    fi
  fi
  save_state last-active "$last_active"
  save_state last-work "$last_work"
  save_state last-check "$UPTIME_CENTISECONDS"
  # Without its state the idle window cannot move on: saying 0 every minute would hold the backstop off
  # for ever, so it says nothing and the backstop judges a silent box.
  write_state_file ||
    die "cannot write $STATE_DIR/state (a full or read-only /run?): no verdict published, the CloudWatch backstop judges this box"
}

# The verdict for the CloudWatch backstop: StopVerdict 1 when this check stops the box, else 0; a dry
# run never says 1. Any failure is logged and costs nothing but the message: silence is what the
# backstop watches for, and it waits far longer than one missed minute.
# It goes to METRIC_NAMESPACE/<this box's instance ARN>: the box's role may publish there and nowhere else,
# so no box can publish another's verdict (CloudWatch has no condition key on dimensions).
PUBLISHED=''
publish_verdict() {
  local instance_id='' arn_prefix='' status=0 out=
  [[ $PUBLISH_VERDICT == true ]] || return 0
  read -r instance_id 2>/dev/null <"$INSTANCE_ID_FILE" || true
  if [[ ! $instance_id =~ ^i-[0-9a-f]+$ ]]; then
    PUBLISHED="cloudwatch: not published (no instance ID in $INSTANCE_ID_FILE)"
    return 0
  fi
  read -r arn_prefix 2>/dev/null <"$INSTANCE_ARN_PREFIX_FILE" || true
  if [[ ! $arn_prefix =~ ^arn:aws(-[a-z]+)*:ec2:[a-z0-9-]+:[0-9]{12}:instance/$ ]]; then
    PUBLISHED="cloudwatch: not published (no instance ARN prefix in $INSTANCE_ARN_PREFIX_FILE)"
    return 0
  fi
  if [[ -z ${AWS_REGION_NAME-} ]]; then
    PUBLISHED='cloudwatch: not published (no AWS_REGION_NAME in idle.conf)'
    return 0
  fi
  run_bounded aws cloudwatch put-metric-data --region "$AWS_REGION_NAME" --namespace "$METRIC_NAMESPACE/$arn_prefix$instance_id" \
    --metric-name StopVerdict --dimensions "InstanceId=$instance_id" --unit Count --value "$1" \
    >"$STATE_DIR/aws.out" 2>&1 || status=$?
  if ((status == 0)); then
    PUBLISHED="cloudwatch: StopVerdict=$1"
  else
    read -r -d '' out <"$STATE_DIR/aws.out" || true
    printf -v PUBLISHED 'cloudwatch: not published (aws %s: %.200s)' "$(failure "$status")" "${out//$'\n'/ }"
  fi
}

check() {
  local summary warning status=0
  snapshot_processes
  run_detectors
  decide
  local verdict=0
  [[ $STOP == true ]] && verdict=1
  publish_verdict "$verdict"
  printf -v summary ' | %s' "${VERDICTS[@]}"
  [[ -n $PUBLISHED ]] && summary+=" | $PUBLISHED"
  for warning in "${WARNINGS[@]}"; do log "WARNING: $warning"; done
  log "$DECISION$summary"
  [[ $STOP == true ]] || return 0
  run_bounded shutdown -h now "trainium-spot: idle for $IDLE_MINUTES min" || status=$?
  ((status == 0)) || die "shutdown failed: $(failure "$status")"
}

# `trainium-spot-idle status`: the same detectors and decision, nothing saved, nothing stopped.
status() {
  local verdict
  SAVE=false
  snapshot_processes
  run_detectors
  decide
  for warning in "${WARNINGS[@]}"; do printf 'WARNING: %s\n' "$warning"; done
  for verdict in "${VERDICTS[@]}"; do
    printf '  %-13s %s\n' "${verdict%%: *}" "${verdict#*: }"
  done
  printf 'verdict: %s\n' "$DECISION"
  if [[ $DECISION == active* || $DECISION == boot* ]]; then
    printf 'the box stops %s min after the last sign of work (idle.idleMinutes)\n' "$IDLE_MINUTES"
  elif [[ $DRY_RUN == false ]]; then
    printf 'the box stops in about %s min unless work starts\n' "$MINUTES_LEFT"
  fi
}

main() {
  local lock_fd uptime command=${1:-check}
  if [[ $command != check && $command != status ]]; then
    printf 'usage: trainium-spot-idle [check|status]\n' >&2
    exit 2
  fi
  load_config
  # Made once per boot, not a process every minute. Two checks started together (the timer and a manual
  # run) may both find no directory: the loser's mkdir fails, but the directory is there.
  [[ -d $STATE_DIR ]] || mkdir -m 0755 -- "$STATE_DIR" 2>/dev/null || [[ -d $STATE_DIR ]] || die "cannot create $STATE_DIR"

  # The timer and a manual run take turns: the second waits for the first, then checks afresh.
  exec {lock_fd}>>"$LOCK_FILE" || die "cannot open $LOCK_FILE"
  if ! flock -w "$CHECK_INTERVAL_SECONDS" "$lock_fd"; then
    log "another check held $LOCK_FILE for ${CHECK_INTERVAL_SECONDS}s; skipping this one, no decision taken"
    return 0
  fi

  # The idle window, boot grace, keep-alive and rates run on the boot clock, which no clock change moves.
  read -r uptime _ 2>/dev/null <"$PROC_ROOT/uptime" || uptime=''
  [[ $uptime =~ ^([0-9]+)\.([0-9]{2})$ ]] || die "cannot read the uptime from $PROC_ROOT/uptime"
  UPTIME_CENTISECONDS=$((10#${BASH_REMATCH[1]} * 100 + 10#${BASH_REMATCH[2]}))
  read_state_file
  if [[ $command == check ]]; then
    forget_earlier_boots
    create_keepalive_file || WARNINGS+=("cannot create $KEEPALIVE_FILE; users cannot keep the box up with it")
  fi
  read_mark last-check LAST_CHECK_CENTISECONDS
  "$command"
}

main "$@"
