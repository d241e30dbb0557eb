#!/usr/bin/env bash
# The EC2 stand-in's hook in the real-Slurm test: makes a launched "instance" a machine and takes it away again.
#   node-hook.sh launch ID NODE IP DNS     a network namespace joined to the test's bridge with address IP, its
#                                          own /etc/hosts (/etc/netns/NS/hosts, which `ip netns exec` mounts),
#                                          booting in the background: a second later (slurmctld only accepts
#                                          a node that booted after it was asked to power it up) a fresh boot
#                                          clock (time namespace), the host name DNS (UTS namespace), and the
#                                          real node-bootstrap.sh, which asks the stand-in's IMDS for its name
#                                          and runs slurmd in the foreground
#   node-hook.sh terminate|lose ID NODE IP every process in the namespace killed by its id, the namespace gone
# Settings (exported by cluster_helper.bash before it starts the stand-in):
#   HOOK_RUN_DIR, HOOK_BRIDGE, HOOK_HEAD_NAME, HOOK_HEAD_IP, HOOK_PREFIX (namespace names), HOOK_NODE_CONF
#   (cluster.conf for nodes), HOOK_EC2_DIR (the stand-in's state: its port, where the nodes find IMDS),
#   HOOK_NODE_BOOTSTRAP (src/userdata/cluster/node-bootstrap.sh)
set -euo pipefail
action=$1 id=$2 node=$3 ip=$4

: "${HOOK_RUN_DIR:?}" "${HOOK_BRIDGE:?}" "${HOOK_HEAD_NAME:?}" "${HOOK_HEAD_IP:?}" "${HOOK_PREFIX:?}"
ns=$HOOK_PREFIX-${ip##*.}
log() { echo "$(date -u +%T) hook $action $id $node $ip: $*" >> "$HOOK_RUN_DIR/hook.log"; }

launch() {
  local dns=$5 veth=${HOOK_PREFIX}v${ip##*.} up
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$HOOK_BRIDGE" up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n%s %s\n%s %s %s\n' "$HOOK_HEAD_IP" "$HOOK_HEAD_NAME" "$ip" "${dns%%.*}" "$node" \
    > "/etc/netns/$ns/hosts"
  (
    sleep 1
    up=$(cut -d . -f 1 /proc/uptime)
    # shellcheck disable=SC2016 # the inner bash expands them
    exec setsid ip netns exec "$ns" unshare --uts --time --boottime "-$up" \
      env TS_CLUSTER_CONF="$HOOK_NODE_CONF" TS_IMDS_URL="http://$HOOK_HEAD_IP:$(cat "$HOOK_EC2_DIR/port")" \
      bash -c 'hostname "$1" && shift && exec "$@"' boot "${dns%%.*}" "$HOOK_NODE_BOOTSTRAP" -D
  ) < /dev/null >> "$HOOK_RUN_DIR/$node.console" 2>&1 &
  log "namespace $ns up, booting (pid $!)"
}

# Kills every process in the namespace by its id, waits (bounded) until none is left, then removes it.
remove() {
  local pids attempt
  [[ -e /run/netns/$ns ]] || { log "no namespace $ns"; return 0; }
  for ((attempt = 0; attempt < 50; attempt++)); do
    mapfile -t pids < <(ip netns pids "$ns")
    ((${#pids[@]} == 0)) && break
    kill -KILL "${pids[@]}" 2> /dev/null || true
    sleep 0.1
  done
  ((${#pids[@]} == 0)) || log "processes ${pids[*]} outlived 5 s of SIGKILL"
  ip netns del "$ns"
  rm -rf "/etc/netns/$ns"
  log "namespace $ns removed"
}

case $action in
  launch) launch "$@" ;;
  terminate | lose) remove ;;
  *) echo "node-hook.sh: unknown action $action" >&2; exit 2 ;;
esac
