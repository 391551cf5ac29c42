#!/usr/bin/env bash
# Failover benchmark: time from a failure of the active node to the first client request answered
# through the VIP by the other node, for Baton and for keepalived + HAProxy (default 1 s adverts,
# and tuned: VRRPv3 with 100 ms adverts), in the same namespace topology, in one run:
#
#   lan (bridge) ── lb1 10.253.X.11 ── lb2 .12 ── client .2 ── real server .21:8080
#
#   bench/failover.sh [RUNS]          (default 10 runs per row; needs root)
#
# For looking into one row: ROWS="baton:kill9" runs only the rows named, LOG_LEVEL=DEBUG sets
# Baton's log level (default WARN) and KEEP=1 keeps the work directory (node logs, with the time of
# each failure in failures.log).
#
# Both systems get a moment to settle before each failure (keepalived's backup into BACKUP state,
# Baton's passive JVM past its start-up compilation), as a pair in service would be.
#
# Failures: kill -9 of the active (Baton only: keepalived killed -9 leaves its VIP behind), its link
# set down (host loss), and a graceful stop (SIGTERM). A sampler counts moments at which both nodes
# hold the VIP (lb1 is looked at again after lb2: a handover between two looks is no overlap).
# Installs keepalived, haproxy and curl if missing. Ends with one line:
#   failover kill9_ms=A linkdown_ms=B graceful_ms=C keepalived_tuned_linkdown_ms=D keepalived_tuned_graceful_ms=E two_holders=N
set -euo pipefail

runs="${1:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $(id -u) -eq 0 ]] || { echo "bench/failover.sh: needs root (network namespaces)" >&2; exit 1; }
need=()
command -v keepalived >/dev/null || need+=(keepalived)
command -v haproxy >/dev/null || need+=(haproxy)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
"$root/baton" --version >/dev/null   # builds the jar if needed
jar="$root/appliance-core/target/baton.jar"

id=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
subnet="10.253.$((16#${id:0:2}))."
vip="${subnet}100"
work=$(mktemp -d /tmp/baton-bench-failover.XXXXXX)
lan="bfs-$id"; lb1="bfa-$id"; lb2="bfb-$id"; client="bfc-$id"; server="bfr-$id"
pids=()

cleanup() {
    stop_all
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ns in "$lb1" "$lb2" "$client" "$server" "$lan"; do ip netns del "$ns" 2>/dev/null || true; done
    for n in 0 1 2 3; do ip link del "h$id$n" 2>/dev/null || true; done
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the network -------------------------------------------------------------------------------
for ns in "$lan" "$lb1" "$lb2" "$client" "$server"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
n=0
for pair in "$lb1:11" "$lb2:12" "$client:2" "$server:21"; do
    ns=${pair%%:*}; host=${pair##*:}
    ip link add "h$id$n" type veth peer name "s$id$n"
    ip link set "h$id$n" netns "$ns"
    ip -n "$ns" link set "h$id$n" name eth0
    ip link set "s$id$n" netns "$lan"
    ip -n "$lan" link set "s$id$n" master br0
    ip -n "$lan" link set "s$id$n" up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "$subnet$host/24" dev eth0
    n=$((n + 1))
done
for ns in "$lb1" "$lb2" "$client" "$server"; do
    until ip -n "$ns" -o link show dev eth0 | grep -q LOWER_UP; do sleep 0.05; done
done
mac_lb1=$(ip -n "$lb1" -o link show dev eth0 | sed -E 's/.*link\/ether ([0-9a-f:]+).*/\1/')
mac_lb2=$(ip -n "$lb2" -o link show dev eth0 | sed -E 's/.*link\/ether ([0-9a-f:]+).*/\1/')
ip netns exec "$server" java -Xmx64m -cp "$jar" io.baton.appliance.demo.DemoBackend rs1 "${subnet}21" 8080 \
    >"$work/backend.log" 2>&1 &
pids+=($!)
until ip netns exec "$client" curl -s -m 1 "http://${subnet}21:8080/" >/dev/null; do sleep 0.1; done

# --- the systems under test --------------------------------------------------------------------
java -jar "$jar" keygen "$work/cluster.key" >/dev/null
cat >"$work/baton.yaml" <<CONF
cluster:
  name: bench-$id
  key-file: $work/cluster.key
  witness: ${subnet}2
  nodes:
    - { id: lb1, address: ${subnet}11:7800, admin: 127.0.0.1:9090, priority: 200 }
    - { id: lb2, address: ${subnet}12:7800, admin: 127.0.0.1:9090, priority: 100 }
vips: [{ name: front, address: $vip/24, interface: eth0 }]
services:
  - name: web
    vip: front
    ports: [80]
    mode: l7-snat
    l7: http
    check: { type: http, path: /, interval: 1s, timeout: 500ms }
    servers: [{ name: rs1, address: ${subnet}21:8080 }]
CONF
for lb in lb1 lb2; do
    cat >"$work/haproxy-$lb.cfg" <<CONF
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend web
    bind *:80
    default_backend rs
backend rs
    server rs1 ${subnet}21:8080
CONF
done
keepalived_conf() { # lb priority advert version
    cat <<CONF
global_defs {
    router_id $1
    vrrp_version $4
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id $((16#${id:2:2} % 200 + 20))
    priority $2
    advert_int $3
    virtual_ipaddress {
        $vip/24 dev eth0
    }
}
CONF
}

declare -A running=()
start_baton() {
    rm -rf "$work/state-lb1" "$work/state-lb2"
    ip netns exec "$lb1" java @"$root/packaging/jvm.options" -jar "$jar" node --config "$work/baton.yaml" \
        --node lb1 --state-dir "$work/state-lb1" --log-level "${LOG_LEVEL:-WARN}" >>"$work/lb1.log" 2>&1 &
    running[lb1]=$!
    until holds "$lb1"; do sleep 0.05; done
    ip netns exec "$lb2" java @"$root/packaging/jvm.options" -jar "$jar" node --config "$work/baton.yaml" \
        --node lb2 --state-dir "$work/state-lb2" --log-level "${LOG_LEVEL:-WARN}" >>"$work/lb2.log" 2>&1 &
    running[lb2]=$!
    until ip netns exec "$lb2" curl -s -m 1 http://127.0.0.1:9090/api/v1/status 2>/dev/null \
        | grep -q '"role" : "PASSIVE"'; do sleep 0.05; done
    sleep 2   # a passive node in service has been up for a while: its JVM is past start-up compilation
}
start_keepalived() { # advert version
    for lb in lb1 lb2; do
        local ns priority
        ns=$([[ $lb == lb1 ]] && echo "$lb1" || echo "$lb2")
        priority=$([[ $lb == lb1 ]] && echo 200 || echo 100)
        keepalived_conf "$lb" "$priority" "$1" "$2" >"$work/keepalived-$lb.conf"
        ip netns exec "$ns" haproxy -f "$work/haproxy-$lb.cfg" -db >"$work/haproxy-$lb.log" 2>&1 &
        running[haproxy-$lb]=$!
        # stale pid files of a killed run could name a reused pid: keepalived would refuse to start
        rm -f "$work/ka-$lb.pid" "$work/ka-vrrp-$lb.pid" "$work/ka-chk-$lb.pid" "$work/ka-bfd-$lb.pid"
        ip netns exec "$ns" keepalived -n -l -P -f "$work/keepalived-$lb.conf" -p "$work/ka-$lb.pid" \
            -r "$work/ka-vrrp-$lb.pid" -c "$work/ka-chk-$lb.pid" -b "$work/ka-bfd-$lb.pid" \
            >"$work/keepalived-$lb.log" 2>&1 &
        running[keepalived-$lb]=$!
        [[ $lb == lb1 ]] && until holds "$lb1"; do sleep 0.05; done
    done
    sleep 1   # the backup settles into BACKUP state
}
stop_all() {
    for key in "${!running[@]}"; do
        pkill -KILL -P "${running[$key]}" 2>/dev/null || true
        kill -KILL "${running[$key]}" 2>/dev/null || true
        wait "${running[$key]}" 2>/dev/null || true
        unset "running[$key]"
    done
    for ns in "$lb1" "$lb2"; do
        [[ -n $(ip netns list | grep -w "$ns") ]] || continue
        ip -n "$ns" link set eth0 up 2>/dev/null || true
        ip -n "$ns" addr del "$vip/24" dev eth0 2>/dev/null || true
    done
}

holds() { ip -n "$1" -4 -o addr show dev eth0 | grep -q " $vip/24 "; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# One failover: start, check the client is served by lb1, fail it, time the first answer via lb2.
measure() { # system failure
    case $1 in
        baton) start_baton ;;
        keepalived-default) start_keepalived 1 2 ;;
        keepalived-tuned) start_keepalived 0.1 3 ;;
    esac
    until ip netns exec "$client" curl -s -m 0.5 "http://$vip/" | grep -q "hello from rs1"; do sleep 0.05; done
    (while true; do holds "$lb1" && holds "$lb2" && holds "$lb1" && echo both; sleep 0.005; done) >"$work/holders" 2>/dev/null &
    local sampler=$!
    local start
    start=$(now_ms)
    echo "$(date -u +%H:%M:%S.%3N) $1 $2" >>"$work/failures.log"
    case $2 in
        kill9) kill -KILL "${running[lb1]}"; wait "${running[lb1]}" 2>/dev/null || true ;;
        linkdown) ip -n "$lb1" link set eth0 down ;;
        graceful)
            if [[ $1 == baton ]]; then kill -TERM "${running[lb1]}"; else kill -TERM "${running[keepalived-lb1]}"; fi ;;
    esac
    local took=""
    while (( $(now_ms) - start < 20000 )); do
        if ip netns exec "$client" curl -s --connect-timeout 0.05 -m 0.2 "http://$vip/" 2>/dev/null \
                | grep -q "hello from rs1" \
                && ip -n "$client" neigh show "$vip" | grep -q "lladdr $mac_lb2"; then
            took=$(( $(now_ms) - start ))
            break
        fi
    done
    sleep 0.3   # let the sampler see the settled state too
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    grep -c both "$work/holders" >>"$work/two-holders.counts" || true   # (measure runs in a subshell)
    stop_all
    echo "${took:-20000}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
max() { sort -n | tail -1; }

: >"$work/two-holders.counts"
declare -A med mx
all_rows="baton:kill9 baton:linkdown baton:graceful keepalived-tuned:linkdown keepalived-tuned:graceful
          keepalived-default:linkdown keepalived-default:graceful"
rows=${ROWS:-$all_rows}
for row in $rows; do
    system=${row%%:*}; failure=${row##*:}
    samples=()
    for ((i = 0; i < runs; i++)); do
        samples+=("$(measure "$system" "$failure" | tail -1)")
    done
    med[$row]=$(printf '%s\n' "${samples[@]}" | median)
    mx[$row]=$(printf '%s\n' "${samples[@]}" | max)
    printf '%-28s median %6s ms   max %6s ms   (%s)\n' "$row" "${med[$row]}" "${mx[$row]}" "${samples[*]}" >&2
done

printf '\n%-28s %10s %10s\n' "system:failure" "median ms" "max ms"
for row in $rows; do
    printf '%-28s %10s %10s\n' "$row" "${med[$row]}" "${mx[$row]}"
done
two_holders=$(awk '{n += $1} END {print n + 0}' "$work/two-holders.counts")
echo "(runs per row: $runs; client polls with 50 ms connect timeouts; Baton with a witness configured)"
echo "failover kill9_ms=${med[baton:kill9]:--} linkdown_ms=${med[baton:linkdown]:--} graceful_ms=${med[baton:graceful]:--} keepalived_tuned_linkdown_ms=${med[keepalived-tuned:linkdown]:--} keepalived_tuned_graceful_ms=${med[keepalived-tuned:graceful]:--} two_holders=$two_holders"
