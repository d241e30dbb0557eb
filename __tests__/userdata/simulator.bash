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
READING_DELAY=(0 0 2 2)
READING_KEEP=(ok keep ok keep)
# Checks every minute until the check settles, and then only where something may change: from a minute
# before each change in the scenario (an activity or event starting or ending, a watched minute) to this
# long after it, every COARSE_MINUTES, and in the scenario's last minute; the last verdict stands for the
# minutes between. Settled: two checks a minute apart keep the box up for the same reason (the same
# detectors count, the same lock is held, or a dry run would stop). With the same inputs every minute and
# the check's clock on uptime, every check until the next change would say the same. A check that counts
# towards a stop (idle, boot grace) never settles, so the stop minute is exact; a change the scenario does
# not mark shows as a stop at a later minute than the test expects.
FINE_AFTER_MINUTES=0
COARSE_MINUTES=60
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
declare -ga IN_ALARM=() ALARM_NAME ALARM_METRIC ALARM_STAT ALARM_CMP ALARM_THRESHOLD ALARM_N ALARM_M ALARM_TREAT ALARM_ACTION

model_init() {
  local a=0 entry name metric stat cmp threshold n m treat action
  V=() C=() S=() PP=() PB=()
  # The box's own namespace, where the verdict alarms watch: the partition and account Terraform reads, and its ID.
  OWN_NAMESPACE=${VERDICT_NAMESPACE//<partition>/$TS_PARTITION}
  OWN_NAMESPACE=${OWN_NAMESPACE//<account>/$TS_ACCOUNT}
  OWN_NAMESPACE=${OWN_NAMESPACE//<instance-id>/$BOX_INSTANCE_ID}
  for entry in "${ALARMS[@]}"; do
    read -r name metric stat cmp threshold n m treat action <<<"$entry"
    [[ $threshold == busy-vcpus:* ]] && threshold=$(low_cpu_threshold "${threshold#busy-vcpus:}")
    hundredths "$threshold"
    ALARM_NAME[a]=$name ALARM_METRIC[a]=$metric ALARM_STAT[a]=$stat ALARM_CMP[a]=$cmp
    ALARM_THRESHOLD[a]=$HUNDREDTHS ALARM_N[a]=$n ALARM_M[a]=$m ALARM_TREAT[a]=$treat ALARM_ACTION[a]=$action
    PP[$a:0]=0 PB[$a:0]=0
    a=$((a + 1))
  done
  compile_rule
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

# The state of alarm $1 at the end of minute $2 under reading $3 (an index into READINGS), given its
# state $4.
alarm_state() {
  local a=$1 t=$2 delay=${READING_DELAY[$3]} keep=${READING_KEEP[$3]} previous=$4 lo hi present breaches n
  n=${ALARM_N[a]}
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

# The composite rule as a bash arithmetic expression over IN_ALARM (1 for an alarm in ALARM, by index),
# built once: ALARM(silent) AND NOT ALARM(stopped) -> IN_ALARM[1] && ! IN_ALARM[3].
compile_rule() {
  local a expression=$DEAD_CHECK_RULE
  for a in "${!ALARM_NAME[@]}"; do
    expression=${expression//"ALARM(${ALARM_NAME[a]})"/"IN_ALARM[$a]"}
  done
  expression=${expression//AND/'&&'}
  expression=${expression//OR/'||'}
  expression=${expression//NOT/'!'}
  [[ $expression =~ ^([01\&\|\!\ \(\)]|IN_ALARM\[[0-9]+\])+$ ]] || fail_with "cannot evaluate the rule: $expression"
  RULE_EXPRESSION=$expression
}

# Evaluates minute $1 under reading $2 (an index into READINGS; states kept in STATES_$2). Sets ACTION
# to the stop the backstop starts this minute: verdict (the alarm's EC2 stop action), dead-check
# (EventBridge), or ''.
model_step() {
  local t=$1 run=$2 a name was
  local -n states=STATES_$run
  ACTION=''
  for a in "${!ALARM_NAME[@]}"; do
    name=${ALARM_NAME[a]}
    was=${states[$name]}
    alarm_state "$a" "$t" "$run" "$was"
    # shellcheck disable=SC2004 # an associative array behind a nameref
    states[$name]=$STATE
    # shellcheck disable=SC2034 # read by RULE_EXPRESSION
    if [[ $STATE == ALARM ]]; then IN_ALARM[a]=1; else IN_ALARM[a]=0; fi
    if [[ $STATE == ALARM && $was != ALARM && ${ALARM_ACTION[a]} == stop ]]; then
      ACTION=verdict
    fi
  done
  was=${states[composite]}
  states[composite]=OK
  ((RULE_EXPRESSION)) && states[composite]=ALARM
  [[ ${states[composite]} == ALARM && $was != ALARM && -z $ACTION ]] && ACTION=dead-check
  return 0
}

# ---------------------------------------------------------------------------------------------
# The box
# ---------------------------------------------------------------------------------------------

# Activities: "name first last" (minutes, inclusive), split once per scenario into PLAN_NAME, PLAN_FIRST
# and PLAN_LAST; events ("name first [last]") likewise.
declare -ga PLAN=() PLAN_NAME=() PLAN_FIRST=() PLAN_LAST=() EVENT_NAME=() EVENT_FIRST=() EVENT_LAST=()
EVENTS=()

split_plan() {
  local entry name first last
  PLAN_NAME=() PLAN_FIRST=() PLAN_LAST=() EVENT_NAME=() EVENT_FIRST=() EVENT_LAST=()
  for entry in "${PLAN[@]}"; do
    read -r name first last <<<"$entry"
    PLAN_NAME+=("$name") PLAN_FIRST+=("$first") PLAN_LAST+=("$last")
  done
  for entry in "${EVENTS[@]}"; do
    read -r name first last <<<"$entry"
    EVENT_NAME+=("$name") EVENT_FIRST+=("$first") EVENT_LAST+=("${last:-999999}")
  done
}

# What minute $1 looks like on the box, for the check that may read it: MINUTE_LINES (command lines),
# MINUTE_MEMORY, MINUTE_NEURON ('', burst or a utilization), MINUTE_JOBS (squeue's lines on a cluster head),
# MINUTE_NODES (sinfo's lines: its two compute nodes, powered down unless up), MINUTE_SLURMCTLD (up or down),
# and the counters of /proc, advanced here.
# The fixture files are written only when a check runs (write_minute): a check reads the last minute's
# files, and every minute's counters are in them. CPU_HUNDREDTHS is the model's CPU datapoint.
live_minute() {
  local minute=$1 i name cpu=1 network=1 disk=0
  MINUTE_LINES=() MINUTE_MEMORY=6 MINUTE_NEURON='' MINUTE_JOBS=() MINUTE_SLURMCTLD=up
  MINUTE_NODES=('demo-1|idle+cloud+powered_down' 'demo-2|idle+cloud+powered_down')
  for i in "${!PLAN_NAME[@]}"; do
    ((minute >= PLAN_FIRST[i] && minute <= PLAN_LAST[i])) || continue
    name=${PLAN_NAME[i]}
    case $name in
      ssh) MINUTE_LINES+=('sshd: ubuntu [priv]' 'sshd: ubuntu@pts/0' '-bash') ;;
      typing) MINUTE_LINES+=('sshd: ubuntu@pts/0' '-bash') && TYPED_AT=$((TS_NOW + 60)) ;;
      vscode) MINUTE_LINES+=('sshd: ubuntu [priv]' 'sshd: ubuntu@notty'
        'sh /home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/bin/code-server --connection-token=x') ;;
      vscode-tunnel) MINUTE_LINES+=('/home/ubuntu/.vscode/cli/code tunnel --accept-server-license-terms') ;;
      mosh) MINUTE_LINES+=('mosh-server new -s -c 256 -l LANG=en_US.UTF-8') ;;
      jupyter) MINUTE_LINES+=('/opt/conda/bin/python3 -m ipykernel_launcher -f /run/user/1000/jupyter/kernel-1.json') ;;
      cell) cpu=$((cpu > 60 ? cpu : 60)) ;;
      tmux) MINUTE_LINES+=('tmux: server') ;;
      zellij) MINUTE_LINES+=('zellij --server /run/user/1000/zellij/0.40.1/work') ;;
      dtach) MINUTE_LINES+=('dtach -n /tmp/job.sock bash') ;;
      ssm) MINUTE_LINES+=('/snap/amazon-ssm-agent/11320/ssm-session-worker ubuntu-0a1b2c i-0123456789abcdef0' 'sh') ;;
      run-command) MINUTE_LINES+=('/snap/amazon-ssm-agent/11320/ssm-document-worker 5f1c0a52 aws:runShellScript' 'bash _script.sh') ;;
      neuron-train) MINUTE_LINES+=('python3 my_experiment.py --steps 10000') && cpu=2 MINUTE_NEURON=85 ;;
      neuron-hold) MINUTE_LINES+=('python3 my_experiment.py --steps 10000') && MINUTE_NEURON=0 ;;
      neuron-burst) MINUTE_LINES+=('python3 serve_model.py') && MINUTE_NEURON=burst ;;
      finetune) MINUTE_LINES+=('/opt/venv/bin/python3 -u /home/ubuntu/finetuning.py --lr 3e-4') && cpu=2 ;;
      torch-run) MINUTE_LINES+=('python3 -m torch.distributed.run --nproc_per_node=2 main.py') && cpu=2 ;;
      deepspeed) MINUTE_LINES+=('deepspeed --num_gpus 2 main.py') && cpu=2 ;;
      torchrun-32) MINUTE_LINES+=('torchrun --nproc_per_node=32 main.py') && cpu=$((cpu > 2 ? cpu : 2)) ;;
      one-vcpu) cpu=$((cpu > 1 ? cpu : 1)) ;;
      hung-job) MINUTE_LINES+=('python3 train.py --resume') && cpu=0 ;;
      compile) MINUTE_LINES+=('make -j8') && cpu=60 ;;
      download) network=2000 ;;
      slow-download) MINUTE_LINES+=('curl -O https://example.com/weights.bin') && network=50 ;;
      disk-job) MINUTE_LINES+=('python3 shard_dataset.py') && disk=5000 ;;
      memory) MINUTE_MEMORY=90 ;;
      tensorboard) MINUTE_LINES+=('tensorboard --logdir runs/train') ;;
      preauth) MINUTE_LINES+=('sshd: unknown [preauth]' 'sshd-session: root [preauth]') ;;
      # Touched as the minute starts, so now rather than before the next check.
      keepalive) ((minute == PLAN_FIRST[i])) && mkdir -p "$TS_STATE_DIR" && touch_keepalive ;;
      quiet) cpu=0 ;;
      # A cluster head's queue (squeue lines as Slurm prints them), and its slurmctld gone.
      slurm-running) MINUTE_JOBS+=('RUNNING 4294901759 None') ;;
      slurm-pending) MINUTE_JOBS+=('PENDING 4294901758 ReqNodeNotAvail, UnavailableNodes:demo-[1-2]') ;;
      slurm-held) MINUTE_JOBS+=('PENDING 0 JobHeldUser') ;;
      # Both compute nodes up (allocated or idle, not yet powered down by Slurm).
      nodes-up) MINUTE_NODES=('demo-1|idle+cloud' 'demo-2|idle+cloud') ;;
      slurmctld-down) MINUTE_SLURMCTLD=down ;;
      *) fail_with "unknown activity $name" ;;
    esac
  done
  advance_counters "$cpu" "$network" "$disk"
  CPU_HUNDREDTHS=$((cpu * 100))
}

# Writes what the check reads for the minute live_minute last set up: the process table, the neuron-monitor
# reports, /proc, and the terminal's access time at the last minute someone typed.
write_minute() {
  processes "${MINUTE_LINES[@]}"
  # shellcheck disable=SC2034 # read by write_proc (test_helper.bash)
  MEM_USED_PERCENT=$MINUTE_MEMORY
  if [[ $MINUTE_NEURON == burst ]]; then
    { report_with 0; report_with 72; report_with 0; } >"$TS_NEURON_REPORTS"
  elif [[ -n $MINUTE_NEURON ]]; then
    report_with "$MINUTE_NEURON" >"$TS_NEURON_REPORTS"
  else
    printf '%s\n' '{"neuron_runtime_data":[],"instance_info":{"error":""}}' >"$TS_NEURON_REPORTS"
  fi
  queue "${MINUTE_JOBS[@]}"
  nodes "${MINUTE_NODES[@]}"
  if [[ $MINUTE_SLURMCTLD == down ]]; then
    stub_does squeue exit 1
    stub_does squeue err 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)'
  else
    rm -f "$TS_FAKE/squeue.exit" "$TS_FAKE/squeue.err"
  fi
  write_proc
  if [[ -n $TYPED_AT && $TYPED_AT != "$TYPED_WRITTEN" ]]; then
    TS_NOW=$TYPED_AT type_on_terminal 0
    TYPED_WRITTEN=$TYPED_AT
  fi
}

# Whether event $1 (e.g. "dead") covers minute $2.
event_at() {
  local i
  for i in "${!EVENT_NAME[@]}"; do
    [[ ${EVENT_NAME[i]} == "$1" ]] && (($2 >= EVENT_FIRST[i] && $2 <= EVENT_LAST[i])) && return 0
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
  local m=$1 line value='' stop_fails=no reason
  if event_at dead "$m"; then
    return 0
  fi
  if [[ $SETTLED == yes && -z ${FINE[$m]-} ]] && ((m % COARSE_MINUTES != 0 && m != LAST_MINUTE)); then
    V[$m]=$LAST_VERDICT
    return 0
  fi
  write_minute
  if event_at outage "$m"; then stub_does aws exit 255; else stub_does aws exit 0; fi
  if event_at stop-fails "$m"; then stop_fails=yes && stub_does shutdown exit 1; else stub_does shutdown exit 0; fi
  : >"$TS_FAKE/calls"
  run_check
  printf '%4d | %s\n' "$m" "${output%% | *}" >>"$TRANSCRIPT"
  while read -r line; do
    # The alarms see a verdict only in the box's own namespace, with its own instance ID.
    [[ $line == 'begin aws cloudwatch put-metric-data '*" --namespace $OWN_NAMESPACE --metric-name StopVerdict --dimensions InstanceId=$BOX_INSTANCE_ID "* ]] &&
      value=${line##* }
    [[ $line == 'begin shutdown -h now'* && $stop_fails == no ]] && BOX_STOPPED_AT=$m
  done <"$TS_FAKE/calls"
  event_at outage "$m" && value=''
  V[$m]=$value
  LAST_VERDICT=$value
  # The decision, without warnings before it or the minutes counted after the reason.
  reason=${output%% | *}
  reason=${reason##*$'\n'}
  reason=${reason%%;*}
  [[ $reason == 'idle '*': dry run, would stop the box now' ]] && reason='dry run, would stop the box now'
  if [[ $reason == "$LAST_REASON" ]] && [[ $SETTLED == yes || $LAST_CHECKED == $((m - 1)) ]] &&
    [[ $reason == 'active ('* || $reason == 'another check held '* || $reason == 'dry run, '* ]]; then
    SETTLED=yes
  else
    SETTLED=no
  fi
  LAST_REASON=$reason LAST_CHECKED=$m
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
  split_plan
  local vcpus=${VCPUS:-8}
  setup_box "$BATS_TEST_TMPDIR"
  export TS_NEURON_REPORTS=$BOX/neuron-reports.jsonl
  # squeue and sinfo are there on every simulated machine; only a cluster head (CONF DETECT_SLURM true) calls them.
  install_stub "$BOX/bin" squeue sinfo
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
      model_step "$m" "$r"
      if [[ -n $ACTION ]]; then FIRED_WHILE_STOPPED+=" $ACTION@-$((stopped_before - m + 1))"; fi
    done
  done
  if event_at hung 1 || [[ ${#EVENTS[@]} -gt 0 && " ${EVENTS[*]} " == *' hung '* ]]; then conf CHECK_INTERVAL_SECONDS 1; fi
  LAST_VERDICT='' BOX_STOPPED_AT='' TYPED_AT='' TYPED_WRITTEN='' SETTLED=no LAST_REASON='' LAST_CHECKED=''
  LAST_MINUTE=$duration
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
      model_step $((m + OFFSET)) "$r"
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
      model_step "$m" "$r"
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

# One line per scenario for the figures: kind, measured minutes, name, in the bats run's own directory.
FIGURES_FILE=${BATS_RUN_TMPDIR:-/tmp}/trainium-spot-timeline-figures
record_figure() {
  local r worst=0
  for ((r = 0; r < ${#READINGS[@]}; r++)); do
    [[ -n ${STOP_MINUTES[r]} ]] && ((STOP_MINUTES[r] - ${FIGURE_FROM:-0} > worst)) && worst=$((STOP_MINUTES[r] - ${FIGURE_FROM:-0}))
  done
  printf '%s|%s|%s|%s\n' "${FIGURE-}" "$1" "$worst" "$BATS_TEST_DESCRIPTION" >>"$FIGURES_FILE"
}
