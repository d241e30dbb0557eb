#!/usr/bin/env bats
# The whole stop decision, minute by minute (simulator.bash): the real idle check on a fake box and the
# model of the CloudWatch backstop run together over what people and jobs do, and what goes wrong. Each
# scenario asserts the minute the box stops, and who stopped it, or that it never stops, under every
# reading of CloudWatch's missing-data rules. Minute m is the check at the end of the m-th minute; the
# box has been up for an hour unless it boots with the scenario. Defaults: idleMinutes 3,
# maxIdleSessionHours 3, silentMinutes 10, lowCpuMinutes 25, 0.5 busy vCPU.
# The last test prints the figures the README quotes.
# shellcheck disable=SC2034 # scenario settings (EVENTS, CONF, VCPUS, ...) are read by simulator.bash

setup() {
  load test_helper
  load simulator
  EVENTS=() WATCH=() CONF=()
  unset VCPUS BOOT_AT_ZERO STOPPED_BEFORE FIGURE FIGURE_FROM FIRED_WHILE_STOPPED
}

# work <activity>... for 45 minutes, then nothing: never stopped while it lasts, stopped by the box
# 3 minutes after it ends.
work_for_45_minutes() {
  FIGURE=work FIGURE_FROM=45
  local activity plan=()
  for activity in "$@"; do plan+=("$activity 1 45"); done
  simulate 60 "${plan[@]}"
  expect_stop 48 48 box
}

# ---------------------------------------------------------------------------------------------
# Work that must never be stopped (each ends at minute 45; the box stops itself at 48)
# ---------------------------------------------------------------------------------------------

@test "work: reading code over SSH, no typing, CPU at 1 %" { work_for_45_minutes ssh; }
@test "work: typing in a terminal over SSH" { work_for_45_minutes typing; }
@test "work: editing in VS Code Remote-SSH" { work_for_45_minutes vscode; }
@test "work: editing through a VS Code tunnel (code tunnel)" { work_for_45_minutes vscode-tunnel; }
@test "work: a mosh session" { work_for_45_minutes mosh; }
@test "work: a Session Manager shell" { work_for_45_minutes ssm; }
@test "work: a job sent with SSM Run Command (ssm-document-worker)" { work_for_45_minutes run-command; }
@test "work: a zellij session" { work_for_45_minutes zellij; }
@test "work: a dtach session" { work_for_45_minutes dtach; }
@test "work: NeuronCores busy with host CPU at 2 %, under a script no pattern knows" { work_for_45_minutes neuron-train; }
@test "work: bursty inference that a 1-second sample would miss" { work_for_45_minutes neuron-burst; }
@test "work: finetuning.py at 2 % CPU" { work_for_45_minutes finetune; }
@test "work: python -m torch.distributed.run at 2 % CPU" { work_for_45_minutes torch-run; }
@test "work: deepspeed at 2 % CPU" { work_for_45_minutes deepspeed; }
@test "work: a 2 MB/s download" { work_for_45_minutes download; }
@test "work: a 50 KB/s download" { work_for_45_minutes slow-download; }
@test "work: a disk-bound job at 1 % CPU" { work_for_45_minutes disk-job; }
@test "work: an unattended build in a detached tmux" { work_for_45_minutes tmux compile; }
@test "work: an unattended Neuron job in a detached tmux" { work_for_45_minutes tmux neuron-train; }

# An idle 128-vCPU box runs well under 1 % CPU: "quiet" after the work.
@test "work: one busy vCPU on a trn1.32xlarge (1 % of 128 vCPUs)" {
  FIGURE=work FIGURE_FROM=45 VCPUS=128
  simulate 60 'one-vcpu 1 45' 'quiet 46 60'
  expect_stop 48 48 box
}

@test "work: a 32-worker torchrun at 2 % of a trn1.32xlarge" {
  FIGURE=work FIGURE_FROM=45 VCPUS=128
  simulate 60 'torchrun-32 1 45' 'quiet 46 60'
  expect_stop 48 48 box
}

@test "work: a Jupyter notebook between cells, one cell run at minute 10" {
  FIGURE=work FIGURE_FROM=45
  simulate 60 'jupyter 1 45' 'cell 10 11' 'typing 44 45'
  expect_stop 48 48 box
}

@test "work: a Neuron runtime holding its cores at 0 % (checkpointing) between busy stretches" {
  FIGURE=work FIGURE_FROM=45
  simulate 60 'neuron-train 1 5' 'neuron-hold 6 40' 'neuron-train 41 45'
  expect_stop 48 48 box
}

@test "work: a job kept alive by the keep-alive file (touched once, 60 minutes)" {
  FIGURE=work FIGURE_FROM=60 WATCH=(61)
  simulate 70 'keepalive 1 1' 'quiet 1 70'
  expect_stop 63 63 box
}

@test "work: a 7-minute publishing outage while someone reads code at 1 % CPU" {
  FIGURE=work FIGURE_FROM=45
  EVENTS=('outage 30 36')
  simulate 60 'ssh 1 45'
  expect_stop 48 48 box
}

@test "work: a 30-minute publishing outage during a busy build" {
  FIGURE=work FIGURE_FROM=45
  EVENTS=('outage 5 34')
  simulate 60 'compile 1 45'
  expect_stop 48 48 box
}

@test "work: a just-started box after an hour stopped (backstop alarms left in ALARM), SSH work from boot" {
  FIGURE=work FIGURE_FROM=40
  BOOT_AT_ZERO=yes STOPPED_BEFORE=60
  simulate 50 'ssh 1 40'
  expect_stop 43 43 box
}

@test "work: the simulated day: SSH, VS Code, Neuron training, tmux, SSM, a build, a download, keep-alive, memory, torchrun" {
  FIGURE=work FIGURE_FROM=155
  BOOT_AT_ZERO=yes
  simulate 170 'ssh 3 20' 'vscode 18 28' 'neuron-train 26 45' 'tmux 47 60' 'ssm 62 68' 'compile 66 75' \
    'download 76 80' 'keepalive 81 81' 'quiet 81 140' 'memory 135 145' 'torch-run 146 155'
  expect_stop 158 158 box
}

# ---------------------------------------------------------------------------------------------
# Idle boxes: stopped soon after the last activity, and never kept up for ever
# ---------------------------------------------------------------------------------------------

@test "idle: a box idle from boot stops after the boot grace and idleMinutes" {
  FIGURE=idle FIGURE_FROM=4
  BOOT_AT_ZERO=yes WATCH=(5)
  simulate 20 'quiet 1 20'
  expect_stop 7 7 box
}

@test "idle: a build that ends at minute 20 stops the box at minute 23" {
  FIGURE=idle FIGURE_FROM=20
  simulate 30 'compile 1 20'
  expect_stop 23 23 box
}

@test "idle: pre-auth connections to port 22 (scanners) keep nothing up" {
  FIGURE=idle FIGURE_FROM=1
  simulate 20 'preauth 1 20'
  expect_stop 4 4 box
}

@test "idle: tensorboard --logdir runs/train is no training job" {
  FIGURE=idle FIGURE_FROM=1
  simulate 20 'tensorboard 1 20'
  expect_stop 4 4 box
}

@test "idle: dry run never stops, and publishes no stop for the backstop to act on" {
  CONF=('DRY_RUN true')
  simulate 40 'quiet 1 40'
  expect_no_stop
}

# Presence only, no work or input since minute 1: it counts for maxIdleSessionHours (180 min).
bounded() {
  FIGURE=bounded FIGURE_FROM=1
  WATCH=(180)
  simulate 190 "$1 1 190"
  expect_stop 183 183 box
}

@test "bounded: an idle Jupyter kernel stops counting after 3 hours" { bounded jupyter; }
@test "bounded: a detached idle tmux stops counting after 3 hours" { bounded tmux; }
@test "bounded: an idle VS Code connection stops counting after 3 hours" { bounded vscode; }
@test "bounded: an idle SSH connection stops counting after 3 hours" { bounded ssh; }
@test "bounded: a hung job at 0 % stops counting after 3 hours" { bounded hung-job; }
@test "bounded: memory held by leftovers stops counting after 3 hours" { bounded memory; }

@test "bounded: maxIdleSessionHours 0 lets an idle tmux count for ever, as asked" {
  CONF=('MAX_IDLE_SESSION_HOURS 0')
  WATCH=(180)
  simulate 200 'tmux 1 200'
  expect_no_stop
}

# ---------------------------------------------------------------------------------------------
# A cluster head (idle.detectors.slurm on): the queue is work, a job the user forgot is not, and a
# head whose slurmctld is gone still stops itself. Its CPU stays at 0 %, the backstop's worst case.
# ---------------------------------------------------------------------------------------------

@test "head: a job pending 4 hours for capacity, then running an hour: never stopped; stopped 3 min after the queue empties" {
  FIGURE=work FIGURE_FROM=300
  CONF=('DETECT_SLURM true')
  simulate 320 'slurm-pending 1 240' 'slurm-running 241 300' 'quiet 1 320'
  expect_stop 303 303 box
}

@test "head: a job ends at minute 30, its nodes stay up until Slurm powers them down at 42: stopped at 45, never before" {
  FIGURE=work FIGURE_FROM=42 WATCH=(33 42 44)
  CONF=('DETECT_SLURM true')
  simulate 60 'slurm-running 1 30' 'nodes-up 1 42' 'quiet 1 60'
  expect_stop 45 45 box
}

@test "head: a held job the user forgot stops counting after maxIdleSessionHours" {
  FIGURE=bounded FIGURE_FROM=1 WATCH=(180)
  CONF=('DETECT_SLURM true')
  simulate 190 'slurm-held 1 190' 'quiet 1 190'
  expect_stop 183 183 box
}

@test "head: slurmctld gone after a job (squeue fails): kept up maxIdleSessionHours after the job, then the head stops itself" {
  FIGURE=bounded FIGURE_FROM=30 WATCH=(210)
  CONF=('DETECT_SLURM true')
  simulate 230 'slurm-running 1 30' 'slurmctld-down 31 230' 'quiet 1 230'
  expect_stop 212 212 box
}

@test "head: the same queue on a box (idle.detectors.slurm off) keeps nothing up" {
  FIGURE=idle FIGURE_FROM=1
  simulate 20 'slurm-running 1 20'
  expect_stop 4 4 box
}

# ---------------------------------------------------------------------------------------------
# A dead or hung check, a failing shutdown: the backstop
# ---------------------------------------------------------------------------------------------

@test "dead: a box whose check never runs stops after lowCpuMinutes of low CPU" {
  FIGURE=dead FIGURE_FROM=0
  EVENTS=('dead 1')
  simulate 40 'quiet 1 40'
  expect_stop 26 26 dead-check-alarm
}

@test "dead: the check dies during a busy build; the box stops 26 minutes after the build" {
  FIGURE=dead FIGURE_FROM=40
  EVENTS=('dead 20')
  simulate 80 'compile 1 40'
  expect_stop 66 66 dead-check-alarm
}

@test "dead: the check hangs (holds its lock) during an idle SSH session at 1 % CPU" {
  FIGURE=dead FIGURE_FROM=30
  EVENTS=('hung 30')
  simulate 60 'ssh 1 60'
  expect_stop 40 40 dead-check-alarm
}

@test "dead: no check on a trn1.32xlarge with one busy vCPU for an hour: not stopped while it works" {
  FIGURE=dead FIGURE_FROM=60
  VCPUS=128
  EVENTS=('dead 1')
  simulate 100 'one-vcpu 1 60' 'quiet 61 100'
  expect_stop 86 86 dead-check-alarm
}

@test "dead: shutdown fails on the box; the verdict alarm stops it" {
  FIGURE=stuck FIGURE_FROM=4
  EVENTS=('stop-fails 1')
  simulate 20 'quiet 1 20'
  expect_stop 5 7 verdict-alarm
}

# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

@test "figures: idle to stopped <= 5 min, no false stop of any work, a dead check stops an idle box <= 30 min" {
  [[ -s $FIGURES_FILE ]] || skip 'run the whole file for the figures'
  local kind expected worst name count=0 work=0 idle_max=0 dead_max=0 bounded_max=0
  while IFS='|' read -r kind expected worst name; do
    count=$((count + 1))
    case $kind in
      work) work=$((work + 1)) && ((worst > idle_max)) && idle_max=$worst ;;
      idle) ((worst > idle_max)) && idle_max=$worst ;;
      dead) ((worst > dead_max)) && dead_max=$worst ;;
      bounded) ((worst > bounded_max)) && bounded_max=$worst ;;
    esac
  done <"$FIGURES_FILE"
  {
    echo "# timeline: $count scenarios under ${#READINGS[@]} readings of CloudWatch's missing-data rules"
    echo "# timeline: idle box stopped at most $idle_max min after the last activity"
    echo "# timeline: false stops: 0 of $work work scenarios (each also stops 3 min after its work ends)"
    echo "# timeline: a dead or hung check still stops an idle box within $dead_max min"
    echo "# timeline: a session with no work or input: the box stopped $bounded_max min after the last work or input"
  } >&3
  ((idle_max <= 5)) || fail_with "idle to stopped took $idle_max min"
  ((dead_max <= 30)) || fail_with "a dead check took $dead_max min"
  ((count >= 40)) || fail_with "only $count scenarios ran"
}
