#!/usr/bin/env bash
# Lets the compute nodes out through the head: their subnet's default route is the head's network interface
# (src/constructs/cluster-network.ts), so the head forwards their packets and masquerades them behind its own
# address, as a NAT instance does (Amazon VPC User Guide, "NAT instances": IP forwarding on, an iptables
# MASQUERADE rule out of the primary interface, source/destination check off;
# https://docs.aws.amazon.com/vpc/latest/userguide/VPC_NAT_Instance.html, checked 2026-12-07).
#   nat.sh NODE_SUBNET_CIDR
# A systemd oneshot unit (trainium-spot-nat.service) runs it at every boot, since iptables rules live in memory;
# /etc/sysctl.d/60-trainium-spot-nat.conf keeps forwarding on across reboots too. Twice is once: forwarding is
# set only when off, and the rule is checked (-C) before it is appended (-A).
set -euo pipefail

say() { printf 'trainium-spot nat: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

[[ $# -eq 1 && $1 =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || fail "usage: nat.sh NODE_SUBNET_CIDR (e.g. 10.42.16.0/20)"
readonly NODE_CIDR=$1

if [[ $(sysctl -n net.ipv4.ip_forward) != 1 ]]; then
  sysctl -q -w net.ipv4.ip_forward=1
  say "IP forwarding on"
fi

# The primary interface: the one the default route leaves by (ens5 on Nitro instances).
interface=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
[[ -n $interface ]] || fail "no IPv4 default route, so no interface to masquerade out of"

rule=(POSTROUTING -s "$NODE_CIDR" -o "$interface" -j MASQUERADE)
if iptables -w -t nat -C "${rule[@]}" 2> /dev/null; then
  say "nodes ($NODE_CIDR) already masquerade out of $interface"
else
  iptables -w -t nat -A "${rule[@]}"
  say "nodes ($NODE_CIDR) masquerade out of $interface"
fi
