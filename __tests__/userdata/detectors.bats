#!/usr/bin/env bats
# Each detector alone keeps the box up; what only looks like work does not.

setup() {
  load test_helper
  setup_box
}

# GIVEN a check a minute ago, WHEN the next one runs, THEN it counts an idle check.
expect_idle_check() {
  run_check
  tick
  run_check
  assert_success
  [[ $output == 'idle '* ]] || fail_with 'expected an idle check'
}

# GIVEN a check a minute ago, WHEN the next one runs after a minute of `tick $2 $3`,
# THEN $1 alone keeps the box up.
expect_only_active() {
  run_check
  tick "${2:-1}" "${3:-1}"
  run_check
  assert_success
  assert_output_has "active ($1)"
  refute_stopped
  [[ $(idle_count) == 0 ]] || fail_with "idle count should be 0"
}

@test "an idle Neuron DLAMI's own processes and quiet /proc look idle to every detector" {
  expect_idle_check
  local name
  for name in ssh ssm multiplexers neuron gpu processes cpu memory network keepalive; do
    [[ $(verdict "$name") == "$name: idle ("* ]] || fail_with "$name: $(verdict "$name")"
  done
}

# ---------------------------------------------------------------------------------------------
# SSH
# ---------------------------------------------------------------------------------------------

@test "ssh: an interactive SSH session keeps the box up" {
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu@pts/0' '-bash'
  expect_only_active ssh
  [[ $(verdict ssh) == 'ssh: ACTIVE (SSH session: sshd: ubuntu@pts/0)' ]] || fail_with "$(verdict ssh)"
}

@test "regression: a VS Code Remote-SSH session without a terminal (sshd: ubuntu@notty) keeps the box up" {
  # No pts, nothing `who` would show; ss sees nothing either, so the process alone must do it.
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu@notty' \
    'sh /home/ubuntu/.vscode-server/cli/servers/Stable-abc/server/bin/code-server --connection-token=x'
  expect_only_active ssh
}

@test "ssh: OpenSSH 9.8+ session processes (sshd-session: ubuntu@notty) keep the box up" {
  processes 'sshd-session: ubuntu [priv]' 'sshd-session: ubuntu@notty'
  expect_only_active ssh
}

@test "ssh: an established connection on port 22 keeps the box up while no session process shows yet" {
  stub_does ss out '0      0      10.0.1.17:22      203.0.113.7:53422'
  expect_only_active ssh
  assert_output_has '1 established connection(s) on port 22'
}

@test "ssh: the sshd listener and a login still authenticating are not sessions" {
  processes 'sshd: ubuntu [priv]' 'sshd: ubuntu [net]' 'sshd: unknown [preauth]'
  expect_idle_check
}

# ---------------------------------------------------------------------------------------------
# Session Manager, tmux, screen
# ---------------------------------------------------------------------------------------------

@test "ssm: a Session Manager session (ssm-session-worker) keeps the box up" {
  processes '/snap/amazon-ssm-agent/11320/ssm-session-worker ubuntu-0a1b2c3d4e5f i-0123456789abcdef0'
  expect_only_active ssm
}

@test "multiplexers: a detached tmux session (only the server left) keeps the box up" {
  processes 'tmux: server'
  expect_only_active multiplexers
}

@test "multiplexers: a detached screen session keeps the box up" {
  processes 'SCREEN -S training'
  expect_only_active multiplexers
}

# ---------------------------------------------------------------------------------------------
# Neuron, GPU
# ---------------------------------------------------------------------------------------------

@test "neuron: a neuronx-cc compile keeps the box up" {
  processes '/opt/aws_neuronx_venv_pytorch/bin/python3 /opt/aws_neuronx_venv_pytorch/bin/neuronx-cc compile --framework=XLA model.hlo'
  expect_only_active neuron
}

@test "neuron: NeuronCore utilization from neuron-monitor in /opt/aws/neuron/bin keeps the box up" {
  neuron_monitor_reports 42.01
  expect_only_active neuron
  [[ $(verdict neuron) == 'neuron: ACTIVE (NeuronCore utilization 42.0%)' ]] || fail_with "$(verdict neuron)"
  grep -q "^begin neuron-monitor -c $TS_STATE_DIR/neuron-monitor.json" "$TS_FAKE/calls"
  grep -q '"neuroncore_counters"' "$TS_STATE_DIR/neuron-monitor.json"
}

@test "neuron: a loaded runtime below the utilization threshold is not work" {
  neuron_monitor_reports 0.2
  expect_idle_check
  [[ $(verdict neuron) == 'neuron: idle (NeuronCore utilization 0.5% < 1%)' ]] || fail_with "$(verdict neuron)"
}

@test "neuron: neuron-monitor with no Neuron application running is not work" {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  stub_does neuron-monitor out '{"neuron_runtime_data":[],"instance_info":{"error":""},"neuron_hardware_info":{"error":""}}'
  expect_idle_check
  [[ $(verdict neuron) == 'neuron: idle (no Neuron runtime running)' ]] || fail_with "$(verdict neuron)"
}

@test "gpu: GPU utilization at or above the threshold keeps the box up" {
  install_stub "$BOX/bin" nvidia-smi
  stub_does nvidia-smi out $'0\n37'
  expect_only_active gpu
  grep -q '^begin nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits$' "$TS_FAKE/calls"
}

@test "gpu: GPUs below the threshold are not work" {
  install_stub "$BOX/bin" nvidia-smi
  stub_does nvidia-smi out $'0\n4'
  expect_idle_check
  [[ $(verdict gpu) == 'gpu: idle (GPU utilization 4.0% < 5%)' ]] || fail_with "$(verdict gpu)"
}

# ---------------------------------------------------------------------------------------------
# Process patterns, and the training job at low CPU
# ---------------------------------------------------------------------------------------------

@test "processes: a command line matching idle.processPatterns keeps the box up" {
  processes '/opt/conda/bin/python3.11 -m ipykernel_launcher -f /root/.local/share/jupyter/runtime/kernel-1.json'
  expect_only_active processes
}

@test "regression: a training job at 2 % CPU waiting on the accelerator is kept up by the default patterns" {
  processes 'python3 train.py --model llama --epochs 3'
  expect_only_active processes 2
  [[ $(verdict cpu) == 'cpu: idle (CPU 2.0% < 10%)' ]] || fail_with "$(verdict cpu)"
}

@test "neuron: a runtime that reports no NeuronCore utilization counts as active, not idle" {
  install_stub "$TS_NEURON_BIN_DIR" neuron-monitor
  printf '{"neuron_runtime_data":[{"pid":4242,"neuron_runtime_tag":"4242","error":"","report":{"neuroncore_counters":{"period":1.0,"neuroncores_in_use":{},"error":""}}}],"instance_info":{"error":""}}\n' \
    >"$TS_FAKE/neuron-monitor.out"
  expect_only_active neuron
  [[ $(verdict neuron) == 'neuron: UNSURE, counted as active (a Neuron runtime is running but reported no NeuronCore utilization)' ]] ||
    fail_with "$(verdict neuron)"
}

@test "regression: a low-CPU job no pattern knows is kept up by NeuronCore utilization" {
  processes 'python3 my_experiment.py'
  neuron_monitor_reports 87.5
  expect_only_active neuron 2
}

# ---------------------------------------------------------------------------------------------
# CPU, memory, network
# ---------------------------------------------------------------------------------------------

@test "cpu: busy CPU averaged over the interval keeps the box up" {
  expect_only_active cpu 40
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 40.0%)' ]] || fail_with "$(verdict cpu)"
}

@test "cpu: one busy vCPU of 128 keeps the box up, though it is 1 % of the average" {
  # shellcheck disable=SC2034 # read by write_proc (test_helper.bash)
  VCPUS=128
  write_proc
  expect_only_active cpu 1
  [[ $(verdict cpu) == 'cpu: ACTIVE (CPU 1.0%, 1.2 of 128 vCPUs busy)' ]] || fail_with "$(verdict cpu)"
}

@test "cpu: a quiet 128-vCPU box is idle" {
  # shellcheck disable=SC2034 # read by write_proc (test_helper.bash)
  VCPUS=128
  write_proc
  run_check
  tick 0
  run_check
  [[ $(verdict cpu) == 'cpu: idle (CPU 0.0% < 10%)' ]] || fail_with "$(verdict cpu)"
}

@test "cpu: measures the interval since the previous check, not the time since boot" {
  run_check
  tick 90
  run_check
  assert_output_has 'active (cpu)'
  tick 2
  run_check
  assert_output_has 'idle 1/2'
}

@test "memory: memory in use at or above the threshold keeps the box up" {
  memory_in_use 85
  expect_only_active memory
}

@test "network: traffic above the threshold keeps the box up; loopback traffic does not count" {
  expect_only_active network 1 2000
  [[ $(verdict network) == 'network: ACTIVE (network 2000.0 KB/s)' ]] || fail_with "$(verdict network)"
}

# ---------------------------------------------------------------------------------------------
# Keep-alive file
# ---------------------------------------------------------------------------------------------

@test "keepalive: touching the keep-alive file keeps the box up for keepaliveMinutes" {
  run_check
  touch_keepalive
  for _ in $(seq 59); do tick; done
  run_check
  assert_output_has 'active (keepalive)'
  tick
  run_check
  assert_output_has 'idle 1/2'
  [[ $(verdict keepalive) == 'keepalive: idle (touched 60 min ago)' ]] || fail_with "$(verdict keepalive)"
}

@test "keepalive: the check creates the file for any user to touch, aged so that creating it is no sign of life" {
  run_check
  [[ $(stat -c '%a %Y' "$TS_STATE_DIR/keepalive") == '666 0' ]] || fail_with "$(stat -c '%a %Y' "$TS_STATE_DIR/keepalive")"
  [[ $(stat -c '%a' "$TS_STATE_DIR") == 755 ]] || fail_with "state dir must not be world-writable"
  [[ $(verdict keepalive) == 'keepalive: idle (never touched)' ]] || fail_with "$(verdict keepalive)"
}

@test "keepalive: a file someone created first with sudo touch is made touchable by everyone" {
  mkdir -p "$TS_STATE_DIR"
  (umask 022 && touch -d @0 "$TS_STATE_DIR/keepalive")
  run_check
  [[ $(stat -c '%a' "$TS_STATE_DIR/keepalive") == 666 ]] || fail_with "$(stat -c '%a' "$TS_STATE_DIR/keepalive")"
}
