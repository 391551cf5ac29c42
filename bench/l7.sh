#!/usr/bin/env bash
# L7 benchmark: Baton's l7-snat (http and tcp) against HAProxy (mode http and mode tcp), in front
# of the same two nginx backends on loopback, in alternating rounds so that the machine's noise
# falls on both alike: each round measures every regime once with each proxy (which one goes
# first alternates), and each ratio reported is the median of the rounds' ratios, with its spread.
#
#   bench/l7.sh [ROUNDS] [SECONDS]       (defaults: 5 rounds, 5 s per measurement)
#
# For looking into one regime: REGIMES="http c1000" runs only those (the last line then says "-"
# for the ratios of the others); BATON_JAVA_OPTS adds JVM options to Baton's (a JFR recording:
# BATON_JAVA_OPTS=-XX:StartFlightRecording=filename=/tmp/baton.jfr,settings=profile).
#
# Regimes (wrk on loopback):
#   http, tcp   64 keep-alive connections, a 20-byte body (req/s and p99)
#   https       the same over TLS 1.3 terminated by the proxy (HTTP to the backends), one self-signed
#               EC P-256 certificate for both; a handshake per connection, then keep-alive (req/s and p99)
#   c1000       1 000 keep-alive connections (req/s)
#   conn        a new connection for every request: short DICOM/HL7-like associations (req/s)
#   big1m/50m   1 MB and 50 MB responses, WADO-style retrievals (MB/s)
#   cpu         CPU time of each proxy per request at a fixed rate below saturation
#               (~3 000 req/s: 16 connections, 5 ms between requests), from /proc/PID/stat: the
#               whole process's (the last line's ratio), and beside it, "-idle", what is left after
#               the process's own CPU while idle for as long (Baton's cluster and checks run then too)
# Baton runs with the systemd unit's JVM options (packaging/jvm.options) and limits as open as HAProxy's here
# (no per-server maximum, 8 000 connections); HAProxy with its
# defaults (one thread per core). Installs haproxy, nginx-light, wrk and openssl (as root) if missing.
# Ends with one line (Baton / HAProxy, medians):
#   l7 http_rps_ratio=… http_p99_ratio=… tcp_rps_ratio=… tcp_p99_ratio=… conn_rps_ratio=…
#      c1000_rps_ratio=… big_mbps_ratio=… http_cpu_ratio=… tcp_cpu_ratio=… https_rps_ratio=… https_p99_ratio=…
# (big_mbps_ratio: the lower of the 1 MB and 50 MB medians)
set -euo pipefail

rounds="${1:-5}"
seconds="${2:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d /tmp/baton-bench-l7.XXXXXX)"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
    [[ $(id -u) -eq 0 ]] || { echo "bench/l7.sh: needs ${need[*]} (run as root to install them)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/l7.sh: nothing listens on port $1" >&2
    exit 1
}

mkdir -p "$work/files/big"
head -c 1048576 /dev/urandom >"$work/files/big/1m"
head -c 52428800 /dev/urandom >"$work/files/big/50m"
chmod 755 "$work" "$work/files" "$work/files/big"; chmod 644 "$work"/files/big/*   # nginx's workers run as nobody
backend1=$(free_port); backend2=$(free_port)
for n in 1 2; do
    port=$([[ $n == 1 ]] && echo "$backend1" || echo "$backend2")
    mkdir -p "$work/nginx$n"
    cat >"$work/nginx$n/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $work/nginx$n/error.log warn;
pid $work/nginx$n/nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { return 200 "hello from backend $n\n"; }
        location /big/ { root $work/files; }
    }
}
CONF
    nginx -p "$work/nginx$n" -c "$work/nginx$n/nginx.conf" &
    pids+=($!)
done
wait_port "$backend1"; wait_port "$backend2"

# one certificate and key for both proxies' TLS (HAProxy wants them in one file)
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test,IP:127.0.0.1 -keyout "$work/tls/bench.key" -out "$work/tls/bench.pem" 2>/dev/null
chmod 600 "$work/tls/bench.key"
cat "$work/tls/bench.pem" "$work/tls/bench.key" >"$work/tls/haproxy.pem"

haproxy_http=$(free_port); haproxy_tcp=$(free_port); haproxy_https=$(free_port)
cat >"$work/haproxy.cfg" <<CONF
global
    maxconn 8000
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
frontend https_in
    mode http
    bind 127.0.0.1:$haproxy_https ssl crt $work/tls/haproxy.pem ssl-min-ver TLSv1.3
    default_backend http_servers
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
haproxy_pid=$!
pids+=($haproxy_pid)

baton_http=$(free_port); baton_tcp=$(free_port); baton_https=$(free_port); baton_admin=$(free_port)
cat >"$work/baton.yaml" <<CONF
cluster: { name: bench, nodes: [{ id: bench1, address: 127.0.0.1:$(free_port), admin: 127.0.0.1:$baton_admin }] }
vips: [{ name: vip, address: 127.0.0.1/32, interface: lo }]
max-connections: 8000
services:
  - name: http
    vip: vip
    ports: [$baton_http]
    mode: l7-snat
    l7: http
    scheduler: rr
    limits: { max-connections: 8000, server-max-connections: 8000 }
    servers: [{ name: s1, address: 127.0.0.1:$backend1 }, { name: s2, address: 127.0.0.1:$backend2 }]
  - name: https
    vip: vip
    ports: [$baton_https]
    mode: l7-snat
    l7: http
    scheduler: rr
    tls: { certificates: [{ certificate: $work/tls/bench.pem, key: $work/tls/bench.key }] }
    limits: { max-connections: 8000, server-max-connections: 8000 }
    servers: [{ name: s1, address: 127.0.0.1:$backend1 }, { name: s2, address: 127.0.0.1:$backend2 }]
  - name: tcp
    vip: vip
    ports: [$baton_tcp]
    mode: l7-snat
    l7: tcp
    scheduler: rr
    limits: { max-connections: 8000, server-max-connections: 8000 }
    servers: [{ name: s1, address: 127.0.0.1:$backend1 }, { name: s2, address: 127.0.0.1:$backend2 }]
CONF
"$root/baton" --version >/dev/null   # builds the jar if needed, before the clock matters
java @"$root/packaging/jvm.options" ${BATON_JAVA_OPTS:-} -jar "$root/appliance-core/target/baton.jar" node --config "$work/baton.yaml" \
    --node bench1 --state-dir "$work/state" --log-level WARN >"$work/baton.log" 2>&1 &
baton_pid=$!
pids+=($baton_pid)
wait_port "$haproxy_http"; wait_port "$haproxy_tcp"; wait_port "$haproxy_https"
wait_port "$baton_http"; wait_port "$baton_tcp"; wait_port "$baton_https"

cat >"$work/paced.lua" <<'LUA'
function delay() return 5 end
LUA

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "nan" } }'
}
to_mb() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /GB$/) { sub(/GB$/, "", v); printf "%.1f", v * 1024 }
        else if (v ~ /MB$/) { sub(/MB$/, "", v); printf "%.1f", v }
        else if (v ~ /KB$/) { sub(/KB$/, "", v); printf "%.3f", v / 1024 }
        else { sub(/B$/, "", v); printf "%.6f", v / 1048576 } }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wrk, refusing a run in which anything but 2xx came back (a broken setup measures error pages)
load() {
    local out
    out=$(wrk "$@")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "bench/l7.sh: wrk $*: $(grep Non-2xx <<<"$out")" >&2
        exit 1
    fi
    echo "$out"
}

# one measurement: prints "VALUE [P99]" for the regime through the port of one proxy
measure() { # regime port pid
    local regime=$1 port=$2 pid=$3 out url="http://127.0.0.1:$2/"
    case $regime in
        http|tcp|https) [[ $regime == https ]] && url="https://127.0.0.1:$port/"
            out=$(load -t1 -c64 -d"${seconds}s" --latency "$url")
            echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")" ;;
        c1000) out=$(load -t2 -c1000 -d"${seconds}s" --timeout 5s "$url")
            awk '/^Requests\/sec:/ {print $2}' <<<"$out" ;;
        conn) out=$(load -t1 -c16 -d"${seconds}s" -H "Connection: close" "$url")
            awk '/^Requests\/sec:/ {print $2}' <<<"$out" ;;
        big1m) out=$(load -t1 -c8 -d"${seconds}s" --timeout 10s "${url}big/1m")
            to_mb "$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")"; echo ;;
        big50m) out=$(load -t1 -c2 -d"${seconds}s" --timeout 20s "${url}big/50m")
            to_mb "$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")"; echo ;;
        cpu-http|cpu-tcp)
            # the whole process's CPU per request; then, beside it, what is left after the process's
            # own CPU while idle for as long (Baton's cluster, checks and stall watch; HAProxy's ~0)
            local before after requests idle
            before=$(cpu_ticks "$pid")
            sleep "$seconds"
            idle=$(( $(cpu_ticks "$pid") - before ))
            before=$(cpu_ticks "$pid")
            out=$(load -t1 -c16 -d"${seconds}s" -s "$work/paced.lua" "$url")
            after=$(cpu_ticks "$pid")
            requests=$(awk '/requests in/ {print $1}' <<<"$out")
            awk -v t=$((after - before)) -v i="$idle" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
                'BEGIN { printf "%.2f %.2f\n", t * 1e6 / hz / n, (t - i) * 1e6 / hz / n }' ;;
    esac
}

read -r -a regimes <<<"${REGIMES:-http tcp https c1000 conn big1m big50m cpu-http cpu-tcp}"   # REGIMES: a subset
port_of() { # proxy regime
    case "$1:$2" in
        baton:tcp|baton:cpu-tcp) echo "$baton_tcp" ;;
        baton:https) echo "$baton_https" ;;
        haproxy:https) echo "$haproxy_https" ;;
        baton:*) echo "$baton_http" ;;
        haproxy:tcp|haproxy:cpu-tcp) echo "$haproxy_tcp" ;;
        haproxy:*) echo "$haproxy_http" ;;
    esac
}
pid_of() { [[ $1 == baton ]] && echo "$baton_pid" || echo "$haproxy_pid"; }

# warm up the JIT and the connection pools of both proxies the same way
for proxy in baton haproxy; do
    for regime in http tcp https conn big1m; do
        seconds=3 measure "$regime" "$(port_of $proxy $regime)" "$(pid_of $proxy)" >/dev/null
    done
done

declare -A value p99 ratios p99ratios above
for round in $(seq 1 "$rounds"); do
    for regime in "${regimes[@]}"; do
        order=(baton haproxy)
        (( (round + ${#regime}) % 2 == 0 )) && order=(haproxy baton)
        for proxy in "${order[@]}"; do
            read -r v p <<<"$(measure "$regime" "$(port_of "$proxy" "$regime")" "$(pid_of "$proxy")")"
            value[$proxy:$regime]="${value[$proxy:$regime]:-} $v"
            if [[ $regime == cpu-* ]]; then
                above[$proxy:$regime]="${above[$proxy:$regime]:-} $p"
            elif [[ -n ${p:-} ]]; then
                p99[$proxy:$regime]="${p99[$proxy:$regime]:-} $p"
            fi
        done
        b=$(awk '{print $NF}' <<<"${value[baton:$regime]}"); h=$(awk '{print $NF}' <<<"${value[haproxy:$regime]}")
        ratios[$regime]="${ratios[$regime]:-} $(awk -v a="$b" -v c="$h" 'BEGIN { printf "%.3f", a / c }')"
        if [[ -n ${p99[baton:$regime]:-} ]]; then
            b=$(awk '{print $NF}' <<<"${p99[baton:$regime]}"); h=$(awk '{print $NF}' <<<"${p99[haproxy:$regime]}")
            p99ratios[$regime]="${p99ratios[$regime]:-} $(awk -v a="$b" -v c="$h" 'BEGIN { printf "%.3f", a / c }')"
        fi
    done
    echo "round $round of $rounds done" >&2
done

median() { tr ' ' '\n' <<<"$*" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) printf "-"; else if (NR % 2) printf "%.2f", v[(NR + 1) / 2]
    else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' <<<"$*" | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
unit_of() { case $1 in big*) echo "MB/s" ;; cpu*) echo "us/req" ;; *) echo "req/s" ;; esac; }

printf '\n%-10s %-7s %12s %12s %8s %12s\n' "regime" "unit" "baton" "haproxy" "ratio" "spread"
for regime in "${regimes[@]}"; do
    printf '%-10s %-7s %12s %12s %8s %12s\n' "$regime" "$(unit_of "$regime")" "$(median ${value[baton:$regime]})" \
        "$(median ${value[haproxy:$regime]})" "$(median ${ratios[$regime]})" "$(spread ${ratios[$regime]})"
    if [[ $regime == cpu-* ]]; then
        printf '%-10s %-7s %12s %12s %8s\n' "$regime" "-idle" "$(median ${above[baton:$regime]})" \
            "$(median ${above[haproxy:$regime]})" "$(awk -v a="$(median ${above[baton:$regime]})" \
            -v c="$(median ${above[haproxy:$regime]})" 'BEGIN { printf "%.2f", a / c }')"
    fi
    if [[ -n ${p99ratios[$regime]:-} ]]; then
        printf '%-10s %-7s %12s %12s %8s %12s\n' "$regime" "p99 ms" "$(median ${p99[baton:$regime]})" \
            "$(median ${p99[haproxy:$regime]})" "$(median ${p99ratios[$regime]})" "$(spread ${p99ratios[$regime]})"
    fi
done
echo "($rounds alternating rounds of ${seconds} s per measurement, medians of the rounds' ratios; $(nproc) cores;"
echo " Baton: java @packaging/jvm.options; HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'), defaults)"
big=$(awk -v a="$(median ${ratios[big1m]:-})" -v b="$(median ${ratios[big50m]:-})" \
    'BEGIN { if (a == "-" || b == "-") print (a == "-" ? b : a); else printf "%.2f", a + 0 < b + 0 ? a : b }')
echo "l7 http_rps_ratio=$(median ${ratios[http]:-}) http_p99_ratio=$(median ${p99ratios[http]:-}) tcp_rps_ratio=$(median ${ratios[tcp]:-}) tcp_p99_ratio=$(median ${p99ratios[tcp]:-}) conn_rps_ratio=$(median ${ratios[conn]:-}) c1000_rps_ratio=$(median ${ratios[c1000]:-}) big_mbps_ratio=$big http_cpu_ratio=$(median ${ratios[cpu-http]:-}) tcp_cpu_ratio=$(median ${ratios[cpu-tcp]:-}) https_rps_ratio=$(median ${ratios[https]:-}) https_p99_ratio=$(median ${p99ratios[https]:-})"
