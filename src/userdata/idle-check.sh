#!/usr/bin/env bash
# trainium-spot idle check: stop this box soon after the last sign of work, never during it.
#
# trainium-spot-idle.timer runs this every CHECK_INTERVAL_SECONDS. Each run asks every enabled
# detector whether it sees work. After CONSECUTIVE_CHECKS runs in a row in which none does, and
# never within BOOT_GRACE_MINUTES of boot, it runs `shutdown -h now`. EC2 turns a shutdown from
# inside an EBS-backed box into a stop (instance-initiated shutdown behaviour "stop"; our spot
# boxes come from a persistent request, which is what allows stopping them).
#
# Fail safe: a detector that errors, times out or cannot read its source counts as ACTIVE, so a
# broken detector can keep the box up (the CloudWatch CPU alarm still stops it) but never stop it.
# Every decision names what each detector saw: journalctl -u trainium-spot-idle, or LOG_FILE.
# It needs no instance metadata (IMDS) and no network access.
#
# Every path below can be overridden (TS_*) so the tests run this exact file against fixtures.
set -euo pipefail
# The log holds command lines, and command lines can hold secrets: keep new files from others.
umask 027

# ---------------------------------------------------------------------------------------------
# Paths and inputs (production defaults)
# ---------------------------------------------------------------------------------------------
IDLE_CONF=${TS_IDLE_CONF:-/etc/trainium-spot/idle.conf}
# /run is a tmpfs: the idle count cannot outlive a stop/start and stop the box right after boot.
STATE_DIR=${TS_STATE_DIR:-/run/trainium-spot}
KEEPALIVE_FILE=${TS_KEEPALIVE_FILE:-$STATE_DIR/keepalive}
LOCK_FILE=${TS_LOCK_FILE:-$STATE_DIR/lock}
LOG_FILE=${TS_LOG_FILE:-/var/log/trainium-spot-idle.log}
PROC_ROOT=${TS_PROC_ROOT:-/proc}
# neuron-monitor lives outside systemd's default PATH on the Neuron DLAMI.
PATH=${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}:${TS_NEURON_BIN_DIR:-/opt/aws/neuron/bin}
# Any external command that can hang (ps on a process stuck in D state, a wedged driver) is cut off.
COMMAND_TIMEOUT_SECONDS=${TS_COMMAND_TIMEOUT_SECONDS:-15}
# sshd listens here on the AMIs we launch; not part of the typed config.
SSH_PORT=22

DETECTORS=(ssh ssm multiplexers neuron gpu processes cpu memory network keepalive)

# The clock: the tests set TS_NOW (epoch seconds) to drive a simulated day.
now() { printf '%s' "${TS_NOW:-$EPOCHSECONDS}"; }

# ---------------------------------------------------------------------------------------------
# Logging: stdout reaches the journal under systemd; by hand we also send it there with logger.
# ---------------------------------------------------------------------------------------------
log() {
  local stamp
  printf -v stamp '%(%Y-%m-%dT%H:%M:%S%z)T' "$(now)"
  printf '%s\n' "$*"
  { printf '%s %s\n' "$stamp" "$*" >>"$LOG_FILE"; } 2>/dev/null || true
  if [[ -z ${JOURNAL_STREAM:-} ]]; then
    timeout 5 logger -t trainium-spot-idle -- "$*" 2>/dev/null || true
  fi
}

# Without a usable config or state the check cannot judge; it stops nothing and says why.
die() {
  log "ERROR: $*; the box keeps running"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Configuration: /etc/trainium-spot/idle.conf, written by cloud-init from the typed config.
# No defaults here: src/config.ts is the one place they live, so a missing key is an error.
# ---------------------------------------------------------------------------------------------
load_config() {
  [[ -r $IDLE_CONF ]] || die "cannot read $IDLE_CONF"
  # shellcheck source=/dev/null
  source "$IDLE_CONF" || die "$IDLE_CONF is not valid bash"

  local name
  for name in CHECK_INTERVAL_SECONDS CONSECUTIVE_CHECKS BOOT_GRACE_MINUTES KEEPALIVE_MINUTES; do
    [[ ${!name-} =~ ^[0-9]+$ ]] || die "$IDLE_CONF: $name='${!name-}' must be a whole number"
  done
  ((CONSECUTIVE_CHECKS >= 1)) || die "$IDLE_CONF: CONSECUTIVE_CHECKS must be at least 1"
  for name in CPU_THRESHOLD_PERCENT MEMORY_THRESHOLD_PERCENT NETWORK_THRESHOLD_KBPS \
    NEURON_UTILIZATION_THRESHOLD_PERCENT GPU_UTILIZATION_THRESHOLD_PERCENT; do
    [[ ${!name-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$IDLE_CONF: $name='${!name-}' must be a number such as 10 or 2.5"
  done
  for name in DRY_RUN "${DETECTORS[@]/#/DETECT_}"; do
    name=${name^^}
    [[ ${!name-} == true || ${!name-} == false ]] || die "$IDLE_CONF: $name='${!name-}' must be true or false"
  done
  declare -p PROCESS_PATTERNS &>/dev/null || die "$IDLE_CONF: PROCESS_PATTERNS=( ... ) is missing"
}

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

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
to_milli() {
  local whole=${1%%.*} fraction=000
  [[ $1 == *.* ]] && fraction=${1#*.}000
  printf '%s' $((10#$whole * 1000 + 10#${fraction:0:3}))
}
show_milli() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# The end of every measuring detector: "<what> <reading><unit>", and "< <threshold><unit>" when
# below it. Returns 0 (work) at or above the threshold, 1 below. The reading is in thousandths.
at_or_above() {
  local what=$1 reading=$2 threshold=$3 unit=$4
  printf '%s %s%s' "$what" "$(show_milli "$reading")" "$unit"
  ((reading >= $(to_milli "$threshold"))) && return 0
  printf ' < %s%s' "$threshold" "$unit"
  return 1
}

load_state() { read -r "$1" 2>/dev/null <"$STATE_DIR/$2"; }
# Written whole then renamed, so a run killed mid-write never leaves half a number behind.
save_state() { printf '%s\n' "$2" >"$STATE_DIR/$1.new" && mv -f "$STATE_DIR/$1.new" "$STATE_DIR/$1"; }

# ---------------------------------------------------------------------------------------------
# Process table: one `ps` per check, shared by the process-based detectors.
# ---------------------------------------------------------------------------------------------
PS_ARGS=(-e -ww -o pid= -o ppid= -o args=)
PROCESS_TABLE=''
PS_ERROR=''

snapshot_processes() {
  local out status=0 pid ppid args i ancestor
  local -a pids=() command_lines=()
  local -A parent_of=()
  out=$(run_bounded ps "${PS_ARGS[@]}") || status=$?
  if ((status != 0)); then
    PS_ERROR="ps failed: $(failure "$status")"
    return 0
  fi
  while read -r pid ppid args; do
    [[ -n $pid ]] || continue
    parent_of[$pid]=$ppid
    pids+=("$pid")
    command_lines+=("$args")
  done <<<"$out"
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
    PROCESS_TABLE+=${command_lines[i]}$'\n'
  done
}

# Prints "<what>: <first matching command line>". Returns 0 on a match, 1 on none, 2 when it cannot
# tell. grep's "no match" is an answer, not an error: it is handled here, never left to set -e.
report_process() {
  local what=$1 pattern=$2 match status=0
  if [[ -n $PS_ERROR ]]; then
    printf '%s' "$PS_ERROR"
    return 2
  fi
  match=$(grep -E -m 1 -e "$pattern" <<<"$PROCESS_TABLE" 2>/dev/null) || status=$?
  case $status in
    0) printf '%s: %.100s' "$what" "$match" ;;
    1) ;;
    *) printf "pattern '%s' is not a valid extended regular expression" "$pattern" ;;
  esac
  return "$status"
}

# Passes a detector's status on, printing the "nothing seen" message when the status is 1.
none() {
  (($1 == 1)) && printf '%s' "$2"
  return "$1"
}

# ---------------------------------------------------------------------------------------------
# Detectors. Each prints one short reason and returns 0 (work seen), 1 (none) or anything else
# (cannot tell, counted as work). They run where set -e is suspended, so each checks its own
# commands.
# ---------------------------------------------------------------------------------------------

# Not `who` or /dev/pts: VS Code Remote-SSH, scp and port forwards run without a terminal
# (`sshd: user@notty`), and containers keep /dev/pts entries that never go away.
detect_ssh() {
  local status=0 out lines
  report_process 'SSH session' '^sshd(-session)?: [^ ]+@' || status=$?
  ((status == 1)) || return "$status"
  out=$(run_bounded ss -H -t -n state established "( sport = :$SSH_PORT )") || {
    printf 'ss failed: %s' "$(failure $?)"
    return 2
  }
  if [[ -n $out ]]; then
    mapfile -t lines <<<"$out"
    printf '%s established connection(s) on port %s' "${#lines[@]}" "$SSH_PORT"
    return 0
  fi
  printf 'no sshd user sessions, no connections on port %s' "$SSH_PORT"
  return 1
}

detect_ssm() {
  report_process 'Session Manager session' '(^|/)ssm-session-worker( |$)' ||
    none $? 'no ssm-session-worker'
}

# The server process outlives every client, so detached sessions count as well.
detect_multiplexers() {
  report_process 'multiplexer' '^([^ ]*/)?(tmux|screen|SCREEN)([ :]|$)' ||
    none $? 'no tmux or screen server'
}

# A training step waits on the NeuronCores with the CPU nearly idle: ask the device, not the CPU.
detect_neuron() {
  local status=0 config=$STATE_DIR/neuron-monitor.json report rest value milli max=-1 count=0
  report_process 'Neuron compiler' '(^|[ /])(neuronx-cc|neuron-cc|neuron_parallel_compile)( |$)' ||
    status=$?
  ((status == 1)) || return "$status"
  if ! command -v neuron-monitor >/dev/null; then
    printf 'no Neuron compiler; neuron-monitor not installed'
    return 1
  fi
  [[ -s $config ]] || printf '%s\n' '{"period": "1s", "neuron_runtimes": [{"tag_filter": ".*",' \
    '"metrics": [{"type": "neuroncore_counters"}]}]}' >"$config" || {
    printf 'cannot write %s' "$config"
    return 2
  }
  # neuron-monitor streams one JSON report per period; the first one is enough.
  report=$(run_bounded neuron-monitor -c "$config" 2>/dev/null | head -n 1) || true
  if [[ $report != *'"neuron_runtime_data"'* ]]; then
    printf 'neuron-monitor gave no report'
    return 2
  fi
  rest=$report
  while [[ $rest =~ \"neuroncore_utilization\"[[:space:]]*:[[:space:]]*([0-9.eE+-]+)(.*) ]]; do
    value=${BASH_REMATCH[1]}
    rest=${BASH_REMATCH[2]}
    if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
      milli=$(to_milli "$value")
    elif [[ $value =~ ^[0-9.]+[eE]- ]]; then
      milli=0 # JSON encoders switch to exponents only for tiny values
    else
      printf 'unexpected neuroncore_utilization %s' "$value"
      return 2
    fi
    count=$((count + 1))
    ((milli > max)) && max=$milli
  done
  if ((count == 0)); then
    # neuroncores_in_use lists only cores busy during the sample: a runtime loading a model lists none.
    if [[ $report =~ \"neuron_runtime_data\"[[:space:]]*:[[:space:]]*\[[[:space:]]*\{ ]]; then
      printf 'a Neuron runtime is running but reported no NeuronCore utilization'
      return 2
    fi
    printf 'no Neuron runtime running'
    return 1
  fi
  at_or_above 'NeuronCore utilization' "$max" "$NEURON_UTILIZATION_THRESHOLD_PERCENT" %
}

detect_gpu() {
  local out value max=-1
  if ! command -v nvidia-smi >/dev/null; then
    printf 'nvidia-smi not installed'
    return 1
  fi
  out=$(run_bounded nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits) || {
    printf 'nvidia-smi failed: %s' "$(failure $?)"
    return 2
  }
  while read -r value; do
    [[ -z $value ]] && continue
    if [[ ! $value =~ ^[0-9]+$ ]]; then
      printf "nvidia-smi reported '%s'" "$value"
      return 2
    fi
    ((10#$value > max)) && max=$((10#$value))
  done <<<"$out"
  if ((max < 0)); then
    printf 'no GPUs'
    return 1
  fi
  at_or_above 'GPU utilization' $((max * 1000)) "$GPU_UTILIZATION_THRESHOLD_PERCENT" %
}

# Extended regular expressions from idle.processPatterns, matched against whole command lines.
# A broken pattern counts as work and stays in the log even when another pattern matches.
detect_processes() {
  local pattern status=1 reason worst=1
  local -a said=()
  if [[ -n $PS_ERROR ]]; then
    printf '%s' "$PS_ERROR"
    return 2
  fi
  for pattern in "${PROCESS_PATTERNS[@]}"; do
    status=0
    reason=$(report_process "'$pattern'" "$pattern") || status=$?
    ((status == 1)) && continue
    said+=("$reason")
    ((status == 0)) && break
    worst=$status
  done
  ((status == 0)) && worst=0
  if ((${#said[@]} == 0)); then
    printf 'no process matches the %s patterns' "${#PROCESS_PATTERNS[@]}"
    return 1
  fi
  printf '%s' "${said[0]}"
  ((${#said[@]} == 1)) || printf '; %s' "${said[@]:1}"
  return "$worst"
}

# Busy share of all vCPUs since the previous check (since boot on the first check of a boot).
# 0.8 of a vCPU, in thousandths: a single-threaded job (data prep, one inference worker) after the
# noise of an idle box.
ONE_BUSY_VCPU_MILLI=800
detect_cpu() {
  local stat=$PROC_ROOT/stat field i=0 total=0 idle=0 previous then_total then_idle busy_milli vcpus busy_vcpus_milli
  local -a fields
  if ! read -r -a fields 2>/dev/null <"$stat" || [[ ${fields[0]-} != cpu || ${#fields[@]} -lt 9 ]]; then
    printf 'cannot read the cpu line of %s' "$stat"
    return 2
  fi
  # user nice system idle iowait irq softirq steal; guest time is already inside user.
  for field in "${fields[@]:1:8}"; do
    if [[ ! $field =~ ^[0-9]+$ ]]; then
      printf 'unexpected %s: %s' "$stat" "${fields[*]}"
      return 2
    fi
    total=$((total + field))
    i=$((i + 1))
    ((i == 4 || i == 5)) && idle=$((idle + field))
  done
  load_state previous cpu.sample || previous='0 0'
  save_state cpu.sample "$total $idle" || {
    printf 'cannot write %s' "$STATE_DIR"
    return 2
  }
  read -r then_total then_idle <<<"$previous"
  if ! [[ $then_total =~ ^[0-9]+$ && $then_idle =~ ^[0-9]+$ ]] || ((total <= then_total)); then
    printf 'no CPU time passed since the previous check'
    return 2
  fi
  busy_milli=$(((total - then_total - (idle - then_idle)) * 100000 / (total - then_total)))
  # One busy vCPU is work however many share the average: on 128 vCPUs it is under 1 %.
  vcpus=$(grep -c '^cpu[0-9]' "$stat") || vcpus=0
  busy_vcpus_milli=$((busy_milli * vcpus / 100))
  if ((vcpus > 1 && busy_vcpus_milli >= ONE_BUSY_VCPU_MILLI)); then
    printf 'CPU %s%%, %s of %s vCPUs busy' "$(show_milli "$busy_milli")" "$(show_milli "$busy_vcpus_milli")" "$vcpus"
    return 0
  fi
  at_or_above CPU "$busy_milli" "$CPU_THRESHOLD_PERCENT" %
}

detect_memory() {
  local meminfo=$PROC_ROOT/meminfo key value total='' available=''
  if [[ ! -r $meminfo ]]; then
    printf 'cannot read %s' "$meminfo"
    return 2
  fi
  while read -r key value _; do
    case $key in
      MemTotal:) total=$value ;;
      MemAvailable:) available=$value ;;
    esac
  done <"$meminfo"
  if ! [[ $total =~ ^[0-9]+$ && $available =~ ^[0-9]+$ ]] || ((total == 0)); then
    printf 'no MemTotal/MemAvailable in %s' "$meminfo"
    return 2
  fi
  at_or_above 'memory in use' $(((total - available) * 100000 / total)) "$MEMORY_THRESHOLD_PERCENT" %
}

# Bytes in and out of every interface but lo since the previous check; 1 KB = 1000 bytes.
detect_network() {
  local netdev=$PROC_ROOT/net/dev line iface bytes=0 previous then_cs then_bytes
  local -a fields
  if [[ ! -r $netdev ]]; then
    printf 'cannot read %s' "$netdev"
    return 2
  fi
  while IFS= read -r line; do
    [[ $line == *:* ]] || continue # the two header lines
    iface=${line%%:*}
    [[ ${iface//[[:space:]]/} == lo ]] && continue
    read -r -a fields <<<"${line#*:}"
    [[ ${fields[0]-} =~ ^[0-9]+$ && ${fields[8]-} =~ ^[0-9]+$ ]] || {
      printf 'unexpected %s line: %s' "$netdev" "$line"
      return 2
    }
    ((bytes += fields[0] + fields[8]))
  done <"$netdev"
  load_state previous net.sample || previous='0 0'
  save_state net.sample "$UPTIME_CENTISECONDS $bytes" || {
    printf 'cannot write %s' "$STATE_DIR"
    return 2
  }
  read -r then_cs then_bytes <<<"$previous"
  if ! [[ $then_cs =~ ^[0-9]+$ && $then_bytes =~ ^[0-9]+$ ]] || ((UPTIME_CENTISECONDS <= then_cs || bytes < then_bytes)); then
    printf 'no interval since the previous check (or counters reset)'
    return 2
  fi
  # Bytes per centisecond * 100 = bytes/s; / 1000 = KB/s; * 1000 = thousandths of KB/s.
  at_or_above network $(((bytes - then_bytes) * 100 / (UPTIME_CENTISECONDS - then_cs))) "$NETWORK_THRESHOLD_KBPS" ' KB/s'
}

# `touch /run/trainium-spot/keepalive` keeps the box up for KEEPALIVE_MINUTES.
detect_keepalive() {
  local mtime age
  if [[ ! -e $KEEPALIVE_FILE ]]; then
    printf 'no %s' "$KEEPALIVE_FILE"
    return 1
  fi
  mtime=$(stat -c %Y -- "$KEEPALIVE_FILE") || {
    printf 'cannot stat %s' "$KEEPALIVE_FILE"
    return 2
  }
  age=$(($(now) - mtime))
  if ((age < KEEPALIVE_MINUTES * 60)); then
    printf 'touched %ss ago, keeps the box up for %s min' "$age" "$KEEPALIVE_MINUTES"
    return 0
  fi
  ((mtime == 0)) && printf 'never touched' && return 1
  printf 'touched %s min ago' $((age / 60))
  return 1
}

# ---------------------------------------------------------------------------------------------
# One check
# ---------------------------------------------------------------------------------------------
VERDICTS=()
ACTIVE=()

run_detectors() {
  local name flag reason status
  for name in "${DETECTORS[@]}"; do
    flag=DETECT_${name^^}
    if [[ ${!flag} != true ]]; then
      VERDICTS+=("$name: off")
      continue
    fi
    status=0
    reason=$("detect_$name") || status=$?
    case $status in
      0) VERDICTS+=("$name: ACTIVE ($reason)") ;;
      1) VERDICTS+=("$name: idle ($reason)") ;;
      *) VERDICTS+=("$name: UNSURE, counted as active ($reason)") ;;
    esac
    ((status == 1)) || ACTIVE+=("$name")
  done
}

# A new boot id means this state came from an earlier boot (a state dir that is not on tmpfs).
forget_earlier_boots() {
  local boot_id=unknown saved=''
  read -r boot_id 2>/dev/null <"$PROC_ROOT/sys/kernel/random/boot_id" || boot_id=unknown
  load_state saved boot-id || saved=''
  [[ $saved == "$boot_id" ]] && return 0
  rm -f -- "$STATE_DIR/idle-count" "$STATE_DIR/cpu.sample" "$STATE_DIR/net.sample" &&
    save_state boot-id "$boot_id"
}

# Created with a 1970 mtime so that creating it is no sign of life. Mode 0666 in a root-owned
# 0755 directory: any user can `touch` it without sudo, nobody but root can replace or remove it,
# and root never writes state into a world-writable directory (unlike a sticky /tmp-style one).
# The mode is reapplied each time in case someone created the file first with `sudo touch`.
create_keepalive_file() {
  [[ -e $KEEPALIVE_FILE ]] || touch -d @0 -- "$KEEPALIVE_FILE" || return
  chmod 0666 -- "$KEEPALIVE_FILE"
}

decide() {
  local uptime=$((UPTIME_CENTISECONDS / 100)) grace=$((BOOT_GRACE_MINUTES * 60)) count=0 summary
  printf -v summary ' | %s' "${VERDICTS[@]}"

  if ((uptime < grace)); then
    save_state idle-count 0 || die "cannot write $STATE_DIR"
    log "boot grace (up ${uptime}s of ${grace}s): not counting$summary"
    return 0
  fi
  if ((${#ACTIVE[@]} > 0)); then
    save_state idle-count 0 || die "cannot write $STATE_DIR"
    log "active (${ACTIVE[*]})$summary"
    return 0
  fi

  load_state count idle-count && [[ $count =~ ^[0-9]+$ ]] || count=0
  count=$((count + 1))
  save_state idle-count "$count" || die "cannot write $STATE_DIR"
  if ((count < CONSECUTIVE_CHECKS)); then
    log "idle $count/$CONSECUTIVE_CHECKS$summary"
  elif [[ $DRY_RUN == true ]]; then
    log "idle $count/$CONSECUTIVE_CHECKS: dry run, would stop the box now$summary"
  else
    log "idle $count/$CONSECUTIVE_CHECKS: stopping the box (shutdown -h now)$summary"
    local status=0
    run_bounded shutdown -h now "trainium-spot: idle for $count checks" || status=$?
    ((status == 0)) || die "shutdown failed: $(failure "$status")"
  fi
}

main() {
  local lock_fd uptime
  load_config
  mkdir -m 0755 -- "$STATE_DIR" 2>/dev/null || [[ -d $STATE_DIR ]] || die "cannot create $STATE_DIR"

  # The timer and a manual run take turns: the second waits for the first, then checks afresh.
  exec {lock_fd}>>"$LOCK_FILE" || die "cannot open $LOCK_FILE"
  if ! flock -w "$CHECK_INTERVAL_SECONDS" "$lock_fd"; then
    log "another check held $LOCK_FILE for ${CHECK_INTERVAL_SECONDS}s; skipping this one, no decision taken"
    return 0
  fi

  forget_earlier_boots || die "cannot reset $STATE_DIR"
  create_keepalive_file || log "WARNING: cannot create $KEEPALIVE_FILE; users cannot keep the box up with it"

  # Boot grace and network rates run on the boot clock, which no clock change can move.
  read -r uptime _ 2>/dev/null <"$PROC_ROOT/uptime" || uptime=''
  [[ $uptime =~ ^([0-9]+)\.([0-9]{2})$ ]] || die "cannot read the uptime from $PROC_ROOT/uptime"
  UPTIME_CENTISECONDS=$((10#${BASH_REMATCH[1]} * 100 + 10#${BASH_REMATCH[2]}))

  snapshot_processes
  run_detectors
  decide
}

main "$@"
