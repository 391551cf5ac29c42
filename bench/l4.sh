#!/usr/bin/env bash
# Kernel data plane benchmark: iperf3 throughput through the VIP in l4-dr, l4-nat and l4-snat
# (Baton programming nftables), against the direct client → real server path, in one run:
#
#   client .2 ── LAN A 10.254.X.0/24 ── lb .11 (VIPs .100 dr, .101 nat, .102 snat) ── rs1 .21 (VIP .100 on lo)
#                                       lb eth1 .11 ── LAN B 10.254.Y.0/24 ── rs2 .21 (default via the floating .1)
#
#   bench/l4.sh [SECONDS]        (default 5 s per measurement, 3 measurements each, the median kept; needs root)
#
# Direct is client → rs1 on LAN A (one bridge hop); the NAT modes cross the load balancer into LAN B.
# The hop rows are the same extra hop with plain IP forwarding and no Baton rule matching: the
# physical limit of each topology. hop-lan: client → lb → rs1 on LAN A, replies straight back (as
# l4-dr); hop-lb: client → lb → rs2 on LAN B and back through lb (as l4-nat and l4-snat).
# Installs iperf3 and nftables if missing. Ends with one line:
#   l4 dr_ratio=R nat_ratio=Q snat_ratio=S dr_hop_ratio=… nat_hop_ratio=… snat_hop_ratio=…
#   (*_ratio: the VIP path's throughput ÷ direct; *_hop_ratio: ÷ the same hop without Baton)
set -euo pipefail

seconds="${1:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $(id -u) -eq 0 ]] || { echo "bench/l4.sh: needs root (network namespaces, nftables)" >&2; exit 1; }
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v nft >/dev/null || need+=(nftables)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
"$root/baton" --version >/dev/null   # builds the jar if needed
jar="$root/appliance-core/target/baton.jar"

id=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
a="10.254.$((16#${id:0:2} & 0x7f))."
b="10.254.$(((16#${id:0:2} & 0x7f) + 128))."
work=$(mktemp -d /tmp/baton-bench-l4.XXXXXX)
lanA="bls-$id"; lanB="blt-$id"; lb="bla-$id"; client="blc-$id"; rs1="blr-$id"; rs2="blq-$id"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for ns in "$lb" "$client" "$rs1" "$rs2" "$lanA" "$lanB"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

for ns in "$lanA" "$lanB" "$lb" "$client" "$rs1" "$rs2"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
for lan in "$lanA" "$lanB"; do
    ip -n "$lan" link add br0 type bridge
    ip -n "$lan" link set br0 up
done
n=0
plug() { # namespace lan iface cidr
    ip link add "h$id$n" type veth peer name "s$id$n"
    ip link set "h$id$n" netns "$1"
    ip -n "$1" link set "h$id$n" name "$3"
    ip link set "s$id$n" netns "$2"
    ip -n "$2" link set "s$id$n" master br0
    ip -n "$2" link set "s$id$n" up
    ip -n "$1" link set "$3" up
    ip -n "$1" addr add "$4" dev "$3"
    until ip -n "$1" -o link show dev "$3" | grep -q LOWER_UP; do sleep 0.05; done
    n=$((n + 1))
}
plug "$lb" "$lanA" eth0 "${a}11/24"
plug "$client" "$lanA" eth0 "${a}2/24"
plug "$rs1" "$lanA" eth0 "${a}21/24"
plug "$lb" "$lanB" eth1 "${b}11/24"
plug "$rs2" "$lanB" eth0 "${b}21/24"
ip -n "$rs1" addr add "${a}100/32" dev lo
ip -n "$rs1" addr add "${a}200/32" dev lo          # hop-lan's target: routed to rs1 by lb
ip -n "$client" route add "${a}200/32" via "${a}11"
ip -n "$lb" route add "${a}200/32" via "${a}21"
ip -n "$client" route add "${b}0/24" via "${a}11"    # hop-lb: rs2 through lb, back via the gateway VIP
ip netns exec "$rs1" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
ip -n "$rs2" route add default via "${b}1"

ip netns exec "$rs1" iperf3 -s >"$work/iperf-rs1.log" 2>&1 &
pids+=($!)
ip netns exec "$rs2" iperf3 -s >"$work/iperf-rs2.log" 2>&1 &
pids+=($!)

java -jar "$jar" keygen "$work/cluster.key" >/dev/null
cat >"$work/baton.yaml" <<CONF
cluster:
  name: bench-l4-$id
  key-file: $work/cluster.key
  nodes: [{ id: lb, address: ${a}11:7800, admin: 127.0.0.1:9090 }]
vips:
  - { name: dr, address: ${a}100/24, interface: eth0 }
  - { name: nat, address: ${a}101/24, interface: eth0 }
  - { name: snat, address: ${a}102/24, interface: eth0 }
  - { name: gateway, address: ${b}1/24, interface: eth1 }
  - { name: source, address: ${b}5/24, interface: eth1 }
services:
  - { name: dr, vip: dr, port: 5201, mode: l4-dr, servers: [{ name: rs1, address: ${a}21 }] }
  - { name: nat, vip: nat, port: 5201, mode: l4-nat, nat-gateway: gateway, servers: [{ name: rs2, address: ${b}21:5201 }] }
  - { name: snat, vip: snat, port: 5201, mode: l4-snat, snat-source: source, servers: [{ name: rs2, address: ${b}21:5201 }] }
CONF
ip netns exec "$lb" java @"$root/packaging/jvm.options" -jar "$jar" node --config "$work/baton.yaml" --node lb \
    --state-dir "$work/state" --log-level WARN >"$work/lb.log" 2>&1 &
pids+=($!)
for try in $(seq 300); do
    tables=$(ip netns exec "$lb" curl -s -m 1 http://127.0.0.1:9090/api/v1/status 2>/dev/null \
        | grep -c 'server(s) in a table' || true)
    [[ $tables -eq 3 ]] && break
    sleep 0.1
done
[[ $tables -eq 3 ]] || { echo "bench/l4.sh: Baton did not program its three services; log:" >&2; cat "$work/lb.log" >&2; exit 1; }

# one iperf3 run: the receiver's bits per second
rate() { # target
    ip netns exec "$client" iperf3 -c "$1" -t "$seconds" -J \
        | grep -A12 '"sum_received"' | grep -m1 '"bits_per_second"' | sed -E 's/.*:[[:space:]]*([0-9.e+]+).*/\1/'
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
measure() { median3 "$(rate "$1")" "$(rate "$1")" "$(rate "$1")"; }

direct=$(measure "${a}21")
hop_lan=$(measure "${a}200")
hop_lb=$(measure "${b}21")
dr=$(measure "${a}100")
nat=$(measure "${a}101")
snat=$(measure "${a}102")
counters=$(ip netns exec "$lb" curl -s -m 2 http://127.0.0.1:9090/api/v1/status | grep -c '"packets" : [1-9]' || true)

gbit() { awk -v r="$1" 'BEGIN { printf "%.2f", r / 1e9 }'; }
ratio() { awk -v x="$1" -v d="$2" 'BEGIN { printf "%.2f", x / d }'; }
printf '\n%-24s %10s %10s %10s\n' "path" "Gbit/s" "÷ direct" "÷ hop"
printf '%-24s %10s %10s %10s\n' "direct client→rs" "$(gbit "$direct")" "1.00" ""
printf '%-24s %10s %10s %10s\n' "hop-lan (plain, via lb)" "$(gbit "$hop_lan")" "$(ratio "$hop_lan" "$direct")" "1.00"
printf '%-24s %10s %10s %10s\n' "hop-lb (plain, via lb)" "$(gbit "$hop_lb")" "$(ratio "$hop_lb" "$direct")" "1.00"
printf '%-24s %10s %10s %10s\n' "l4-dr via VIP" "$(gbit "$dr")" "$(ratio "$dr" "$direct")" "$(ratio "$dr" "$hop_lan")"
printf '%-24s %10s %10s %10s\n' "l4-nat via VIP" "$(gbit "$nat")" "$(ratio "$nat" "$direct")" "$(ratio "$nat" "$hop_lb")"
printf '%-24s %10s %10s %10s\n' "l4-snat via VIP" "$(gbit "$snat")" "$(ratio "$snat" "$direct")" "$(ratio "$snat" "$hop_lb")"
echo "(iperf3 -t $seconds, median of 3, one TCP stream, veth + bridges, $(nproc) cores; servers counted by nft: $counters)"
echo "l4 dr_ratio=$(ratio "$dr" "$direct") nat_ratio=$(ratio "$nat" "$direct") snat_ratio=$(ratio "$snat" "$direct") dr_hop_ratio=$(ratio "$dr" "$hop_lan") nat_hop_ratio=$(ratio "$nat" "$hop_lb") snat_hop_ratio=$(ratio "$snat" "$hop_lb")"
