#!/usr/bin/env bash
# Which cross-node rendezvous the real-Slurm test's job (rendezvous.py) can make on this machine:
#   rendezvous.sh --which    prints torchrun where PyTorch imports for torchrun's own Python (the batch script
#                            `cluster submit` writes then runs rendezvous.py under torchrun, gloo on CPU), else tcp
#                            (no torchrun: the test runs rendezvous.py under srun, with a TCP rendezvous of its own)
set -euo pipefail

# torchrun's own interpreter (its #! line) decides: Debian's python3-torch installs torchrun for /usr/bin/python3,
# which need not be the python3 first on PATH.
torch_available() {
  local torchrun interpreter
  torchrun=$(command -v torchrun) || return 1
  interpreter=$(sed -n '1s/^#! *//p' "$torchrun")
  # shellcheck disable=SC2086 # "/usr/bin/env python3" is two words
  ${interpreter:-python3} -c 'import torch.distributed' 2> /dev/null
}

if [[ ${1:-} != --which ]]; then
  echo "usage: rendezvous.sh --which" >&2
  exit 2
fi
if torch_available; then echo torchrun; else echo tcp; fi
