#!/usr/bin/env bash
# A job's own cross-node rendezvous, one task per node (srun --ntasks-per-node=1): task 0 listens, task 1
# connects to task 0's node, and each prints "<its node> met <the other's node>". Task 0's address comes from
# SLURM_NODE_ALIASES ("name:[address]:hostname,...", which Slurm sets for cloud nodes, whose names are in no DNS),
# as a torchrun MASTER_ADDR would have to. Bounded: 60 s to meet.
set -euo pipefail
first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
address=$(tr ',' '\n' <<< "${SLURM_NODE_ALIASES:-}" | sed -n "s/^$first:\[\([^]]*\)\]:.*/\1/p")
port=$((20000 + SLURM_JOB_ID % 10000))
exec python3 - "$SLURM_PROCID" "$SLURMD_NODENAME" "${address:-$first}" "$port" << 'PY'
import socket, sys, time
rank, me, address, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
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
print(f"{me} met {peer}", flush=True)
PY
