#!/bin/sh
# cluster.sh: the distributed mode on a cluster on loopback: a master and 3 agents of
# build/gleam on free ports, started here and stopped at the end, also when a check fails
# or the script is interrupted. Every example run with -distributed must print what it
# prints locally (byte for byte where its output is ordered, the same lines otherwise);
# executors must be processes of the job binary, not of the agent; a driver or an agent
# with the wrong secret is refused and runs nothing; a program built without gleam_net.h
# rejects -distributed. Run: sh tests/cluster.sh (after make; called by tests/run).
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
lib_init cluster

for b in gleam gen word_count word_count_pipe join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join top_lines; do
    [ -x "build/$b" ] || lib_die "build/$b is missing: run make first"
done

lib_cluster 3 -slots 2 -memory 64
lib_pass "a master and 3 agents on free ports of loopback"

# ---- every example, locally and on the cluster ------------------------------------------
build/gen text 300000 7 > "$T/text.txt"
build/gen records 20000 3 > "$T/records.txt"
build/gen csv-a 20000 8000 1 > "$T/a.csv"
build/gen csv-b 20000 8000 2 > "$T/b.csv"
{ echo "id,name,city,x,y"; build/gen csv-a 20000 30000 31; } > "$T/oa.csv"
build/gen csv-a 20000 30000 32 > "$T/ob.csv"
build/gen kv 50000 2000 4 1.2 > "$T/kv.tsv"
D=examples/data

# same NAME MODE CMD...: CMD locally and with -distributed: both exit 0 and print the same
# (MODE exact: byte for byte; lines: the same lines in any order).
same() {
    s_name=$1 s_mode=$2
    shift 2
    $TO "$@" > "$T/local.out" 2> "$T/local.err"
    s_lrc=$?
    $TO "$@" -distributed -gleam.master="$M" > "$T/dist.out" 2> "$T/dist.err"
    s_drc=$?
    if [ $s_lrc -ne 0 ] || [ $s_drc -ne 0 ]; then
        lib_fail "$s_name: exit $s_lrc locally, $s_drc distributed" "$T/dist.err"
        return
    fi
    if [ "$s_mode" = lines ]; then
        sort "$T/local.out" > "$T/local.s" && mv "$T/local.s" "$T/local.out"
        sort "$T/dist.out" > "$T/dist.s" && mv "$T/dist.s" "$T/dist.out"
    fi
    if [ ! -s "$T/local.out" ]; then
        lib_fail "$s_name: no output locally"
    elif cmp -s "$T/local.out" "$T/dist.out"; then
        lib_pass "$s_name: -distributed prints what local mode prints ($(wc -l < "$T/local.out") lines, $s_mode)"
    else
        diff "$T/local.out" "$T/dist.out" | head -n 20 > "$T/diff"
        cat "$T/dist.err" >> "$T/diff"
        lib_fail "$s_name: -distributed differs from local mode" "$T/diff"
    fi
}

same "word_count" lines build/word_count "$T/text.txt"
same "word_count -top 20" exact build/word_count -top 20 "$T/text.txt" "$D/flow.txt"
same "word_count_pipe" exact build/word_count_pipe "$D/flow.txt"
same "sort_lines" exact build/sort_lines "$T/records.txt"
same "join_csv" lines build/join_csv "$T/a.csv" "$T/b.csv"
same "group_stats" lines build/group_stats "$T/kv.tsv"
same "tfidf" exact build/tfidf "$D/flow.txt" "$D/users.txt" "$T/records.txt"
same "pi_estimation" exact build/pi_estimation -points 200000
same "union" exact build/union "$D/users.txt"
same "csv_outer_join" lines build/csv_outer_join "$D/people.csv" "$D/orders.csv"
same "csv_outer_join (generated)" lines build/csv_outer_join "$T/oa.csv" "$T/ob.csv"
same "top_lines (two flows, the second from the first's rows)" exact build/top_lines -top 30 "$T/text.txt" "$D/flow.txt"

# ---- a missing input on the agents: the agent, the step and the path ------------------------
$TO build/word_count "$T/no-such-file.txt" -distributed -gleam.master="$M" > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$T/out" ] && grep -q 'on agent 127\.0\.0\.1:[0-9]*: step 1 read: cannot open .*no-such-file.txt' "$T/err"; then
    lib_pass "a missing input fails with the agent, the step and the path: $(head -c 140 "$T/err")"
else
    lib_fail "a missing input on the agents: exit $rc" "$T/err"
fi

# ---- one agent of one slot: fewer slots than tasks, stages one after another ----------------
build/gleam master -address 127.0.0.1:0 2> "$T/master1.log" &
PIDS="$PIDS $!"
wait_for "$T/master1.log" 'listening on' 1 10 || lib_die "a second master did not start"
M1=127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/master1.log" | head -n 1)
build/gleam agent -master "$M1" -listen 127.0.0.1 -port 0 -dir "$T/agent-one" -slots 1 2> "$T/agent-one.log" &
PIDS="$PIDS $!"
wait_for "$T/master1.log" 'registered' 1 15 || lib_die "the agent of one slot did not register"
build/tfidf "$D/flow.txt" "$D/users.txt" "$T/records.txt" > "$T/local.out" 2> /dev/null
$TO build/tfidf "$D/flow.txt" "$D/users.txt" "$T/records.txt" -gleam.threads=4 -distributed -gleam.master="$M1" \
    > "$T/dist.out" 2> "$T/dist.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out"; then
    lib_pass "tfidf (6 stages) on one agent of one slot: what local mode prints"
else
    lib_fail "tfidf on one agent of one slot: exit $rc" "$T/dist.err"
fi

# ---- the executors are processes of the job binary ----------------------------------------
# A job binary of its own (a copy under another name), long enough to be seen: its
# executors must show up as the agents' children running that binary (kept by SHA-256).
cp build/pi_estimation "$T/pijob"
build/pi_estimation -points 2000000000 > "$T/pijob.ref" 2> /dev/null
"$T/pijob" -points 2000000000 -distributed -gleam.master="$M" > "$T/pijob.out" 2> "$T/pijob.err" &
JOB=$!
seen=0
i=0
while kill -0 $JOB 2> /dev/null && [ $i -lt 600 ] && [ $seen = 0 ]; do
    for c in $(for a in $APIDS; do pgrep -P "$a"; done 2> /dev/null); do
        exe=$(readlink "/proc/$c/exe" 2> /dev/null)
        case $exe in */bin/[0-9a-f]*) cmp -s "$exe" "$T/pijob" && seen=1 ;; esac
    done
    sleep 0.05
    i=$((i + 1))
done
wait $JOB
rc=$?
if [ $rc -eq 0 ] && [ $seen = 1 ] && cmp -s "$T/pijob.ref" "$T/pijob.out"; then
    lib_pass "executors are processes of the job binary (its copy kept by SHA-256), with local mode's answer"
else
    lib_fail "executors of the job binary: exit $rc, seen $seen" "$T/pijob.err"
fi
build/gen records 400000 5 > "$T/big.txt"
build/sort_lines "$T/big.txt" -distributed -gleam.master="$M" > "$T/sorter.out" 2> "$T/sorter.err"
if [ $? -eq 0 ] && sort "$T/big.txt" | cmp -s - "$T/sorter.out"; then
    lib_pass "a sort of 400000 records (41 MB) on the cluster is exact"
else
    lib_fail "the sort of 400000 records on the cluster" "$T/sorter.err"
fi
# The same sort on 2 agents of -memory 1: every block goes to the job's file under -dir, and
# the samples, the block index and the fetches read it from there.
build/gleam master -address 127.0.0.1:0 2> "$T/master2.log" &
PIDS="$PIDS $!"
if wait_for "$T/master2.log" 'listening on' 1 10; then
    M2=127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/master2.log" | head -n 1)
    for i in 1 2; do
        build/gleam agent -master "$M2" -listen 127.0.0.1 -port 0 -dir "$T/disk$i" -slots 1 -memory 1 2> "$T/disk$i.log" &
        PIDS="$PIDS $!"
    done
    wait_for "$T/master2.log" 'registered' 2 15
fi
build/sort_lines "$T/big.txt" -distributed -gleam.master="$M2" > "$T/sorter2.out" 2> "$T/sorter2.err"
if [ $? -eq 0 ] && sort "$T/big.txt" | cmp -s - "$T/sorter2.out"; then
    lib_pass "the same sort with every block kept on disk (agents of -memory 1) is exact"
else
    lib_fail "the sort with blocks kept on disk" "$T/sorter2.err"
fi

# ---- the status page, and Ctrl-C, while a job runs ----------------------------------------------
children() { for a in $APIDS; do pgrep -P "$a"; done 2> /dev/null; }
env --default-signal=INT build/pi_estimation -points 40000000000 -distributed -gleam.master="$M" > "$T/pi.out" 2> "$T/pi.err" &
DRIVER=$!
PIDS="$PIDS $DRIVER"
running=0
i=0
while [ $i -lt 100 ] && [ $running = 0 ]; do
    sleep 0.1
    i=$((i + 1))
    if command -v curl > /dev/null 2>&1; then
        curl -s --max-time 5 "http://$M/status.json" > "$T/status.json" 2> /dev/null
        grep -q '"state":"running","seconds":[0-9.]*,"stages":\[{"id":1,[^]]*"running":[1-9]' "$T/status.json" && running=1
    elif [ -n "$(children)" ]; then
        running=1
    fi
done
if ! command -v curl > /dev/null 2>&1; then
    lib_pass "status.json: skipped, curl is not installed"
elif [ $running = 1 ] && [ "$(grep -o '"address":"127.0.0.1:[0-9]*"' "$T/status.json" | wc -l)" -eq 3 ]; then
    lib_pass "status.json shows the 3 agents and the running job's stage with tasks running"
else
    lib_fail "status.json while a job runs" "$T/status.json"
fi
if ! command -v chromium > /dev/null 2>&1; then
    lib_pass "the status page in a browser: skipped, chromium is not installed"
else
    $TO chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/chromium" --dump-dom "http://$M/" \
        > "$T/dom.html" 2> "$T/chromium.err"
    agents=$(grep -o '<tr class="agent">' "$T/dom.html" | wc -l)
    if [ "$agents" -eq 3 ] && grep -q 'running, [0-9.]* s, driver' "$T/dom.html" && grep -q '<tr class="stage">' "$T/dom.html" &&
        grep -q '<svg' "$T/dom.html"; then
        lib_pass "the status page, as chromium renders it, shows 3 agents, the running job, its stages and its plan"
    else
        lib_fail "the status page in chromium ($agents agent rows)" "$T/dom.html"
    fi
fi
# Ctrl-C on the driver (a background job of sh ignores SIGINT: env gave it back its default)
# within 5 s no executor of it is left and the agents drop its data
kill -INT $DRIVER
i=0
while [ $i -lt 50 ] && [ -n "$(children)" ]; do
    sleep 0.1
    i=$((i + 1))
done
left=$(children | wc -l)
gone=$i
i=0
while [ $i -lt 30 ]; do
    curl -s --max-time 5 "http://$M/status.json" > "$T/status.json" 2> /dev/null
    grep -q '"jobs":[1-9]' "$T/status.json" || break
    sleep 0.1
    i=$((i + 1))
done
if [ "$left" -eq 0 ] && ! grep -q '"jobs":[1-9]' "$T/status.json" && ! grep -q '"kept_bytes":[1-9]' "$T/status.json"; then
    lib_pass "SIGINT on the driver: no executor of it left $(((gone + 1) * 100)) ms later (5 s allowed), its data dropped"
else
    lib_fail "SIGINT on the driver: $left executor(s) left" "$T/status.json"
fi
wait $DRIVER 2> /dev/null

# ---- the master killed and started again mid-job: the job finishes, everyone reconnects --------
build/pi_estimation -points 3000000000 > "$T/pi.local" 2> /dev/null
build/pi_estimation -points 3000000000 -distributed -gleam.master="$M" > "$T/pi.out" 2> "$T/pi.err" &
DRIVER=$!
PIDS="$PIDS $DRIVER"
i=0
while [ -z "$(children)" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -9 $MASTER
sleep 0.3
build/gleam master -address "$M" 2> "$T/master2.log" &
MASTER=$!
PIDS="$PIDS $MASTER"
wait_for "$T/master2.log" 'registered' 3 15
again=$(grep -c registered "$T/master2.log")
i=0
while [ $i -lt 50 ]; do
    curl -s --max-time 5 "http://$M/status.json" > "$T/status2.json" 2> /dev/null
    grep -q '"name":"pi estimation"' "$T/status2.json" && break
    sleep 0.1
    i=$((i + 1))
done
wait $DRIVER
rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/pi.local" "$T/pi.out" && [ "$again" -eq 3 ] && grep -q '"name":"pi estimation"' "$T/status2.json"; then
    lib_pass "the master killed and started again mid-job: the job finished with local mode's answer, 3 agents and the driver came back to it"
else
    lib_fail "the master killed mid-job: exit $rc, $again agents back" "$T/pi.err"
fi

# ---- refused --------------------------------------------------------------------------------
GLEAM_SECRET=wrong $TO build/word_count "$D/flow.txt" -distributed -gleam.master="$M" > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && [ ! -s "$T/out" ] && grep -q 'secret' "$T/err"; then
    lib_pass "a driver with the wrong secret is refused: $(head -c 160 "$T/err")"
else
    lib_fail "a driver with the wrong secret: exit $rc, $(wc -c < "$T/out") bytes out" "$T/err"
fi
env -u GLEAM_SECRET $TO build/word_count "$D/flow.txt" -distributed -gleam.master="$M" > "$T/out" 2> "$T/err"
rc=$?
if [ $rc -ne 0 ] && [ ! -s "$T/out" ] && grep -q 'secret' "$T/err"; then
    lib_pass "a driver without a secret is refused"
else
    lib_fail "a driver without a secret: exit $rc" "$T/err"
fi
GLEAM_SECRET=wrong build/gleam agent -master "$M" -listen 127.0.0.1 -port 0 -dir "$T/agent9" 2> "$T/agent9.log" &
BAD=$!
PIDS="$PIDS $BAD"
if wait_for "$T/master2.log" 'refused.*secret' 1 10 && ! grep -q registered "$T/agent9.log"; then
    lib_pass "an agent with the wrong secret is refused by the master"
else
    lib_fail "an agent with the wrong secret" "$T/agent9.log"
fi
kill $BAD 2> /dev/null

# ---- a program built without gleam_net.h ----------------------------------------------------
cat > "$T/plain.c" << 'EOF'
#define GLEAM_IMPLEMENTATION
#include "gleam.h"
#include <stdio.h>
int main(int argc, char **argv) {
    if (gleam_init(&argc, &argv) != GLEAM_OK) {
        fprintf(stderr, "%s\n", gleam_error(NULL));
        return 2;
    }
    return 0;
}
EOF
if cc -std=c11 -O0 -I. -o "$T/plain" "$T/plain.c" -pthread -lm 2> "$T/cc.err"; then
    "$T/plain" -distributed > "$T/out" 2> "$T/err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q 'built without gleam_net.h' "$T/err"; then
        lib_pass "a program built without gleam_net.h rejects -distributed: $(head -c 120 "$T/err")"
    else
        lib_fail "without gleam_net.h, -distributed: exit $rc" "$T/err"
    fi
else
    lib_fail "cannot build a program without gleam_net.h" "$T/cc.err"
fi

lib_stop
lib_done
