# A simulated day on a trn1 box: the real idle check runs once per simulated minute against
# fixtures that follow a schedule of activities, with the fake clock advancing a minute each time.
# Loaded by timeline.bats after test_helper.
# shellcheck shell=bash
# shellcheck disable=SC2154 # status and output are set by bats' `run`

# "first last activity": the activity is going on in every minute from first to last, inclusive;
# minute m is the check at m minutes of uptime. Gaps of one minute are deliberate: a single idle
# check must not stop the box.
DAY_SCHEDULE=(
  '3 20 ssh'              # logs in during the boot grace, works in a terminal
  '18 28 vscode'          # VS Code Remote-SSH: sshd: ubuntu@notty, no pts; the terminal closed at 20
  '26 45 neuron-training' # a job no pattern knows, CPU at 2 %, NeuronCores at 85 %
  '47 60 tmux'            # a detached tmux session left running (minute 46 is idle)
  '62 68 ssm'             # a Session Manager shell (minute 61 is idle)
  '66 75 compile'         # a build at 60 % CPU
  '76 80 download'        # a 2 MB/s data set download
  '81 140 keepalive'      # touched at 81, which keeps the box up for keepaliveMinutes (60)
  '135 145 memory'        # 90 % of memory in use
  '146 155 torchrun'      # torchrun at 3 % CPU, NeuronCores idle while it loads data
)
DAY_LENGTH_MINUTES=240

# The activities going on at minute $1, space-separated.
activities_at() {
  local entry first last activity found=''
  for entry in "${DAY_SCHEDULE[@]}"; do
    read -r first last activity <<<"$entry"
    (($1 >= first && $1 <= last)) && found+=" $activity"
  done
  printf '%s' "${found# }"
}

last_active_minute() {
  local entry first last latest=0
  for entry in "${DAY_SCHEDULE[@]}"; do
    read -r first last _ <<<"$entry"
    ((last > latest)) && latest=$last
  done
  printf '%s' "$latest"
}

# Sets the fixtures for one minute of the given activities, then lets the minute pass.
live_minute() {
  local minute=$1 activity cpu=1 network=1 memory=6 utilization='' established=''
  local -a command_lines=()
  for activity in $2; do
    case $activity in
      ssh) command_lines+=('sshd: ubuntu [priv]' 'sshd: ubuntu@pts/0' '-bash')
        established='0 0 10.0.1.17:22 203.0.113.7:53422' ;;
      vscode) command_lines+=('sshd: ubuntu [priv]' 'sshd: ubuntu@notty'
        'sh /home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/bin/code-server --connection-token=x') ;;
      neuron-training) command_lines+=('python3 my_experiment.py --steps 10000'); cpu=2; utilization=85 ;;
      tmux) command_lines+=('tmux: server') ;;
      ssm) command_lines+=('/snap/amazon-ssm-agent/11320/ssm-session-worker ubuntu-0a1b2c i-0123456789abcdef0' 'sh') ;;
      compile) command_lines+=('make -j8'); cpu=60 ;;
      download) command_lines+=('/usr/bin/python3 /usr/bin/aws s3 sync s3://datasets/imagenet /data'); network=2000 ;;
      keepalive) ;;
      memory) memory=90 ;;
      torchrun) command_lines+=('torchrun --nproc_per_node=2 train.py'); cpu=3; utilization=0 ;;
      *) fail_with "unknown activity $activity" ;;
    esac
  done
  processes "${command_lines[@]}"
  memory_in_use "$memory"
  stub_does ss out "$established"
  if [[ -n $utilization ]]; then
    neuron_monitor_reports "$utilization"
  else
    stub_does neuron-monitor out '{"neuron_runtime_data":[],"instance_info":{"error":""}}'
  fi
  tick "$cpu" "$network"
  # The user touches the file in the first minute of a keepalive period.
  if [[ " $2 " == *' keepalive '* && " $(activities_at $((minute - 1))) " != *' keepalive '* ]]; then
    touch_keepalive
  fi
}

# Runs the day until the box stops. Sets SHUTDOWN_MINUTE (empty if it never stopped) and writes
# "minute | activities | decision" lines to $DAY_TRANSCRIPT.
simulate_day() {
  export DAY_TRANSCRIPT=$BOX/day.txt SHUTDOWN_MINUTE=''
  reboot_box 0
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  local minute activities
  for ((minute = 1; minute <= DAY_LENGTH_MINUTES; minute++)); do
    activities=$(activities_at "$minute")
    live_minute "$minute" "$activities"
    run_check
    [[ $status -eq 0 ]] || fail_with "minute $minute: the check failed"
    printf '%3d | %-24s | %s\n' "$minute" "$activities" "${output%% | *}" >>"$DAY_TRANSCRIPT"
    if [[ $(shutdown_calls) != 0 ]]; then
      export SHUTDOWN_MINUTE=$minute
      return 0
    fi
  done
}

# The decision at minute $1, as the transcript has it.
decision_at() {
  sed -n "s/^ *$1 | [^|]* | //p" "$DAY_TRANSCRIPT"
}
