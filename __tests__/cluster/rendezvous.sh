#!/usr/bin/env bash
# A job's cross-node rendezvous, one task per node (srun --ntasks-per-node=1). Each task prints
# "<its node> met <the other's node>"; task 0 also prints which rendezvous ran ("rendezvous: ...").
#   - where PyTorch imports (Debian's python3-torch): torchrun --nnodes 2 with the gloo backend on CPU, as a
#     training job would start; the two processes exchange their node names (all_gather_object) and check that
#     an all_reduce of (rank + 1) sums to 3 on both.
#   - else a TCP rendezvous of the job's own: task 0 listens, task 1 connects to task 0's node.
# Task 0's address comes from SLURM_NODE_ALIASES ("name:[address]:hostname,...", which Slurm sets for cloud nodes,
# whose names are in no DNS), as a torchrun MASTER_ADDR has to. Bounded: 60 s to meet.
#   rendezvous.sh --which    prints which one would run here (torchrun or tcp), and nothing else
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

if [[ ${1:-} == --which ]]; then
  if torch_available; then echo torchrun; else echo tcp; fi
  exit 0
fi

first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
address=$(tr ',' '\n' <<< "${SLURM_NODE_ALIASES:-}" | sed -n "s/^$first:\[\([^]]*\)\]:.*/\1/p")
port=$((20000 + SLURM_JOB_ID % 10000))

if torch_available; then
  script=$(mktemp --suffix=.py)
  trap 'rm -f "$script"' EXIT
  cat > "$script" << 'PY'
import datetime, os, sys
import torch
import torch.distributed as dist
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank, size = dist.get_rank(), dist.get_world_size()
assert size == 2, f"world size {size}"
names = [None, None]
dist.all_gather_object(names, os.environ["SLURMD_NODENAME"])
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total, op=dist.ReduceOp.SUM)
assert total.item() == 3.0, f"all_reduce sum {total.item()}, not 3"
if rank == 0:
    print(f"rendezvous: torchrun, gloo all_reduce sum {total.item():g} (torch {torch.__version__})", flush=True)
print(f"{names[rank]} met {names[1 - rank]}", flush=True)
dist.destroy_process_group()
PY
  # The underscored options are torchrun's spelling in every version (the dashed ones came later). --redirects and
  # --tee are given as a per-rank mapping because Debian's torch 1.13 on Python 3.11 cannot read their default "0"
  # (Std.from_str finds no member for 0: an IntFlag no longer iterates its zero member), and fails before starting
  # any worker. 0:2: the worker's stdout straight through, its stderr copied to torchrun's log and to the console.
  GLOO_SOCKET_IFNAME=eth0 OMP_NUM_THREADS=1 torchrun --nnodes 2 --nproc_per_node 1 --node_rank "$SLURM_NODEID" \
    --master_addr "${address:-$first}" --master_port "$port" --redirects 0:2 --tee 0:2 "$script"
  exit
fi

exec python3 - "$SLURM_PROCID" "$SLURMD_NODENAME" "${address:-$first}" "$port" << 'PY'
import socket, sys, time
rank, me, address, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
if rank == 0:
    server = socket.create_server(("0.0.0.0", port))
    server.settimeout(60)
    conn, _ = server.accept()
    peer = conn.recv(256).decode()
    conn.sendall(me.encode())
    print("rendezvous: TCP of the job's own (no PyTorch here)", flush=True)
else:
    deadline = time.time() + 60
    while True:
        try:
            conn = socket.create_connection((address, port), timeout=5)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    conn.sendall(me.encode())
    peer = conn.recv(256).decode()
print(f"{me} met {peer}", flush=True)
PY
