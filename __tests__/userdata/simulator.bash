# The stop-decision simulator: the real idle check (src/userdata/idle-check.sh, unchanged, on the fake box
# of test_helper.bash) and a model of the CloudWatch backstop (fixtures/backstop.conf, which
# __tests__/backstop.test.ts holds equal to the synthesized alarms) run together, minute by minute, over
# one scenario: what people and jobs do on the box, and what goes wrong (a dead or hung check, a
# publishing outage, a failing shutdown). It answers at which minute the box stops, and who stopped it.
#
# The model evaluates every alarm as the CloudWatch User Guide describes it (the last N one-minute
# periods, M of them breaching, missing data per treat_missing_data) under four readings of what the
# guide leaves open, and a scenario holds only if it holds under all of them:
#   - a verdict datapoint becomes visible at once, or two minutes late (late datapoints count as missing
#     until they arrive, the pessimistic reading for the "silent" alarm);
#   - a notBreaching alarm whose whole window is missing goes to OK, or keeps its state.
# Loaded by timeline.bats after test_helper.
# shellcheck shell=bash
# shellcheck disable=SC2154 # status and output are set by bats' `run`

# shellcheck source=__tests__/userdata/fixtures/backstop.conf
source "$BATS_TEST_DIRNAME/fixtures/backstop.conf"

READINGS=('0 ok' '0 keep' '2 ok' '2 keep') # verdict delay in minutes, all-missing notBreaching
# Checks every minute from a minute before a change to this long after it; every COARSE_MINUTES elsewhere,
# where the last verdict stands for the minutes between (the check's clock is uptime, so skipping checks
# in a steady stretch changes no decision).
FINE_AFTER_MINUTES=4
COARSE_MINUTES=10
# How long the model keeps watching after a box stopped: the backstop must never act on a stopped box.
STOPPED_TAIL_MINUTES=30

# ---------------------------------------------------------------------------------------------
# The backstop model
# ---------------------------------------------------------------------------------------------

# Hundredths from a decimal such as 6.25 or 1.
hundredths() {
  local whole=${1%%.*} fraction=00
  [[ $1 == *.* ]] && fraction=${1#*.}00
  printf -v HUNDREDTHS '%d' $((10#$whole * 100 + 10#${fraction:0:2}))
}

# Series per minute: V (verdict: '' missing, 0, 1), C (CPU in hundredths of a percent), S (status checks).
declare -gA V C S
# Per alarm a and minute m: PP[a:m] datapoints present in minutes 1..m, PB[a:m] of them breaching.
declare -gA PP PB
declare -ga ALARM_NAME ALARM_METRIC ALARM_STAT ALARM_CMP ALARM_THRESHOLD ALARM_N ALARM_M ALARM_TREAT ALARM_ACTION

model_init() {
  local a=0 entry name metric stat cmp threshold n m treat action
  V=() C=() S=() PP=() PB=()
  for entry in "${ALARMS[@]}"; do
    read -r name metric stat cmp threshold n m treat action <<<"$entry"
    [[ $threshold == busy-vcpus:* ]] && threshold=$(low_cpu_threshold "${threshold#busy-vcpus:}")
    hundredths "$threshold"
    ALARM_NAME[a]=$name ALARM_METRIC[a]=$metric ALARM_STAT[a]=$stat ALARM_CMP[a]=$cmp
    ALARM_THRESHOLD[a]=$HUNDREDTHS ALARM_N[a]=$n ALARM_M[a]=$m ALARM_TREAT[a]=$treat ALARM_ACTION[a]=$action
    PP[$a:0]=0 PB[$a:0]=0
    a=$((a + 1))
  done
}

# The low-CPU threshold for this box's vCPUs, as the stack computes it (stack.ts lowCpuThresholdPercent).
low_cpu_threshold() {
  local busy_hundredths
  hundredths "$1"
  busy_hundredths=$HUNDREDTHS
  local t=$((busy_hundredths * 100 / VCPUS))
  printf '%d.%02d' $((t / 100)) $((t % 100))
}

# Records minute $1's datapoints into the prefix sums of every alarm.
model_record() {
  local m=$1 a value present breach
  for a in "${!ALARM_NAME[@]}"; do
    case ${ALARM_METRIC[a]} in
      verdict) value=${V[$m]-} ;;
      cpu) value=${C[$m]-} ;;
      status) value=${S[$m]-} ;;
    esac
    present=0 breach=0
    if [[ -n $value ]]; then
      present=1
      if [[ ${ALARM_STAT[a]} == SampleCount ]]; then
        value=100
      elif [[ ${ALARM_METRIC[a]} == verdict ]]; then
        value=$((value * 100))
      fi
      case ${ALARM_CMP[a]} in
        GreaterThanOrEqualToThreshold) ((value >= ALARM_THRESHOLD[a])) && breach=1 ;;
        LessThanThreshold) ((value < ALARM_THRESHOLD[a])) && breach=1 ;;
        *) fail_with "the model knows no ${ALARM_CMP[a]}" ;;
      esac
    fi
    local previous=$a:$((m - 1))
    PP[$a:$m]=$((${PP[$previous]} + present))
    PB[$a:$m]=$((${PB[$previous]} + breach))
  done
}

# The state of alarm $1 at the end of minute $2 under reading $3 ("delay keep|ok"), given its state $4.
alarm_state() {
  local a=$1 t=$2 delay keep previous=$4 lo hi present breaches n
  n=${ALARM_N[a]}
  read -r delay keep <<<"$3"
  [[ ${ALARM_METRIC[a]} == verdict ]] || delay=0
  # A late datapoint: an alarm that treats missing data as breaching counts it as missing until it
  # arrives (the pessimistic reading for "silent"); one that does not looks back to the data that has
  # arrived (CloudWatch's evaluation range), which only delays it.
  hi=$((t - delay))
  lo=$((t - n))
  [[ ${ALARM_TREAT[a]} == breaching ]] || lo=$((hi - n))
  ((lo < 0)) && lo=0
  ((hi < lo)) && hi=$lo
  present=$((${PP[$a:$hi]} - ${PP[$a:$lo]}))
  breaches=$((${PB[$a:$hi]} - ${PB[$a:$lo]}))
  if ((present == 0)) && [[ ${ALARM_TREAT[a]} == notBreaching && $keep == keep ]]; then
    STATE=$previous
    return
  fi
  [[ ${ALARM_TREAT[a]} == breaching ]] && breaches=$((breaches + n - present))
  ((breaches >= ALARM_M[a])) && STATE=ALARM || STATE=OK
}

# The composite rule over the states in the associative array named $1: 1 when it is in ALARM.
rule_holds() {
  local -n rule_states=$1
  local expression=$DEAD_CHECK_RULE name value
  for name in "${!rule_states[@]}"; do
    value=0
    [[ ${rule_states[$name]} == ALARM ]] && value=1
    expression=${expression//"ALARM($name)"/$value}
  done
  expression=${expression//AND/'&&'}
  expression=${expression//OR/'||'}
  expression=${expression//NOT/'!'}
  [[ $expression =~ ^[01\&\|\!\ \(\)]+$ ]] || fail_with "cannot evaluate the rule: $expression"
  ((expression))
}

# Evaluates minute $1 under reading $2 for run $3 (states kept in STATES_$3). Sets ACTION to the stop
# the backstop starts this minute: verdict (the alarm's EC2 stop action), dead-check (EventBridge), or ''.
model_step() {
  local t=$1 reading=$2 run=$3 a name was
  local -n states=STATES_$run
  ACTION=''
  for a in "${!ALARM_NAME[@]}"; do
    name=${ALARM_NAME[a]}
    was=${states[$name]}
    alarm_state "$a" "$t" "$reading" "$was"
    # shellcheck disable=SC2004 # an associative array behind a nameref
    states[$name]=$STATE
    if [[ $STATE == ALARM && $was != ALARM && ${ALARM_ACTION[a]} == stop ]]; then
      ACTION=verdict
    fi
  done
  was=${states[composite]}
  states[composite]=OK
  rule_holds "STATES_$run" && states[composite]=ALARM
  [[ ${states[composite]} == ALARM && $was != ALARM && -z $ACTION ]] && ACTION=dead-check
  return 0
}

# ---------------------------------------------------------------------------------------------
# The box
# ---------------------------------------------------------------------------------------------

# Activities: "name first last" (minutes, inclusive). Each sets fixtures for one minute.
declare -ga PLAN=()
EVENTS=()

# Sets the fixtures for the activities going on in minute $1; CPU_HUNDREDTHS for the model.
live_minute() {
  local minute=$1 entry name first last cpu=1 network=1 disk=0 memory=6 utilization='' burst='' typed=''
  local -a command_lines=()
  for entry in "${PLAN[@]}"; do
    read -r name first last <<<"$entry"
    ((minute >= first && minute <= last)) || continue
    case $name in
      ssh) command_lines+=('sshd: ubuntu [priv]' 'sshd: ubuntu@pts/0' '-bash') ;;
      typing) command_lines+=('sshd: ubuntu@pts/0' '-bash') && typed=yes ;;
      vscode) command_lines+=('sshd: ubuntu [priv]' 'sshd: ubuntu@notty'
        'sh /home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/bin/code-server --connection-token=x') ;;
      vscode-tunnel) command_lines+=('/home/ubuntu/.vscode/cli/code tunnel --accept-server-license-terms') ;;
      mosh) command_lines+=('mosh-server new -s -c 256 -l LANG=en_US.UTF-8') ;;
      jupyter) command_lines+=('/opt/conda/bin/python3 -m ipykernel_launcher -f /run/user/1000/jupyter/kernel-1.json') ;;
      cell) cpu=$((cpu > 60 ? cpu : 60)) ;;
      tmux) command_lines+=('tmux: server') ;;
      zellij) command_lines+=('zellij --server /run/user/1000/zellij/0.40.1/work') ;;
      dtach) command_lines+=('dtach -n /tmp/job.sock bash') ;;
      ssm) command_lines+=('/snap/amazon-ssm-agent/11320/ssm-session-worker ubuntu-0a1b2c i-0123456789abcdef0' 'sh') ;;
      run-command) command_lines+=('/snap/amazon-ssm-agent/11320/ssm-document-worker 5f1c0a52 aws:runShellScript' 'bash _script.sh') ;;
      neuron-train) command_lines+=('python3 my_experiment.py --steps 10000') && cpu=2 utilization=85 ;;
      neuron-hold) command_lines+=('python3 my_experiment.py --steps 10000') && utilization=0 ;;
      neuron-burst) command_lines+=('python3 serve_model.py') && burst=yes ;;
      finetune) command_lines+=('/opt/venv/bin/python3 -u /home/ubuntu/finetuning.py --lr 3e-4') && cpu=2 ;;
      torch-run) command_lines+=('python3 -m torch.distributed.run --nproc_per_node=2 main.py') && cpu=2 ;;
      deepspeed) command_lines+=('deepspeed --num_gpus 2 main.py') && cpu=2 ;;
      torchrun-32) command_lines+=('torchrun --nproc_per_node=32 main.py') && cpu=$((cpu > 2 ? cpu : 2)) ;;
      one-vcpu) cpu=$((cpu > 1 ? cpu : 1)) ;;
      hung-job) command_lines+=('python3 train.py --resume') && cpu=0 ;;
      compile) command_lines+=('make -j8') && cpu=60 ;;
      download) network=2000 ;;
      slow-download) command_lines+=('curl -O https://example.com/weights.bin') && network=50 ;;
      disk-job) command_lines+=('python3 shard_dataset.py') && disk=5000 ;;
      memory) memory=90 ;;
      tensorboard) command_lines+=('tensorboard --logdir runs/train') ;;
      preauth) command_lines+=('sshd: unknown [preauth]' 'sshd-session: root [preauth]') ;;
      keepalive) ((minute == first)) && mkdir -p "$TS_STATE_DIR" && touch_keepalive ;;
      quiet) cpu=0 ;;
      *) fail_with "unknown activity $name" ;;
    esac
  done
  processes "${command_lines[@]}"
  [[ $memory == "$MEM_USED_PERCENT" ]] || memory_in_use "$memory"
  if [[ -n $burst ]]; then
    { report_with 0; report_with 72; report_with 0; } >"$TS_NEURON_REPORTS"
  elif [[ -n $utilization ]]; then
    report_with "$utilization" >"$TS_NEURON_REPORTS"
  else
    printf '%s\n' '{"neuron_runtime_data":[],"instance_info":{"error":""}}' >"$TS_NEURON_REPORTS"
  fi
  tick "$cpu" "$network" "$disk"
  [[ -n $typed ]] && type_on_terminal 0
  CPU_HUNDREDTHS=$((cpu * 100))
}

# Whether event $1 (e.g. "dead") covers minute $2.
event_at() {
  local entry name first last
  for entry in "${EVENTS[@]}"; do
    read -r name first last <<<"$entry"
    [[ $name == "$1" ]] && (($2 >= first && $2 <= ${last:-999999})) && return 0
  done
  return 1
}

# Minutes at which something changes: activity and event boundaries, and the minutes a scenario watches.
declare -gA FINE=()
mark_fine_minutes() {
  local entry name first last b m
  FINE=([1]=1)
  for entry in "${PLAN[@]}" "${EVENTS[@]}" "${WATCH[@]/#/watch }"; do
    read -r name first last <<<"$entry"
    for b in "$first" "$((${last:-$first} + 1))"; do
      for ((m = b - 1; m <= b + FINE_AFTER_MINUTES; m++)); do FINE[$m]=1; done
    done
  done
}

# Runs the check for minute $1 if it is due and alive; sets V[$1] and BOX_STOPPED_AT when it shuts down.
box_minute() {
  local m=$1 line value=''
  if event_at dead "$m"; then
    return 0
  fi
  if [[ -z ${FINE[$m]-} ]] && ((m % COARSE_MINUTES != 0)); then
    V[$m]=$LAST_VERDICT
    return 0
  fi
  if event_at outage "$m"; then stub_does aws exit 255; else stub_does aws exit 0; fi
  if event_at stop-fails "$m"; then stub_does shutdown exit 1; else stub_does shutdown exit 0; fi
  : >"$TS_FAKE/calls"
  # As run_check does, without bats' `run` around it: the simulator runs hundreds of checks.
  output=$(PATH="$BOX/bin:$BOX/sysbin" "$IDLE_CHECK" check 2>&1) || true
  printf '%4d | %s\n' "$m" "${output%% | *}" >>"$TRANSCRIPT"
  while read -r line; do
    [[ $line == 'begin aws cloudwatch put-metric-data '* ]] && value=${line##* }
    [[ $line == 'begin shutdown -h now'* ]] && ! event_at stop-fails "$m" && BOX_STOPPED_AT=$m
  done <"$TS_FAKE/calls"
  event_at outage "$m" && value=''
  V[$m]=$value
  LAST_VERDICT=$value
}

# ---------------------------------------------------------------------------------------------
# One scenario
# ---------------------------------------------------------------------------------------------

# simulate <minutes> [activity first last]... Optional before the call: EVENTS ("dead 30", "outage 10 18",
# "hung 30", "stop-fails 1"), WATCH (minutes to check finely), CONF ("KEY VALUE" lines of idle.conf),
# VCPUS, BOOT_AT_ZERO=yes (start right after boot), STOPPED_BEFORE (minutes the box was stopped before).
# Sets STOP_MINUTES[r] and STOP_BY[r] per reading r, and FIRED_WHILE_STOPPED.
simulate() {
  local duration=$1 m r entry key value all_stopped lock_fd=''
  shift
  # bats traces every command through a DEBUG trap, which costs more than the simulation itself; a
  # failing assertion still reports its line (fail_with prints the transcript).
  trap - DEBUG
  PLAN=("$@")
  local vcpus=${VCPUS:-8}
  setup_box "$BATS_TEST_TMPDIR"
  export TS_NEURON_REPORTS=$BOX/neuron-reports.jsonl
  TRANSCRIPT=$BOX/transcript.txt
  for entry in "${CONF[@]}"; do
    read -r key value <<<"$entry"
    conf "$key" "$value"
  done
  # A trn1.2xlarge unless the scenario says otherwise; read by write_proc (test_helper.bash).
  VCPUS=$vcpus
  if [[ ${BOOT_AT_ZERO-} == yes ]]; then reboot_box 0; else write_proc; fi
  mark_fine_minutes
  model_init
  local stopped_before=${STOPPED_BEFORE:-0}
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    declare -g -A "STATES_$r=()"
    # shellcheck disable=SC2178 # a nameref to this reading's states
    local -n states=STATES_$r
    for entry in "${ALARMS[@]}"; do states[${entry%% *}]=INSUFFICIENT_DATA; done
    # Pessimistic start for a box that was stopped: its CPU alarm still in ALARM from before.
    ((stopped_before > 0)) && states[low-cpu]=ALARM
    states[composite]=OK
    unset -n states
    STOP_MINUTES[r]='' STOP_BY[r]=''
  done
  # Minutes before boot: stopped, no data. Minute numbers shift so that the scenario starts at 1.
  OFFSET=$stopped_before
  for ((m = 1; m <= stopped_before; m++)); do model_record "$m"; done
  for ((m = 1; m <= stopped_before; m++)); do
    for ((r = 0; r < ${#READINGS[@]}; r++)); do
      model_step "$m" "${READINGS[r]}" "$r"
      if [[ -n $ACTION ]]; then FIRED_WHILE_STOPPED+=" $ACTION@-$((stopped_before - m + 1))"; fi
    done
  done
  if event_at hung 1 || [[ ${#EVENTS[@]} -gt 0 && " ${EVENTS[*]} " == *' hung '* ]]; then conf CHECK_INTERVAL_SECONDS 1; fi
  LAST_VERDICT='' BOX_STOPPED_AT=''
  for ((m = 1; m <= duration; m++)); do
    live_minute "$m"
    if event_at hung "$m" && [[ -z $lock_fd ]]; then
      # A hung check holds the lock: this shell holds it, so no process outlives the scenario.
      mkdir -p "$TS_STATE_DIR"
      exec {lock_fd}>>"$TS_STATE_DIR/lock"
      flock "$lock_fd"
    fi
    box_minute "$m"
    C[$((m + OFFSET))]=$CPU_HUNDREDTHS S[$((m + OFFSET))]=1
    [[ -n ${V[$m]-} ]] && V[$((m + OFFSET))]=${V[$m]}
    ((OFFSET > 0)) && unset "V[$m]"
    model_record $((m + OFFSET))
    all_stopped=yes
    for ((r = 0; r < ${#READINGS[@]}; r++)); do
      [[ -n ${STOP_MINUTES[r]} ]] && continue
      model_step $((m + OFFSET)) "${READINGS[r]}" "$r"
      if [[ -n $BOX_STOPPED_AT ]]; then
        STOP_MINUTES[r]=$m STOP_BY[r]=box
      elif [[ $ACTION == verdict ]]; then
        STOP_MINUTES[r]=$m STOP_BY[r]=verdict-alarm
      elif [[ $ACTION == dead-check ]]; then
        # EventBridge starts the runbook, which stops the box within the next minute.
        STOP_MINUTES[r]=$((m + 1)) STOP_BY[r]=dead-check-alarm
      fi
      [[ -n ${STOP_MINUTES[r]} ]] || all_stopped=no
    done
    [[ $all_stopped == yes ]] && break
  done
  if [[ -n $lock_fd ]]; then exec {lock_fd}>&-; fi
  model_tail
}

# After each reading's stop, the box sends nothing; the backstop must stay quiet for STOPPED_TAIL_MINUTES.
model_tail() {
  local r m stop last=0
  FIRED_WHILE_STOPPED=${FIRED_WHILE_STOPPED-}
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    stop=${STOP_MINUTES[r]}
    [[ -n $stop ]] || continue
    ((stop + OFFSET + STOPPED_TAIL_MINUTES > last)) && last=$((stop + OFFSET + STOPPED_TAIL_MINUTES))
  done
  for ((m = 1; m <= last; m++)); do
    [[ -n ${PP[0:$m]-} ]] || model_record "$m"
  done
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    stop=${STOP_MINUTES[r]}
    [[ -n $stop ]] || continue
    for ((m = stop + OFFSET + 1; m <= stop + OFFSET + STOPPED_TAIL_MINUTES; m++)); do
      # Data after the stop never reached the model's series: the box was gone.
      model_step "$m" "${READINGS[r]}" "$r"
      if [[ -n $ACTION ]]; then FIRED_WHILE_STOPPED+=" $ACTION@$((m - OFFSET))"; fi
    done
  done
}

# ---------------------------------------------------------------------------------------------
# Assertions and figures
# ---------------------------------------------------------------------------------------------

# expect_stop <first> [<last>] [by]: under every reading the box stopped within these minutes.
expect_stop() {
  local first=$1 last=${2:-$1} by=${3-} r
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    [[ -n ${STOP_MINUTES[r]} ]] || fail_with "reading '${READINGS[r]}': never stopped; $(tail -n 4 "$TRANSCRIPT")"
    ((STOP_MINUTES[r] >= first && STOP_MINUTES[r] <= last)) ||
      fail_with "reading '${READINGS[r]}': stopped at minute ${STOP_MINUTES[r]} by ${STOP_BY[r]}, expected $first-$last; $(tail -n 4 "$TRANSCRIPT")"
    [[ -z $by || ${STOP_BY[r]} == "$by" ]] || fail_with "reading '${READINGS[r]}': stopped by ${STOP_BY[r]}, expected $by"
  done
  [[ -z $FIRED_WHILE_STOPPED ]] || fail_with "the backstop acted on a stopped box:$FIRED_WHILE_STOPPED"
  record_figure stop "$first" "$last"
}

expect_no_stop() {
  local r
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    [[ -z ${STOP_MINUTES[r]} ]] ||
      fail_with "reading '${READINGS[r]}': stopped at minute ${STOP_MINUTES[r]} by ${STOP_BY[r]}; $(tail -n 4 "$TRANSCRIPT")"
  done
  [[ -z $FIRED_WHILE_STOPPED ]] || fail_with "the backstop acted on a stopped box:$FIRED_WHILE_STOPPED"
  record_figure none
}

# One line per scenario for the figures: kind, measured minutes, name.
FIGURES_FILE=${BATS_RUN_TMPDIR:-/tmp}/trainium-spot-timeline-figures
record_figure() {
  local r worst=0
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    [[ -n ${STOP_MINUTES[r]} ]] && ((STOP_MINUTES[r] - ${FIGURE_FROM:-0} > worst)) && worst=$((STOP_MINUTES[r] - ${FIGURE_FROM:-0}))
  done
  printf '%s|%s|%s|%s\n' "${FIGURE-}" "$1" "$worst" "$BATS_TEST_DESCRIPTION" >>"$FIGURES_FILE"
}
