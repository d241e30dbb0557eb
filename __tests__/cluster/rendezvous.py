"""A user's multi-node job for the real-Slurm test: run by the batch script `cluster submit` writes, on every node.

Under torchrun (where PyTorch imports): the gloo backend on CPU, as a training job starts; the processes exchange
their node names (all_gather_object) and check that an all_reduce of (rank + 1) sums to the world's
1 + 2 + ... Under plain srun (no PyTorch: the job's command is `/usr/bin/env python3 rendezvous.py`): a TCP
rendezvous of its own at MASTER_ADDR, the address the batch script derived. Either way every process prints one
line "job: key=value ..." with its rank, node, host name, the peer it met and the environment the batch script
set; rank 0 also prints "rendezvous: ..." and "aliases: <SLURM_NODE_ALIASES>". Bounded: 60 s to meet.
"""
import os
import socket
import sys
import time

ENVIRONMENT = ["FI_PROVIDER", "FI_EFA_USE_DEVICE_RDMA", "FI_EFA_FORK_SAFE", "NEURON_COMPILE_CACHE_URL",
               "NEURON_RT_ROOT_COMM_ID", "MASTER_ADDR", "MASTER_PORT"]
me = os.environ["SLURMD_NODENAME"]


def report(rank, peer, how):
    if rank == 0:
        print(f"rendezvous: {how}", flush=True)
        print(f"aliases: {os.environ.get('SLURM_NODE_ALIASES', '-')}", flush=True)
    fields = [f"rank={rank}", f"node={me}", f"host={socket.gethostname()}", f"met={peer}"]
    fields += [f"{name}={os.environ.get(name, '-')}" for name in ENVIRONMENT]
    print("job: " + " ".join(fields), flush=True)


def under_torchrun():
    import datetime
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank, size = dist.get_rank(), dist.get_world_size()
    names = [None] * size
    dist.all_gather_object(names, me)
    total = torch.tensor([float(rank + 1)])
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    assert total.item() == size * (size + 1) / 2, f"all_reduce sum {total.item()}"
    peers = ",".join(name for i, name in enumerate(names) if i != rank)
    report(rank, peers, f"torchrun, world {size}, gloo all_reduce sum {total.item():g} at "
                        f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} (torch {torch.__version__})")
    dist.destroy_process_group()


def under_srun():
    """Two tasks: task 0 listens on MASTER_PORT, task 1 connects to MASTER_ADDR."""
    rank, address, port = int(os.environ["SLURM_PROCID"]), os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    if rank == 0:
        server = socket.create_server(("0.0.0.0", port))
        server.settimeout(60)
        conn, _ = server.accept()
        peer = conn.recv(256).decode()
        conn.sendall(me.encode())
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
    report(rank, peer, f"TCP of the job's own at {address}:{port} (no PyTorch here)")


if "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ:
    under_torchrun()
else:
    under_srun()
sys.exit(0)
