#!/usr/bin/env bash
# The batch job of the lost-node test: its first run waits on both nodes until one is taken away; the requeued
# run (Slurm counts it in SLURM_RESTART_COUNT) prints where each of its tasks ran, and ends.
if [[ ${SLURM_RESTART_COUNT:-0} -eq 0 ]]; then
  srun --ntasks-per-node=1 sleep 600
  exit 1
fi
# shellcheck disable=SC2016 # expanded by the task's own shell
srun --ntasks-per-node=1 bash -c 'echo "run $SLURM_RESTART_COUNT on $SLURMD_NODENAME"'
