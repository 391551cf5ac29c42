#!/usr/bin/env bash
# L7 benchmark: Baton's l7-snat (http and tcp) against HAProxy (mode http and mode tcp), all in
# front of the same two nginx backends on loopback, under the same wrk load, in one run.
#
#   bench/l7.sh [DURATION_SECONDS] [CONNECTIONS]      (defaults: 10 s, 64 connections, wrk -t1)
#
# Installs haproxy, nginx-light and wrk (as root) if missing. Builds Baton if needed. Ends with:
#   l7 http_rps_ratio=R http_p99_ratio=Q tcp_rps_ratio=R tcp_p99_ratio=Q     (Baton / HAProxy)
set -euo pipefail

duration="${1:-10}"
connections="${2:-64}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/baton-bench-l7.XXXXXX)"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
    [[ $(id -u) -eq 0 ]] || { echo "bench/l7.sh: needs ${need[*]} (run as root to install them)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/l7.sh: nothing listens on port $1" >&2
    exit 1
}

backend1=$(free_port); backend2=$(free_port)
for n in 1 2; do
    port=$([[ $n == 1 ]] && echo "$backend1" || echo "$backend2")
    mkdir -p "$work/nginx$n"
    cat >"$work/nginx$n/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/nginx$n/error.log warn;
pid $work/nginx$n/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "hello from backend $n\n"; }
    }
}
CONF
    nginx -p "$work/nginx$n" -c "$work/nginx$n/nginx.conf" &
    pids+=($!)
done
wait_port "$backend1"; wait_port "$backend2"

haproxy_http=$(free_port); haproxy_tcp=$(free_port)
cat >"$work/haproxy.cfg" <<CONF
global
    maxconn 4096
defaults
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend http_in
    mode http
    bind 127.0.0.1:$haproxy_http
    default_backend http_servers
backend http_servers
    mode http
    balance roundrobin
    http-reuse always
    server s1 127.0.0.1:$backend1
    server s2 127.0.0.1:$backend2
frontend tcp_in
    mode tcp
    bind 127.0.0.1:$haproxy_tcp
    default_backend tcp_servers
backend tcp_servers
    mode tcp
    balance roundrobin
    server s1 127.0.0.1:$backend1
    server s2 127.0.0.1:$backend2
CONF
haproxy -f "$work/haproxy.cfg" -db &
pids+=($!)

baton_http=$(free_port); baton_tcp=$(free_port); baton_admin=$(free_port)
cat >"$work/baton.yaml" <<CONF
cluster: { name: bench, nodes: [{ id: bench1, address: 127.0.0.1:7800, admin: 127.0.0.1:$baton_admin }] }
vips: [{ name: vip, address: 127.0.0.1/32, interface: lo }]
services:
  - name: http
    vip: vip
    ports: [$baton_http]
    mode: l7-snat
    l7: http
    scheduler: rr
    servers: [{ name: s1, address: 127.0.0.1:$backend1 }, { name: s2, address: 127.0.0.1:$backend2 }]
  - name: tcp
    vip: vip
    ports: [$baton_tcp]
    mode: l7-snat
    l7: tcp
    scheduler: rr
    servers: [{ name: s1, address: 127.0.0.1:$backend1 }, { name: s2, address: 127.0.0.1:$backend2 }]
CONF
"$root/baton" --version >/dev/null   # builds the jar if needed, before the clock matters
BATON_JAVA_OPTS="${BATON_JAVA_OPTS:-}" "$root/baton" node --config "$work/baton.yaml" --node bench1 \
    --state-dir "$work/state" --log-level WARN >"$work/baton.log" 2>&1 &
pids+=($!)
wait_port "$haproxy_http"; wait_port "$haproxy_tcp"; wait_port "$baton_http"; wait_port "$baton_tcp"

# wrk prints "Requests/sec: N" and, with --latency, "99% Xus|ms|s"
measure() {
    local url=$1 out
    out=$(wrk -t1 -c"$connections" -d"${duration}s" --latency "$url")
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
    echo "$rps $(to_ms "$p99") ${errors:-}"
}
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "nan" } }'
}

# warm up the JIT and connection pools of both proxies the same way
wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$baton_http/" >/dev/null
wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$baton_tcp/" >/dev/null
wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$haproxy_http/" >/dev/null

declare -A rps p99 notes
for target in direct haproxy_http baton_http haproxy_tcp baton_tcp; do
    case $target in
        direct) url="http://127.0.0.1:$backend1/" ;;
        haproxy_http) url="http://127.0.0.1:$haproxy_http/" ;;
        haproxy_tcp) url="http://127.0.0.1:$haproxy_tcp/" ;;
        baton_http) url="http://127.0.0.1:$baton_http/" ;;
        baton_tcp) url="http://127.0.0.1:$baton_tcp/" ;;
    esac
    read -r r p n <<<"$(measure "$url")"
    rps[$target]=$r; p99[$target]=$p; notes[$target]=${n:-}
done

printf '\n%-14s %12s %10s  %s\n' "target" "req/s" "p99 ms" "notes"
for target in direct haproxy_http baton_http haproxy_tcp baton_tcp; do
    printf '%-14s %12s %10s  %s\n' "$target" "${rps[$target]}" "${p99[$target]}" "${notes[$target]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "(wrk -t1 -c$connections -d${duration}s, two nginx backends, $(nproc) cores; direct = one nginx backend)"
echo "l7 http_rps_ratio=$(ratio "${rps[baton_http]}" "${rps[haproxy_http]}") http_p99_ratio=$(ratio "${p99[baton_http]}" "${p99[haproxy_http]}") tcp_rps_ratio=$(ratio "${rps[baton_tcp]}" "${rps[haproxy_tcp]}") tcp_p99_ratio=$(ratio "${p99[baton_tcp]}" "${p99[haproxy_tcp]}")"
