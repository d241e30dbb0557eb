#!/usr/bin/env bats
# Each signal alone keeps the box up; what only looks like work does not. Work signals (CPU, disk,
# network, NeuronCore and GPU use, keep-alive, terminal input) count for ever; signals that something
# is there (sessions, multiplexers, matched processes, a runtime holding its cores, memory) count until
# maxIdleSessionHours pass without work or input (sessions.bats).

setup() {
  load test_helper
  setup_box
}

# GIVEN a check a minute ago, WHEN the next one runs, THEN nothing counts.
expect_idle_check() {
  run_check
  tick
  run_check
  assert_success
  [[ $output == 'idle '* ]] || fail_with 'expected an idle check'
}

# GIVEN a check a minute ago, WHEN the next one runs after a minute of `tick $2 $3 $4`,
# THEN detector $1 alone keeps the box up, as work (ACTIVE) or as something there (PRESENT).
expect_only() {
  local kind=$1 name=$2
  shift 2
  run_check
  tick "$@"
  run_check
  assert_success
  case $kind in
    work) [[ $output == "active ($name) |"* ]] || fail_with "expected work from $name alone" ;;
    present) [[ $output == "active ($name; "* ]] || fail_with "expected $name alone to be present" ;;
  esac
  refute_stopped
}

@test "an idle Neuron DLAMI's own processes and quiet /proc look idle to every detector" {
  expect_idle_check
  local name
  for name in ssh ssm multiplexers neuron gpu processes cpu disk memory network keepalive terminal; do
    [[ $(verdict "$name") == "$name: idle ("* ]] || fail_with "$name: $(verdict "$name")"
  done
}

# ---------------------------------------------------------------------------------------------
# Sessions: SSH, mosh, VS Code, Session Manager, Run Command, multiplexers
# ---------------------------------------------------------------------------------------------

@test "ssh: an interactive SSH session is present" {
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu@pts/0' '-bash'
  expect_only present ssh
  [[ $(verdict ssh) == 'ssh: PRESENT (session: sshd: ubuntu@pts/0)' ]] || fail_with "$(verdict ssh)"
}

@test "regression: a VS Code Remote-SSH session without a terminal (sshd: ubuntu@notty) is present" {
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu@notty'
  expect_only present ssh
}

@test "ssh: OpenSSH 9.8+ session processes (sshd-session: ubuntu@notty) are present" {
  processes 'sshd-session: ubuntu [priv]' 'sshd-session: ubuntu@notty'
  expect_only present ssh
}

@test "ssh: a mosh session (mosh-server, no sshd left) is present" {
  processes 'mosh-server new -s -c 256 -l LANG=en_US.UTF-8'
  expect_only present ssh
}

@test "ssh: a VS Code tunnel (code tunnel) and its server are present" {
  processes '/home/ubuntu/.vscode/cli/code tunnel --accept-server-license-terms'
  expect_only present ssh
  processes '/home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/node /home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/out/server-main.js'
  tick
  run_check
  [[ $(verdict ssh) == 'ssh: PRESENT (session: '* ]] || fail_with "$(verdict ssh)"
}

@test "regression: pre-auth connections to port 22 (scanners) and the sshd listener are no session" {
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu [net]' 'sshd: unknown [preauth]' 'sshd-session: root [preauth]'
  stub_does ss out '0      0      10.0.1.17:22      203.0.113.7:53422'
  expect_idle_check
  ! grep -q '^begin ss' "$TS_FAKE/calls" || fail_with "port-22 connections were counted"
}

@test "ssm: a Session Manager session (ssm-session-worker) is present" {
  processes '/snap/amazon-ssm-agent/11320/ssm-session-worker ubuntu-0a1b2c3d4e5f i-0123456789abcdef0'
  expect_only present ssm
}

@test "ssm: a job sent with Run Command (ssm-document-worker) is present" {
  processes '/snap/amazon-ssm-agent/11320/ssm-document-worker 5f1c0a52-0d7e-4c1b-9b53-7a4f0f3f2f01 aws:runShellScript'
  expect_only present ssm
}

@test "multiplexers: tmux, screen, zellij and dtach sessions, even detached, are present" {
  local server
  for server in 'tmux: server' 'SCREEN -S training' 'zellij --server /run/user/1000/zellij/0.40.1/train' 'dtach -n /tmp/job.sock python3 x.py'; do
    processes "$server"
    tick
    run_check
    [[ $output == 'active (multiplexers; '* ]] || fail_with "$server: ${output%% | *}"
  done
}

# ---------------------------------------------------------------------------------------------
# Neuron, GPU
# ---------------------------------------------------------------------------------------------

@test "neuron: a neuronx-cc compile is present" {
  processes '/opt/aws_neuronx_venv_pytorch/bin/python3 /opt/aws_neuronx_venv_pytorch/bin/neuronx-cc compile --framework=XLA model.hlo'
  expect_only present neuron
}

@test "neuron: NeuronCore utilization from one neuron-monitor report is work" {
  neuron_monitor_reports 42.01
  expect_only work neuron
  [[ $(verdict neuron) == 'neuron: ACTIVE (NeuronCore utilization (highest of one neuron-monitor report) 42.0%)' ]] || fail_with "$(verdict neuron)"
  grep -q "^begin neuron-monitor -c $TS_STATE_DIR/neuron-monitor.json" "$TS_FAKE/calls"
}

@test "regression: a burst between two checks counts: the highest utilization of every report since the last check" {
  export TS_NEURON_REPORTS=$BOX/neuron-reports.jsonl
  run_check
  printf '%s\n' "$(report_with 0.1)" "$(report_with 63.5)" "$(report_with 0)" >"$TS_NEURON_REPORTS"
  tick
  run_check
  [[ $output == 'active (neuron) |'* ]] || fail_with 'expected work from neuron alone'
  [[ $(verdict neuron) == 'neuron: ACTIVE (NeuronCore utilization (highest of neuron-monitor since the previous check) 63.5%)' ]] ||
    fail_with "$(verdict neuron)"
  [[ ! -s $TS_NEURON_REPORTS ]] || fail_with "the check must empty the reports it read"
}

@test "regression: a Neuron runtime holding the cores at 0 % (checkpointing, loading) is present" {
  neuron_monitor_reports 0.2
  expect_only present neuron
  [[ $(verdict neuron) == 'neuron: PRESENT (NeuronCore utilization (highest of one neuron-monitor report) 0.5% < 1%, runtime holds NeuronCores)' ]] ||
    fail_with "$(verdict neuron)"
}

@test "neuron: a runtime that reports no NeuronCore in use is present" {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  printf '{"neuron_runtime_data":[{"pid":4242,"neuron_runtime_tag":"4242","error":"","report":{"neuroncore_counters":{"period":1.0,"neuroncores_in_use":{},"error":""}}}],"instance_info":{"error":""}}\n' \
    >"$TS_FAKE/neuron-monitor.out"
  expect_only present neuron
  [[ $(verdict neuron) == 'neuron: PRESENT (a Neuron runtime holds NeuronCores, none busy)' ]] || fail_with "$(verdict neuron)"
}

@test "neuron: neuron-monitor with no Neuron application running is nothing" {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  stub_does neuron-monitor out '{"neuron_runtime_data":[],"instance_info":{"error":""},"neuron_hardware_info":{"error":""}}'
  expect_idle_check
  [[ $(verdict neuron) == 'neuron: idle (no Neuron runtime running)' ]] || fail_with "$(verdict neuron)"
}

@test "gpu: GPU utilization at or above the threshold is work; below it is nothing" {
  install_stub "$BOX/bin" nvidia-smi
  stub_does nvidia-smi out $'0\n37'
  expect_only work gpu
  stub_does nvidia-smi out $'0\n4'
  tick
  run_check
  [[ $(verdict gpu) == 'gpu: idle (GPU utilization 4.0% < 5%)' ]] || fail_with "$(verdict gpu)"
}

# ---------------------------------------------------------------------------------------------
# Processes: the program and its script, not every argument
# ---------------------------------------------------------------------------------------------

@test "processes: the default patterns know the usual launchers and scripts, whatever their arguments" {
  local line
  for line in \
    'torchrun --nproc_per_node=32 train.py' \
    '/opt/venv/bin/python3 -m torch.distributed.run --nproc_per_node 2 main.py' \
    'python -m torch.distributed.launch main.py' \
    'deepspeed --num_gpus 2 main.py' \
    'accelerate launch main.py' \
    'neuron_parallel_compile torchrun --nproc_per_node=2 main.py' \
    '/opt/venv/bin/python3 -u /home/ubuntu/finetuning.py --lr 3e-4' \
    'python3 fine-tune-llama.py' \
    'python3 run_inference.py' \
    '/opt/conda/bin/python3.11 -m ipykernel_launcher -f /root/.local/share/jupyter/runtime/kernel-1.json' \
    'jupyter lab --no-browser'; do
    processes "$line"
    tick
    run_check
    [[ $(verdict processes) == 'processes: PRESENT ('* ]] || fail_with "$line: $(verdict processes)"
  done
}

@test "regression: no fake process can have a real PID, so none can pass for the check itself" {
  # The check leaves out its own PID and what runs under it. A fake that shared the check's real PID
  # vanished once in nine runs ("deepspeed --num_gpus 2 main.py: processes: idle"); failsafe.bats shows
  # that vanishing on purpose. 4194304 is PID_MAX_LIMIT of 64-bit Linux: pid_max can be set no higher.
  local pid_max_limit=4194304 pid_max pid ppid args
  read -r pid_max </proc/sys/kernel/pid_max
  processes 'deepspeed --num_gpus 2 main.py'
  while read -r pid ppid args; do
    ((pid > pid_max_limit && pid > pid_max)) ||
      fail_with "fake PID $pid ($args) is one a real process can have (pid_max $pid_max, at most $pid_max_limit)"
    ((ppid == 0 || ppid > pid_max_limit)) || fail_with "fake parent PID $ppid ($args) is one a real process can have"
  done <"$TS_FAKE/ps.out"
  run_check
  [[ $(verdict processes) == "processes: PRESENT ('^deepspeed( |\$)': deepspeed --num_gpus)" ]] || fail_with "$(verdict processes)"
}

@test "regression: an argument cannot make a process look like work, and ignorePatterns leave out tensorboard" {
  local line
  for line in 'tensorboard --logdir runs/train' '/usr/bin/python3 /usr/local/bin/tensorboard --logdir runs/train' \
    'less /var/log/train.log' 'vim train.py'; do
    processes "$line"
    tick
    run_check
    [[ $(verdict processes) == 'processes: idle (no process matches the 7 patterns)' ]] || fail_with "$line: $(verdict processes)"
  done
}

@test "regression: a training job at 2 % CPU waiting on the accelerator is present by its script's name" {
  processes 'python3 train.py --model llama --epochs 3'
  expect_only present processes 2
  [[ $(verdict processes) == "processes: PRESENT ('^python[0-9.]* [^ ]*(train|fine[-_]?tun|infer|serve)': python3 train.py)" ]] ||
    fail_with "$(verdict processes)"
}

# ---------------------------------------------------------------------------------------------
# CPU, disk, memory, network
# ---------------------------------------------------------------------------------------------

@test "cpu: busy CPU averaged over the interval is work" {
  expect_only work cpu 40
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 40.0%)' ]] || fail_with "$(verdict cpu)"
}

@test "cpu: one busy vCPU of 128 is work, though it is 1 % of the average" {
  # shellcheck disable=SC2034 # read by write_proc (test_helper.bash)
  VCPUS=128
  write_proc
  expect_only work cpu 1
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 1.0%, 1.2 of 128 vCPUs busy)' ]] || fail_with "$(verdict cpu)"
}

@test "regression: iowait is busy time: a disk-bound job at 1 % user CPU is work" {
  run_check
  tick 1
  # 20 % of the minute waiting on the disk.
  IDLE_JIFFIES=$((IDLE_JIFFIES - 1200))
  write_proc
  sed -i '1s/^cpu  \([0-9]*\) 0 \([0-9]*\) \([0-9]*\) 0 /cpu  \1 0 \2 \3 1200 /' "$BOX/proc/stat"
  run_check
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 21.0%)' ]] || fail_with "$(verdict cpu)"
}

@test "cpu: measures the interval since the previous check, not the time since boot" {
  run_check
  tick 90
  run_check
  assert_output_has 'active (cpu)'
  tick 2
  run_check
  assert_output_has 'idle 1/3 min'
}

@test "regression: disk reads and writes of whole disks are work; partitions and loop devices do not add" {
  expect_only work disk 1 1 300
  # 300 KB/s in whole 512-byte sectors.
  [[ $(verdict disk) == 'disk: ACTIVE (disk 299.9 KB/s)' ]] || fail_with "$(verdict disk)"
}

@test "memory: memory in use at or above the threshold is present" {
  memory_in_use 85
  expect_only present memory
}

@test "network: traffic above the threshold is work; loopback traffic does not count" {
  expect_only work network 1 2000
  [[ $(verdict network) == 'network: ACTIVE (network 2000.0 KB/s)' ]] || fail_with "$(verdict network)"
}

@test "regression: a slow download (50 KB/s) is work" {
  expect_only work network 1 50
}

# ---------------------------------------------------------------------------------------------
# Terminal input, keep-alive file
# ---------------------------------------------------------------------------------------------

@test "terminal: typing on any terminal since the previous check is work; an open terminal alone is not" {
  touch -a -d @1 "$TS_DEV_PTS/0"
  expect_idle_check
  type_on_terminal 0
  tick
  run_check
  [[ $output == 'active (terminal) |'* ]] || fail_with "${output%% | *}"
  tick
  run_check
  [[ $(verdict terminal) == 'terminal: idle (no input on 1 terminal(s))' ]] || fail_with "$(verdict terminal)"
}

@test "keepalive: touching the keep-alive file keeps the box up for keepaliveMinutes" {
  run_check
  touch_keepalive
  for _ in $(seq 59); do tick; done
  run_check
  assert_output_has 'active (keepalive)'
  tick
  run_check
  assert_output_has 'idle 1/3 min'
  [[ $(verdict keepalive) == 'keepalive: idle (touched 60 min ago)' ]] || fail_with "$(verdict keepalive)"
}

@test "regression: a clock step does not move the keep-alive: its age runs on the boot clock" {
  run_check
  tick
  touch_keepalive
  run_check
  # The wall clock jumps a day ahead; ten minutes pass on the boot clock.
  export TS_NOW=$((TS_NOW + 86400))
  for _ in $(seq 10); do tick; done
  run_check
  [[ $(verdict keepalive) == 'keepalive: ACTIVE (touched 600s ago, keeps the box up for 60 min)' ]] || fail_with "$(verdict keepalive)"
}

# ---------------------------------------------------------------------------------------------
# Slurm, on a cluster head: jobs that hold or want nodes are work, jobs that wait for a person are
# present. The queue lines are what `squeue --all --noheader --format='%T %Q %r'` of Debian's Slurm
# 22.05.8 printed for such jobs against a real slurmctld (held jobs have priority 0).
# ---------------------------------------------------------------------------------------------

@test "slurm: off by default, so a box never calls squeue, even where one is installed" {
  install_stub "$BOX/bin" squeue
  queue 'RUNNING 4294901759 None'
  expect_idle_check
  [[ $(verdict slurm) == 'slurm: off' ]] || fail_with "$(verdict slurm)"
  count_calls '^begin squeue'
  ((CALL_COUNT == 0)) || fail_with "squeue called $CALL_COUNT times"
}

@test "slurm: running, booting, completing and pending jobs are work, one bounded squeue call per check" {
  cluster_head
  queue 'RUNNING 4294901759 None'
  expect_only work slurm
  [[ $(verdict slurm) == 'slurm: ACTIVE (1 job running or queued, first: RUNNING)' ]] || fail_with "$(verdict slurm)"
  count_calls "^begin squeue --all --noheader --format=%T %Q %r$"
  ((CALL_COUNT == 2)) || fail_with "expected one squeue call per check: $(cat "$TS_FAKE/calls")"
  # The job as squeue lists it | as the log shows it.
  local entry job
  for entry in 'CONFIGURING 4294901759 None|CONFIGURING' 'COMPLETING 4294901759 None|COMPLETING' \
    'PENDING 4294901758 Resources|PENDING Resources' 'PENDING 4294901757 Priority|PENDING Priority' \
    'PENDING 4294901757 BeginTime|PENDING BeginTime' 'PENDING 4294901756 Dependency|PENDING Dependency' \
    'PENDING 4294901758 ReqNodeNotAvail, UnavailableNodes:demo-[1-2]|PENDING ReqNodeNotAvail, UnavailableNodes:demo-[1-2]'; do
    job=${entry%%|*}
    queue "$job"
    tick
    run_check
    [[ $output == 'active (slurm) |'* ]] || fail_with "$job: expected work from slurm alone"
    [[ $(verdict slurm) == "slurm: ACTIVE (1 job running or queued, first: ${entry#*|})" ]] || fail_with "$job: $(verdict slurm)"
  done
  refute_stopped
}

@test "slurm: held, suspended and never-runnable jobs wait for a person: present, not work" {
  cluster_head
  queue 'PENDING 0 JobHeldUser' 'PENDING 0 JobHeldAdmin' 'PENDING 0 job requeued in held state' \
    'PENDING 4294901756 DependencyNeverSatisfied' 'SUSPENDED 4294901759 None' 'REQUEUE_HOLD 0 JobHoldMaxRequeue'
  expect_only present slurm
  [[ $(verdict slurm) == 'slurm: PRESENT (6 jobs waiting for a person (held, suspended or never runnable), first: PENDING JobHeldUser)' ]] ||
    fail_with "$(verdict slurm)"
}

@test "slurm: a running job next to a held one is work, and the log counts both" {
  cluster_head
  queue 'PENDING 0 JobHeldUser' 'RUNNING 4294901759 None' 'PENDING 4294901758 Resources'
  expect_only work slurm
  [[ $(verdict slurm) == 'slurm: ACTIVE (2 jobs running or queued, first: RUNNING; 1 waiting for a person)' ]] ||
    fail_with "$(verdict slurm)"
}

@test "slurm: an empty queue, or only a federated job another cluster started (REVOKED), is nothing" {
  cluster_head
  expect_idle_check
  [[ $(verdict slurm) == 'slurm: idle (no Slurm jobs pending or running, 2 compute nodes powered down)' ]] || fail_with "$(verdict slurm)"
  queue 'REVOKED 4294901758 None'
  tick
  run_check
  [[ $output == 'idle '* ]] || fail_with 'expected an idle check'
}

@test "slurm: squeue failing (slurmctld down) is unsure, counted as present, with squeue's own message" {
  cluster_head
  stub_does squeue exit 1
  stub_does squeue err 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)'
  expect_only present slurm
  [[ $(verdict slurm) == 'slurm: UNSURE, counted as present (squeue failed: exit 1: slurm_load_jobs error: Unable to contact slurm controller (connect failure))' ]] ||
    fail_with "$(verdict slurm)"
}

# expect_cut_off COMMAND: with the Slurm command COMMAND hanging (slurmctld not answering), the check ends within the
# command timeout (1 s here), succeeds, calls the slurm detector unsure about it and keeps the head up.
expect_cut_off() {
  # shellcheck disable=SC2030,SC2031 # each @test is its own subshell: the export is for this test only
  export TS_COMMAND_TIMEOUT_SECONDS=1
  stub_does "$1" sleep 30
  local started=$SECONDS
  run_check
  assert_success
  ((SECONDS - started < 10)) || fail_with "the check took $((SECONDS - started)) s"
  [[ $(verdict slurm) == "slurm: UNSURE, counted as present ($1 failed: timed out after 1s)" ]] || fail_with "$(verdict slurm)"
  refute_stopped
}

@test "slurm: a squeue that hangs (slurmctld not answering) is cut off at the command timeout, unsure" {
  cluster_head
  expect_cut_off squeue
}

@test "slurm: an unknown state or a garbled line is unsure, unless another job is work" {
  cluster_head
  queue 'PLANNING 4294901758 None' 'PENDING 0 JobHeldUser'
  expect_only present slurm
  [[ $(verdict slurm) == "slurm: UNSURE, counted as present (unexpected squeue line 'PLANNING 4294901758 None')" ]] ||
    fail_with "$(verdict slurm)"
  queue 'garbled'
  tick
  run_check
  [[ $(verdict slurm) == "slurm: UNSURE, counted as present (unexpected squeue line 'garbled')" ]] || fail_with "$(verdict slurm)"
  queue 'PLANNING 4294901758 None' 'RUNNING 4294901759 None'
  tick
  run_check
  [[ $(verdict slurm) == 'slurm: ACTIVE (1 job running or queued, first: RUNNING)' ]] || fail_with "$(verdict slurm)"
}

# The nodes, one sinfo call beside squeue: a node without the POWERED_DOWN flag is an instance only this head
# can end. The lines are what `sinfo --all --noheader --Node --Format='NodeList:|,StateComplete:'` of Debian's
# Slurm 22.05.8 printed against a real slurmctld with CLOUD nodes (scontrol update state=power_up, drain, fail,
# a maintenance reservation, power_down_force).
@test "slurm: compute nodes not powered down are work, one bounded sinfo call beside squeue per check" {
  cluster_head
  nodes 'demo-1|idle+cloud' 'demo-2|idle+cloud+powered_down'
  expect_only work slurm
  [[ $(verdict slurm) == 'slurm: ACTIVE (1 compute node not powered down, first: demo-1 idle+cloud)' ]] || fail_with "$(verdict slurm)"
  count_calls "^begin sinfo --all --noheader --Node --Format=NodeList:\|,StateComplete:$"
  ((CALL_COUNT == 2)) || fail_with "expected one sinfo call per check: $(cat "$TS_FAKE/calls")"
  count_calls '^begin squeue '
  ((CALL_COUNT == 2)) || fail_with "expected one squeue call per check: $(cat "$TS_FAKE/calls")"
  # The node as sinfo lists it | as the log shows it: powering up (#), pending power down (!), powering down
  # (%), not responding, allocated, and drained while still up.
  local entry
  for entry in 'demo-1|idle+cloud+not_responding+powering_up' 'demo-1|idle+cloud+power_down' 'demo-1|idle+cloud+powering_down' \
    'demo-1|down+cloud+not_responding' 'demo-1|allocated+cloud' 'demo-1|idle+cloud+drain'; do
    nodes "$entry" 'demo-2|idle+cloud+powered_down'
    tick
    run_check
    [[ $output == 'active (slurm) |'* ]] || fail_with "$entry: expected work from slurm alone"
    [[ $(verdict slurm) == "slurm: ACTIVE (1 compute node not powered down, first: ${entry/|/ })" ]] || fail_with "$entry: $(verdict slurm)"
  done
  refute_stopped
}

@test "slurm: powered-down nodes are nothing, whatever else they are (drained, failed, in maintenance), each node once" {
  cluster_head
  # FAIL and a maintenance reservation hide the ~ of %T (sinfo shows them as "fail" and "maint"): the flags do not.
  nodes 'demo-1|idle+cloud+drain+powered_down' 'demo-2|idle+cloud+fail+powered_down' \
    'demo-3|idle+cloud+maintenance+powered_down+reserved' 'demo-4|down+cloud+powered_down' \
    'demo-4|down+cloud+powered_down'
  expect_idle_check
  [[ $(verdict slurm) == 'slurm: idle (no Slurm jobs pending or running, 4 compute nodes powered down)' ]] || fail_with "$(verdict slurm)"
}

@test "slurm: a running job and nodes up are both in the log; a held job beside a node up is work" {
  cluster_head
  queue 'RUNNING 4294901759 None'
  nodes 'demo-1|allocated+cloud' 'demo-2|idle+cloud'
  expect_only work slurm
  [[ $(verdict slurm) == 'slurm: ACTIVE (1 job running or queued, first: RUNNING; 2 compute nodes not powered down, first: demo-1 allocated+cloud)' ]] ||
    fail_with "$(verdict slurm)"
  queue 'PENDING 0 JobHeldUser'
  nodes 'demo-1|idle+cloud+power_down'
  tick
  run_check
  [[ $output == 'active (slurm) |'* ]] || fail_with 'expected work'
}

@test "slurm: sinfo failing or hanging is unsure, counted as present, unless the queue is work" {
  cluster_head
  stub_does sinfo exit 1
  stub_does sinfo err 'slurm_load_node error: Unable to contact slurm controller (connect failure)'
  expect_only present slurm
  [[ $(verdict slurm) == 'slurm: UNSURE, counted as present (sinfo failed: exit 1: slurm_load_node error: Unable to contact slurm controller (connect failure))' ]] ||
    fail_with "$(verdict slurm)"
  queue 'RUNNING 4294901759 None'
  tick
  run_check
  [[ $(verdict slurm) == 'slurm: ACTIVE (1 job running or queued, first: RUNNING)' ]] || fail_with "$(verdict slurm)"
  queue
  rm -f "$TS_FAKE/sinfo.exit" "$TS_FAKE/sinfo.err"
  tick
  expect_cut_off sinfo
}

@test "slurm: a garbled sinfo line is unsure; squeue failing skips sinfo (its answer could not stop the head)" {
  cluster_head
  nodes 'demo-1 idle+cloud+powered_down'
  expect_only present slurm
  [[ $(verdict slurm) == "slurm: UNSURE, counted as present (unexpected sinfo line 'demo-1 idle+cloud+powered_down|')" ]] ||
    fail_with "$(verdict slurm)"
  stub_does squeue exit 1
  : >"$TS_FAKE/calls"
  tick
  run_check
  count_calls '^begin sinfo'
  ((CALL_COUNT == 0)) || fail_with "sinfo called after squeue failed: $(cat "$TS_FAKE/calls")"
}

@test "slurm: switched on where squeue is not installed, it is nothing" {
  conf DETECT_SLURM true
  expect_idle_check
  [[ $(verdict slurm) == 'slurm: idle (squeue not installed)' ]] || fail_with "$(verdict slurm)"
}
