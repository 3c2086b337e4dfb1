#!/bin/sh
# netns.sh: the distributed mode across network namespaces: a master and 2 agents, each in a
# namespace of its own with its own address, joined by veth pairs to a bridge in a fourth
# namespace, all made here and removed at the end (also on failure or interrupt). Every
# address used is inside those namespaces. A driver in the master's namespace must print
# what local mode prints; without a secret an agent must refuse a non-loopback address.
# Needs root and ip(8); where the machine refuses, every check says so and is skipped.
# Run: sh tests/netns.sh (after make; called by tests/run).
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
lib_init netns

skip() {
    lib_pass "skipped: $1"
    lib_done
}
[ "$(id -u)" = 0 ] || skip "not root: network namespaces need it"
command -v ip > /dev/null 2>&1 || skip "ip(8) is not installed (iproute2)"
for b in gleam gen word_count join_csv sort_lines; do
    [ -x "build/$b" ] || lib_die "build/$b is missing: run make first"
done

N=$(($$ % 200 + 20))
NET=10.213.$N
SW=glsw$$ MS=glm$$ A1=gla$$ A2=glb$$
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2> /dev/null; done
    sleep 0.2
    for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
    for ns in $MS $A1 $A2 $SW; do ip netns del "$ns" 2> /dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# The switch: a bridge in its own namespace; each member a namespace with a veth to it.
if ! ip netns add $SW 2> "$T/ip.err"; then skip "the machine refuses network namespaces: $(head -c 200 "$T/ip.err")"; fi
ip -n $SW link add br0 type bridge && ip -n $SW link set br0 up || skip "no bridge in a namespace"
i=1
for ns in $MS $A1 $A2; do
    ip netns add $ns &&
        ip -n $ns link add eth0 type veth peer name p$i netns $SW &&
        ip -n $SW link set p$i master br0 && ip -n $SW link set p$i up &&
        ip -n $ns addr add $NET.$i/24 dev eth0 && ip -n $ns link set eth0 up && ip -n $ns link set lo up ||
        skip "cannot wire namespace $ns"
    i=$((i + 1))
done

export GLEAM_SECRET="netns-secret-$$"
ip netns exec $MS build/gleam master -address $NET.1:45326 2> "$T/master.log" &
PIDS="$PIDS $!"
i=0
while ! grep -q listening "$T/master.log" 2> /dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
if command -v curl > /dev/null 2>&1 &&
    ! ip netns exec $A1 curl -s --max-time 5 "http://$NET.1:45326/status.json" > /dev/null 2>&1; then
    skip "the namespaces do not reach each other over the bridge"
fi
ip netns exec $A1 build/gleam agent -master $NET.1:45326 -host $NET.2 -port 45327 -dir "$T/a1" -slots 2 2> "$T/a1.log" &
PIDS="$PIDS $!"
ip netns exec $A2 build/gleam agent -master $NET.1:45326 -host $NET.3 -port 45327 -dir "$T/a2" -slots 2 2> "$T/a2.log" &
PIDS="$PIDS $!"
i=0
while [ "$(grep -c registered "$T/master.log" 2> /dev/null)" -lt 2 ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ "$(grep -c registered "$T/master.log")" -eq 2 ] && grep -q "agent $NET.2:45327 registered" "$T/master.log" &&
    grep -q "agent $NET.3:45327 registered" "$T/master.log"; then
    lib_pass "a master at $NET.1 and agents at $NET.2 and $NET.3, each in its own namespace"
else
    lib_fail "the agents did not register across namespaces" "$T/master.log"
fi

build/gen text 200000 5 > "$T/text.txt"
build/gen records 20000 4 > "$T/records.txt"
build/gen csv-a 20000 8000 1 > "$T/a.csv"
build/gen csv-b 20000 8000 2 > "$T/b.csv"
# across NAME MODE PROGRAM ARGS...: the driver in the master's namespace prints what local
# mode prints (MODE exact, or lines: the same lines in any order).
across() {
    a_name=$1 a_mode=$2
    shift 2
    $TO "$@" > "$T/local.out" 2> "$T/local.err"
    $TO ip netns exec $MS "$@" -distributed -gleam.master=$NET.1:45326 > "$T/dist.out" 2> "$T/dist.err"
    a_rc=$?
    if [ "$a_mode" = lines ]; then
        sort "$T/local.out" -o "$T/local.out"
        sort "$T/dist.out" -o "$T/dist.out"
    fi
    if [ $a_rc -eq 0 ] && [ -s "$T/local.out" ] && cmp -s "$T/local.out" "$T/dist.out"; then
        lib_pass "$a_name across namespaces: what local mode prints ($(wc -l < "$T/local.out") lines)"
    else
        lib_fail "$a_name across namespaces: exit $a_rc or another answer" "$T/dist.err"
    fi
}
across word_count lines build/word_count "$T/text.txt"
across sort_lines exact build/sort_lines "$T/records.txt"
across join_csv lines build/join_csv "$T/a.csv" "$T/b.csv"

# without a secret, an agent will not listen beyond loopback, and says why
env -u GLEAM_SECRET ip netns exec $A1 build/gleam agent -master $NET.1:45326 -listen $NET.2 -port 45399 -dir "$T/a3" \
    > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q 'loopback only' "$T/err"; then
    lib_pass "without a secret an agent refuses $NET.2: $(head -c 120 "$T/err")"
else
    lib_fail "without a secret, an agent on $NET.2: exit $rc" "$T/err"
fi
lib_done
