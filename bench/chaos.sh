#!/usr/bin/env bash
# Chaos soak: many failures of mixed kinds, on a pair and on three nodes, under wrk load and with
# config applies in between, while a sampler watches for two holders and a prober for gaps:
#
#   lan (bridge) ── lb1 10.252.X.11 ── lb2 .12 ── lb3 .13 ── client .2 ── real server .21:8080
#
#   bench/chaos.sh [FAILURES]        (default 100, half on two nodes, half on three; needs root)
#
# Failures, chosen at random (seeded: SEED=N repeats a run), mostly of the active node: kill -9,
# SIGTERM, its VIP link down for 0.5-2 s, SIGSTOP for 0.5-3 s, its cluster links cut (nft) and
# healed 1-3 s later. After each, the node is brought back and the cluster left to become whole
# (every node sees one ACTIVE and the others PASSIVE) before the next. Between failures a config
# is applied through a live node's admin API; each acknowledged revision (number, checksum) must
# end up in every node's history.log with that checksum, and every node must end on the newest.
#
# Then two phases without any failure, on the pair, whose view and role changes are counted
# (there must be none): HOG_SECONDS (default 60) with a busy process per core beside the nodes,
# and PAUSES (default 10) SIGSTOPs of the active, by turns 100 ms (shorter than failure detection)
# and 400 ms (a JVM starved or paused that long: its kernel still answers, and it is no failure).
#
# A sampler (every 10 ms) counts moments at which two nodes have the VIP on their interface; a
# prober (a new connection per request, back to back) gives each failure's gap: the longest time
# between two answered requests around it. wrk's errors are the connections the failures broke.
# KINDS="linkdown cut" limits the failures to those kinds; LOG_LEVEL=DEBUG sets the nodes' log level
# (default INFO: the view and role changes are counted from the logs). BATON_JAR=FILE runs that jar
# instead of building one. KEEP=1 keeps the work directory (node logs, failures.log, probes.log). Ends with two lines:
#   chaos failures=N two_holders=N lost_applies=N max_gap_ms=N p50_gap_ms=N client_errors=N ...
#   chaos spurious_view_changes=N spurious_role_changes=N (hog Ns, P pauses of 100 and 400 ms)
set -euo pipefail

failures="${1:-100}"
hog_seconds="${HOG_SECONDS:-60}"
pauses="${PAUSES:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $(id -u) -eq 0 ]] || { echo "bench/chaos.sh: needs root (network namespaces)" >&2; exit 1; }
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v nft >/dev/null || need+=(nftables)
if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ -n ${BATON_JAR:-} ]]; then
    jar=$BATON_JAR   # the jar a test run built (ChaosIT)
else
    "$root/baton" --version >/dev/null   # builds the jar if needed
    jar="$root/appliance-core/target/baton.jar"
fi
RANDOM=${SEED:-$$}

id=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
subnet="10.252.$((16#${id:0:2}))."
vip="${subnet}100"
work=$(mktemp -d /tmp/baton-chaos.XXXXXX)
lan="bcs-$id"; client="bcc-$id"; server="bcr-$id"
declare -A ns=([lb1]="bc1-$id" [lb2]="bc2-$id" [lb3]="bc3-$id")
declare -A ip=([lb1]="${subnet}11" [lb2]="${subnet}12" [lb3]="${subnet}13")
declare -A pid=()
background=()
nodes=()

log() { echo "$(date -u +%H:%M:%S.%3N) $*" | tee -a "$work/failures.log" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
    for node in "${!pid[@]}"; do kill -CONT "${pid[$node]}" 2>/dev/null || true; kill -KILL "${pid[$node]}" 2>/dev/null || true; done
    for p in "${background[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    for n in "${ns[@]}" "$client" "$server" "$lan"; do ip netns del "$n" 2>/dev/null || true; done
    for n in 0 1 2 3 4; do ip link del "c$id$n" 2>/dev/null || true; done
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the network and the real server -----------------------------------------------------------
for n in "$lan" "${ns[lb1]}" "${ns[lb2]}" "${ns[lb3]}" "$client" "$server"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
done
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
n=0
for pair in "${ns[lb1]}:11" "${ns[lb2]}:12" "${ns[lb3]}:13" "$client:2" "$server:21"; do
    space=${pair%%:*}; host=${pair##*:}
    ip link add "c$id$n" type veth peer name "d$id$n"
    ip link set "c$id$n" netns "$space"
    ip -n "$space" link set "c$id$n" name eth0
    ip link set "d$id$n" netns "$lan"
    ip -n "$lan" link set "d$id$n" master br0
    ip -n "$lan" link set "d$id$n" up
    ip -n "$space" link set eth0 up
    ip -n "$space" addr add "$subnet$host/24" dev eth0
    n=$((n + 1))
done
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    server { listen ${subnet}21:8080; location / { return 200 "hello from rs1\n"; } }
}
CONF
ip netns exec "$server" nginx -c "$work/nginx.conf"
until ip netns exec "$client" curl -s -m 1 "http://${subnet}21:8080/" >/dev/null; do sleep 0.1; done
java -jar "$jar" keygen "$work/cluster.key" >/dev/null

config() { # generation node...
    local generation=$1; shift
    echo "cluster:"
    echo "  name: chaos-$id"
    echo "  key-file: $work/cluster.key"
    (($# == 2)) && echo "  witness: ${subnet}2"
    echo "  nodes:"
    local priority=250
    for node in "$@"; do
        echo "    - { id: $node, address: ${ip[$node]}:7800, admin: 127.0.0.1:9090, priority: $priority }"
        priority=$((priority - 100))
    done
    cat <<CONF
vips: [{ name: front, address: $vip/24, interface: eth0 }]
services:
  - name: web
    vip: front
    ports: [80]
    mode: l7-snat
    l7: http
    check: { type: http, path: /, interval: 1s, timeout: 500ms }
    servers: [{ name: rs1, address: ${subnet}21:8080, weight: $((generation % 200 + 1)) }]
CONF
}

api() { # node method path [file]
    local args=(-s -m 10 -X "$2")   # an apply waits up to 5 s for every member's acknowledgement
    [[ $# -ge 4 ]] && args+=(-H 'Content-Type: application/yaml' --data-binary "@$4")
    ip netns exec "${ns[$1]}" curl "${args[@]}" "http://127.0.0.1:9090$3" 2>/dev/null || true
}

start_node() {
    ip netns exec "${ns[$1]}" java @"$root/packaging/jvm.options" -jar "$jar" node --config "$work/baton.yaml" \
        --node "$1" --state-dir "$work/state-$1" --log-level "${LOG_LEVEL:-INFO}" >>"$work/$1.log" 2>&1 &
    pid[$1]=$!
}

holds() { ip -n "${ns[$1]}" -4 -o addr show dev eth0 2>/dev/null | grep -q " $vip/24 "; }

# Every node answers and sees one ACTIVE and the others PASSIVE.
whole() {
    local node status
    for node in "${nodes[@]}"; do
        status=$(api "$node" GET /api/v1/status)
        [[ $(grep -c '"role" : "ACTIVE"' <<<"$status") == 1 ]] || return 1
        [[ $(grep -c '"role" : "PASSIVE"' <<<"$status") == $((${#nodes[@]} - 1)) ]] || return 1
    done
}
await_whole() {
    local deadline=$(( $(now_ms) + 60000 ))
    until whole; do
        (( $(now_ms) < deadline )) || { log "the cluster did not become whole within 60 s"; return 1; }
        for node in "${nodes[@]}"; do
            kill -0 "${pid[$node]}" 2>/dev/null || { log "$node exited: $(tail -n 3 "$work/$node.log")"; return 1; }
        done
        sleep 0.2
    done
}
active() {
    local node
    for node in "${nodes[@]}"; do holds "$node" && { echo "$node"; return; }; done
    echo "${nodes[0]}"
}

# --- what watches ------------------------------------------------------------------------------
(while true; do
    # each look forks ip: the first holder is looked at again after the others, so that a handover
    # completing between two looks (one releases, the next claims) is not taken for an overlap
    seen=()
    for node in lb1 lb2 lb3; do holds "$node" && seen+=("$node"); done
    ((${#seen[@]} > 1)) && holds "${seen[0]}" && echo "$(now_ms) both"
    sleep 0.01
done) >"$work/holders" 2>/dev/null &
background+=($!)
(while true; do
    t=$(now_ms)
    if ip netns exec "$client" curl -s --connect-timeout 0.2 -m 0.5 "http://$vip/" 2>/dev/null | grep -q "hello from rs1"; then
        echo "$t 1"
    else
        echo "$t 0"
    fi
done) >"$work/probes.log" 2>/dev/null &
background+=($!)

acknowledged=0
apply() { # generation
    local node answer revision checksum
    node=${nodes[RANDOM % ${#nodes[@]}]}
    config "$1" "${nodes[@]}" >"$work/apply.yaml"
    answer=$(api "$node" PUT /api/v1/config "$work/apply.yaml")
    revision=$(sed -n 's/^ *"revision" : \([0-9]*\),*$/\1/p' <<<"$answer" | head -1)
    checksum=$(sed -n 's/^ *"checksum" : "\([^"]*\)",*$/\1/p' <<<"$answer" | head -1)
    if [[ -n $revision && -n $checksum ]]; then
        echo "$revision $checksum" >>"$work/acknowledged"
        acknowledged=$((acknowledged + 1))
    else
        log "apply through $node not acknowledged: $(tr -d '\n' <<<"$answer" | cut -c1-200)"
    fi
}

fail() { # kind node
    local kind=$1 node=$2 hold
    echo "$(now_ms) $kind $node" >>"$work/failure-times"
    log "${#nodes[@]} nodes: $kind of $node$(holds "$node" && echo ' (active)')"
    case $kind in
        kill9) kill -KILL "${pid[$node]}"; wait "${pid[$node]}" 2>/dev/null || true
               sleep 0.5; start_node "$node" ;;
        sigterm) kill -TERM "${pid[$node]}"; wait "${pid[$node]}" 2>/dev/null || true
                 start_node "$node" ;;
        linkdown) hold=$((500 + RANDOM % 1500))
                  ip -n "${ns[$node]}" link set eth0 down; sleep "$(bc_ms "$hold")"; ip -n "${ns[$node]}" link set eth0 up ;;
        sigstop) hold=$((500 + RANDOM % 2500))
                 kill -STOP "${pid[$node]}"; sleep "$(bc_ms "$hold")"; kill -CONT "${pid[$node]}" ;;
        cut) hold=$((1000 + RANDOM % 2000))
             ip netns exec "${ns[$node]}" nft -f - <<NFT
table inet chaos {
    chain in { type filter hook input priority 0; tcp dport 7800 drop; tcp sport 7800 drop; }
    chain out { type filter hook output priority 0; tcp dport 7800 drop; tcp sport 7800 drop; }
}
NFT
             sleep "$(bc_ms "$hold")"; ip netns exec "${ns[$node]}" nft delete table inet chaos ;;
    esac
    await_whole
    echo "$(now_ms)" >>"$work/recovery-times"
}
bc_ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

stop_nodes() {
    for node in "${nodes[@]}"; do kill -TERM "${pid[$node]}" 2>/dev/null || true; done
    for node in "${nodes[@]}"; do wait "${pid[$node]}" 2>/dev/null || true; unset "pid[$node]"; done
}

# --- the soak ----------------------------------------------------------------------------------
: >"$work/failure-times"; : >"$work/recovery-times"   # a run of 0 failures has none
read -r -a kinds <<<"${KINDS:-kill9 sigterm linkdown sigstop cut}"
generation=0
done_failures=0
for phase in 2 3; do
    nodes=(lb1 lb2); ((phase == 3)) && nodes=(lb1 lb2 lb3)
    config "$generation" "${nodes[@]}" >"$work/baton.yaml"
    rm -rf "$work"/state-*
    for node in "${nodes[@]}"; do start_node "$node"; done
    await_whole
    if [[ -z ${wrk_pid:-} ]]; then
        # wrk gives up at once when its first connections fail: it starts once a node holds the VIP,
        # and then counts the connections that failures break
        wrk_seconds=$(( failures * 12 + hog_seconds + 600 ))
        ip netns exec "$client" wrk -t1 -c8 -d"${wrk_seconds}s" --timeout 2s "http://$vip/" >"$work/wrk.log" 2>&1 &
        wrk_pid=$!
        background+=($wrk_pid)
    fi
    count=$(( phase == 2 ? failures / 2 : failures - failures / 2 ))
    for ((i = 0; i < count; i++)); do
        generation=$((generation + 1))
        apply "$generation"
        kind=${kinds[RANDOM % ${#kinds[@]}]}
        target=$(active)
        ((RANDOM % 4 == 0)) && target=${nodes[RANDOM % ${#nodes[@]}]}   # now and then a passive node
        fail "$kind" "$target"
        done_failures=$((done_failures + 1))
    done
    generation=$((generation + 1))
    apply "$generation"
    await_whole
    # every acknowledged revision is in every node's history with its checksum; all end on the newest
    lost=0
    if [[ -f $work/acknowledged ]]; then
        while read -r revision checksum; do
            for node in "${nodes[@]}"; do
                if grep -q "\"revision\":$revision," "$work/state-$node/history.log" \
                        && ! grep -q "\"revision\":$revision,\"checksum\":\"$checksum\"" "$work/state-$node/history.log"; then
                    log "lost apply: $node has revision $revision with another checksum than the acknowledged $checksum"
                    lost=$((lost + 1))
                fi
            done
            if ! grep -q "\"revision\":$revision,\"checksum\":\"$checksum\"" "$work"/state-*/history.log; then
                log "lost apply: no node has revision $revision ($checksum)"
                lost=$((lost + 1))
            fi
        done <"$work/acknowledged"
        newest=$(sort -n "$work/acknowledged" | tail -1 | cut -d' ' -f1)
        for node in "${nodes[@]}"; do
            applied=$(api "$node" GET /healthz | sed -n 's/^ *"revision" : \([0-9]*\).*/\1/p')
            if [[ $applied != "$newest" ]]; then
                log "lost apply: $node runs revision ${applied:-?}, not the newest acknowledged $newest"
                lost=$((lost + 1))
            fi
        done
        mv "$work/acknowledged" "$work/acknowledged-$phase"
    fi
    echo "$lost" >>"$work/lost"
    if ((phase == 3)); then
        stop_nodes
        break
    fi
    # --- no failure: a busy process per core, then pauses shorter than failure detection ----------
    marks=()
    for node in "${nodes[@]}"; do marks+=("$(grep -c 'cluster view' "$work/$node.log" || true)"); done
    roles_before=$(cat "$work"/lb[12].log | grep -c -E 'active role: |takes the active role|gives up the active role' || true)
    log "phase without failures: a busy loop per core for ${hog_seconds} s"
    hogs=()
    for ((core = 0; core < $(nproc); core++)); do
        (while :; do :; done) &
        hogs+=($!)
    done
    sleep "$hog_seconds"
    kill "${hogs[@]}" 2>/dev/null || true
    wait "${hogs[@]}" 2>/dev/null || true
    log "phase without failures: $pauses pauses of the active, by turns for 100 and 400 ms"
    for ((i = 0; i < pauses; i++)); do
        target=$(active)
        pause=0.1; ((i % 2)) && pause=0.4
        kill -STOP "${pid[$target]}"; sleep "$pause"; kill -CONT "${pid[$target]}"
        sleep 1
    done
    sleep 1
    spurious_views=0
    k=0
    for node in "${nodes[@]}"; do
        after=$(grep -c 'cluster view' "$work/$node.log" || true)
        spurious_views=$((spurious_views + after - marks[k]))
        if ((after > marks[k])); then
            # what changed, for whoever reads the run: the node's view lines and warnings since the mark
            log "$node: views during the phase without failures:"
            awk -v mark="${marks[k]}" '/cluster view/ { seen++ } seen >= mark && /cluster view| WARN /' \
                "$work/$node.log" | grep -v '^\s*at ' | cut -c1-300 | head -40 || true
        fi
        k=$((k + 1))
    done
    roles_after=$(cat "$work"/lb[12].log | grep -c -E 'active role: |takes the active role|gives up the active role' || true)
    spurious_roles=$((roles_after - roles_before))
    stop_nodes
done
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true

# --- the figures -------------------------------------------------------------------------------
two_holders=$(wc -l <"$work/holders")
if ((two_holders > 0)); then
    # what each node did around the first moments two held a VIP, for whoever reads the run
    head -3 "$work/holders" | while read -r at _; do
        second=$(date -u -d "@$((at / 1000))" +%H:%M:%S)
        before=$(date -u -d "@$((at / 1000 - 1))" +%H:%M:%S)
        log "two holders seen at $second.$(printf %03d $((at % 1000))); the nodes' logs around it:"
        for node in lb1 lb2 lb3; do
            [[ -f $work/$node.log ]] || continue
            grep -E "T($before|$second)" "$work/$node.log" | grep -E 'VIP|active|view|claim|releas|drain|fence|left|merge' \
                | cut -c1-300 | head -30 || true
        done
    done
fi
lost_applies=$(awk '{n += $1} END {print n + 0}' "$work/lost")
# each failure's gap: the longest time between two answered probes from just before it to its recovery
paste -d' ' "$work/failure-times" "$work/recovery-times" | awk -v probes="$work/probes.log" '
    BEGIN { while ((getline line < probes) > 0) { split(line, f, " "); if (f[2] == 1) ok[++n] = f[1] } }
    { from = $1; to = $4; last = 0; gap = 0
      for (i = 1; i <= n; i++) {
          if (ok[i] <= from) { last = ok[i]; continue }
          if (ok[i] > to) break
          if (last && ok[i] - last > gap) gap = ok[i] - last
          last = ok[i]
      }
      if (last < to && to - last > gap) gap = to - last
      print gap, $2, $3 }' >"$work/gaps"
max_gap=$(sort -n "$work/gaps" | tail -1 | cut -d' ' -f1)
p50_gap=$(cut -d' ' -f1 "$work/gaps" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}')
by_kind=$(awk '{ if ($1 > m[$2]) m[$2] = $1 } END { for (k in m) printf "%s_max_gap_ms=%d ", k, m[k] }' "$work/gaps")
errors=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' \
    "$work/wrk.log" | awk '{print $1 + $2 + $3 + $4}')
non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$work/wrk.log")
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.log")
cp "$work/failures.log" "/tmp/baton-chaos-last.log" 2>/dev/null || true
echo "(failures by kind: $(awk '{print $2}' "$work/failure-times" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'); applies acknowledged: $(cat "$work"/acknowledged-* 2>/dev/null | wc -l); wrk requests: ${requests:-?}; $by_kind)"
echo "chaos failures=$done_failures two_holders=$two_holders lost_applies=$lost_applies max_gap_ms=${max_gap:-0} p50_gap_ms=${p50_gap:-0} client_errors=$(( ${errors:-0} + ${non2xx:-0} ))"
echo "chaos spurious_view_changes=$spurious_views spurious_role_changes=$spurious_roles (a busy loop per core for ${hog_seconds} s, $pauses pauses of 100 and 400 ms)"
