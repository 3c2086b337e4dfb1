#!/bin/sh
# faults.sh: jobs that lose part of the cluster mid-flight, on a master and 3 agents of 1
# slot on loopback (started here, stopped at the end, also when a check fails). Each job is
# build/test/fault_job (a word count in three stages, slowed down so that the fault lands
# while it runs) and its output must be local mode's, byte for byte:
#   1. an executor killed with SIGKILL: its task runs again, its partial output unread;
#   2. an agent killed with SIGKILL while later stages still need its blocks: the driver
#      runs its finished tasks again on the others (lineage) and the job finishes; and an
#      agent stopped with SIGSTOP (a host that hangs): ten beats missed, the same;
#   3. (the master killed and started again mid-job: tests/cluster.sh);
#   4. a user function that fails on one row: the job fails at once, no second attempt,
#      with step, shard, file, line and message, and no executor of it is left; so does
#      a sum past the int64 range (group_stats), with the key, and no total printed;
#      and a second flow whose tasks would carry 68 MB of the first's rows, before it runs;
#   5. the driver killed with SIGKILL: within 10 s no executor of it is left and every
#      agent has dropped its data;
#   6. a task that is killed every time: the job fails after 4 attempts with its last error;
#   and 6 jobs at once on the 3 slots, executors killed among them: each answer whole;
#   7. an agent whose -dir is full (a tmpfs of the binary and 2 MB, -memory 1): its blocks
#      go to another agent; one whose -dir cannot hold the binary is left out of the job;
#      with every agent full the job fails and names the directory. Skipped, with
#      the reason, where the machine cannot mount a tmpfs.
# Every wait is bounded. Run: sh tests/faults.sh (after make; called by tests/run).
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh
lib_init faults

for b in gleam gen test/fault_job; do
    [ -x "build/$b" ] || lib_die "build/$b is missing: run make test first"
done
JOB=build/test/fault_job

lib_cluster 3 -slots 1 -memory 64
children() { for a in $APIDS; do pgrep -P "$a"; done 2> /dev/null; }
# until COMMAND... succeeds, at most 20 s: 0, or 1
within_20s() {
    w=0
    until "$@"; do
        [ $w -ge 200 ] && return 1
        sleep 0.1
        w=$((w + 1))
    done
}
has_children() { [ -n "$(children)" ]; }
wait_children() { within_20s has_children; } # an executor has started
wait_file() { within_20s test -e "$1"; }
# until no agent has a child, at most $1 tenths of a second; prints the tenths waited
wait_no_children() {
    w=0
    while [ -n "$(children)" ] && [ $w -lt "$1" ]; do
        sleep 0.1
        w=$((w + 1))
    done
    echo $w
}
# run the job on the cluster in the background: DRIVER is its pid
dist() {
    $TO $JOB "$@" -distributed -gleam.master="$M" > "$T/dist.out" 2> "$T/dist.err" &
    DRIVER=$!
}

build/gen text 20000000 7 > "$T/text.txt"
$JOB "$T/text.txt" > "$T/local.out" 2> "$T/local.err" || lib_die "the job fails locally: $(head -c 300 "$T/local.err")"
[ "$(wc -l < "$T/local.out")" -gt 100000 ] || lib_die "the local answer is too small"
SLOW="-slow 20000 -slow2 3000"

# ---- 1. an executor killed ------------------------------------------------------------------
dist $SLOW "$T/text.txt"
if wait_children; then
    sleep 0.3
    victim=$(children | head -n 1)
    kill -9 "$victim"
fi
wait $DRIVER
rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out" && grep -q 'killed by signal 9; attempt 1 of 4 failed, it runs again' "$T/dist.err"; then
    lib_pass "an executor killed with SIGKILL: its task ran again, the answer is local mode's"
else
    lib_fail "an executor killed with SIGKILL (exit $rc)" "$T/dist.err"
fi

# ---- 4. a user function fails on one row ----------------------------------------------------
{ head -n 5000 "$T/text.txt"; echo "a b POISON c"; tail -n 5000 "$T/text.txt"; } > "$T/poison.txt"
$TO $JOB "$T/poison.txt" > "$T/out" 2> "$T/local.err"
dist "$T/poison.txt"
wait $DRIVER
rc=$?
left=$(wait_no_children 20)
msg=$(tail -n 1 "$T/dist.err")
if [ $rc -ne 0 ] && ! grep -q 'runs again' "$T/dist.err" && [ "$(children | wc -l)" -eq 0 ] &&
    echo "$msg" | grep -q 'step 2 map(words), shard [0-9]* of 3, .*poison.txt line 5001: a poisoned row: "a b POISON c"$'; then
    lib_pass "a user function's error fails the job at once, every executor gone $((left * 100)) ms after: $msg"
else
    lib_fail "a user function's error (exit $rc, local: $(tail -n 1 "$T/local.err"))" "$T/dist.err"
fi

# ---- 4b. a sum past the int64 range, found only where the shards' partial sums merge --------
awk 'BEGIN { print "big\t5000000000000000000"; for (i = 0; i < 30000; i++) print "f" i "\t1"; print "big\t5000000000000000000" }' > "$T/merge.tsv"
$TO build/group_stats "$T/merge.tsv" -distributed -gleam.master="$M" > "$T/out" 2> "$T/dist.err"
rc=$?
msg=$(tail -n 1 "$T/dist.err")
if [ $rc -ne 0 ] && ! grep -q 'runs again' "$T/dist.err" && ! grep -q '^big' "$T/out" &&
    echo "$msg" | grep -q 'reduce_by(mergeStats), shard [0-9]* of [0-9]*: key "big", merging partial folds: integer overflow: 5000000000000000000 + 5000000000000000000 is out of the int64 range$'; then
    lib_pass "a sum past the int64 range on the cluster fails the job at once, no total printed: $msg"
else
    lib_fail "a sum past the int64 range on the cluster (exit $rc)" "$T/dist.err"
fi

# ---- 4c. a second flow whose tasks would carry more than a message holds ------------------------
build/gen text 70000000 3 > "$T/big.txt"
$TO $JOB -collect "$T/big.txt" -distributed -gleam.master="$M" > "$T/out" 2> "$T/dist.err"
rc=$?
msg=$(tail -n 1 "$T/dist.err")
if [ $rc -ne 0 ] && grep -q '^[0-9]* lines$' "$T/out" && ! grep -q '^\[stage' "$T/dist.err" &&
    echo "$msg" | grep -q 'flow "fault job": the rows that earlier flows collected (6[0-9].[0-9] MB) do not fit in a task.s message (64 MB'; then
    lib_pass "a flow after one that collected 68 MB fails before a task runs, and says why: $msg"
else
    lib_fail "a flow after one that collected 68 MB (exit $rc)" "$T/dist.err"
fi
rm -f "$T/big.txt"

# ---- 6. a task killed at every attempt ------------------------------------------------------
dist -die "$T/text.txt"
wait $DRIVER
rc=$?
msg=$(tail -n 1 "$T/dist.err")
if [ $rc -ne 0 ] && [ "$(grep -c 'runs again' "$T/dist.err")" -ge 3 ] &&
    echo "$msg" | grep -q 'killed by signal 9 (attempt 4 of 4: it failed every time)'; then
    lib_pass "a task killed at every attempt fails the job after 4: $msg"
else
    lib_fail "a task killed at every attempt (exit $rc)" "$T/dist.err"
fi

# ---- 5. the driver killed ----------------------------------------------------------------------
$JOB $SLOW "$T/text.txt" -distributed -gleam.master="$M" > "$T/dist.out" 2> "$T/dist.err" &
DRIVER=$!
if wait_children; then
    sleep 0.5
    kill -9 $DRIVER
    wait $DRIVER 2> /dev/null
    left=$(wait_no_children 100)
    i=0
    while [ $i -lt 50 ]; do
        curl -s --max-time 5 "http://$M/status.json" > "$T/status.json" 2> /dev/null
        grep -q '"kept_bytes":[1-9]' "$T/status.json" || break
        sleep 0.1
        i=$((i + 1))
    done
    if [ "$(children | wc -l)" -eq 0 ] && [ -s "$T/status.json" ] && ! grep -q '"kept_bytes":[1-9]' "$T/status.json"; then
        lib_pass "the driver killed with SIGKILL: no executor of it left $((left * 100)) ms later (10 s allowed), its data dropped"
    else
        lib_fail "the driver killed with SIGKILL: $(children | wc -l) executor(s) left" "$T/status.json"
    fi
else
    lib_fail "the driver to be killed started no executor" "$T/dist.err"
fi

# ---- jobs at once, executors killed among them: every answer whole, none lost or doubled ----
NJOBS=6
i=1
while [ $i -le $NJOBS ]; do
    build/gen text 3000000 $((100 + i)) > "$T/many$i.txt"
    $JOB "$T/many$i.txt" > "$T/many$i.local" 2> "$T/many$i.err" || lib_die "job $i fails locally: $(head -c 300 "$T/many$i.err")"
    i=$((i + 1))
done
pids=
i=1
while [ $i -le $NJOBS ]; do
    $TO $JOB -slow 100000 "$T/many$i.txt" -distributed -gleam.master="$M" > "$T/many$i.out" 2> "$T/many$i.err" &
    pids="$pids $!"
    i=$((i + 1))
done
killed=0
for k in 1 2 3; do # stage 1 of each job takes about a second a task
    wait_children || break
    sleep 0.7
    victim=$(children | head -n 1)
    [ -n "$victim" ] && kill -9 "$victim" 2> /dev/null && killed=$((killed + 1))
done
good=0 i=1 again=0
for p in $pids; do
    wait "$p" && cmp -s "$T/many$i.local" "$T/many$i.out" && good=$((good + 1))
    again=$((again + $(grep -c 'runs again' "$T/many$i.err")))
    i=$((i + 1))
done
if [ $good -eq $NJOBS ] && [ $killed -ge 1 ] && [ $again -ge 1 ]; then
    lib_pass "$NJOBS jobs at once on 3 slots, $killed executors killed among them ($again tasks ran again): every answer is local mode's, byte for byte"
else
    lib_fail "$NJOBS jobs at once: $good answered as local mode, $killed executors killed, $again tasks ran again" "$T/many1.err"
fi

# ---- 2. an agent killed while later stages need its blocks ------------------------------------
rm -f "$T/mark"
dist $SLOW -mark "$T/mark" "$T/text.txt"
if wait_file "$T/mark"; then
    sleep 0.3
    set -- $APIDS
    kill -9 "$1"
    gone=$1
fi
wait $DRIVER
rc=$?
i=0 # the killed agent's executors end by themselves: their agent's end of the socket is gone
while pgrep -f "$T/agent1/bin/" > /dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out" && grep -q 'is gone; [1-9][0-9]* finished tasks* of job .* again on the others' "$T/dist.err" &&
    ! pgrep -f "$T/agent1/bin/" > /dev/null; then
    lib_pass "an agent killed with SIGKILL mid-job: $(grep -o '[0-9]* finished tasks* of job' "$T/dist.err" | head -n 1 | cut -d' ' -f1-3) recomputed, the answer is local mode's"
else
    lib_fail "an agent killed with SIGKILL (exit $rc)" "$T/dist.err"
fi

# ---- 2b. an agent that hangs (SIGSTOP), as a host that stops answering -----------------------
set -- $APIDS
dist $SLOW "$T/text.txt"
if wait_children; then
    sleep 0.3
    kill -STOP "$2"
fi
wait $DRIVER
rc=$?
kill -CONT "$2"
if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out" && grep -q 'is gone; [0-9]* finished tasks* of job' "$T/dist.err"; then
    lib_pass "an agent that stops answering mid-job: ten beats missed, its tasks ran on the others, the answer is local mode's"
else
    lib_fail "an agent that stops answering (exit $rc)" "$T/dist.err"
fi
lib_stop

# ---- 7. a full -dir ---------------------------------------------------------------------------
# small: the job's binary and 2 MB more (the binary is kept under -dir too); tiny: half the binary
mkdir -p "$T/small1" "$T/small2" "$T/small3" "$T/tiny"
kb=$(($(wc -c < "$JOB") / 1024))
if mount -t tmpfs -o size=$((kb + 2048))k gleam-faults "$T/small1" 2> "$T/mount.err" &&
    mount -t tmpfs -o size=$((kb + 2048))k gleam-faults "$T/small2" && mount -t tmpfs -o size=$((kb + 2048))k gleam-faults "$T/small3" &&
    mount -t tmpfs -o size=$((kb / 2))k gleam-faults "$T/tiny"; then
    trap 'lib_stop; umount "$T/small1" "$T/small2" "$T/small3" "$T/tiny" 2> /dev/null; rm -rf "$T"' EXIT
    lib_cluster 3 -slots 1 -memory 64 # the first agent fills up, the others have room
    kill -9 $(echo $APIDS | cut -d' ' -f1)
    build/gleam agent -master "$M" -listen 127.0.0.1 -port 0 -dir "$T/small1" -slots 1 -memory 1 2> "$T/small1.log" &
    PIDS="$PIDS $!"
    wait_for "$T/master.log" 'registered' 4 15 || lib_die "the agent on a small tmpfs did not register"
    sleep 2.5 # the master forgets the killed agent
    dist "$T/text.txt"
    wait $DRIVER
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out" && grep -q 'cannot keep a block under .*small1: No space left on device; attempt 1 of 4 failed, it runs again' "$T/dist.err"; then
        lib_pass "an agent's -dir full: its tasks ran again on another agent, the answer is local mode's"
    else
        lib_fail "an agent's -dir full (exit $rc)" "$T/dist.err"
    fi
    lib_stop
    lib_cluster 3 -slots 1 -memory 64 # an agent whose -dir cannot even hold the binary
    kill -9 $(echo $APIDS | cut -d' ' -f1)
    build/gleam agent -master "$M" -listen 127.0.0.1 -port 0 -dir "$T/tiny" -slots 1 -memory 64 2> "$T/tiny.log" &
    PIDS="$PIDS $!"
    wait_for "$T/master.log" 'registered' 4 15 || lib_die "the agent on a tiny tmpfs did not register"
    sleep 2.5
    dist "$T/text.txt"
    wait $DRIVER
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$T/local.out" "$T/dist.out" && grep -q 'cannot write the binary under .*tiny: No space left on device' "$T/dist.err" &&
        grep -q 'goes on with 2 of its 3 agents' "$T/dist.err" && [ -z "$(ls "$T/tiny/bin" 2> /dev/null)" ]; then
        lib_pass "an agent's -dir too small for the binary: the job went on without it, the answer is local mode's, no part file left"
    else
        lib_fail "an agent's -dir too small for the binary (exit $rc)" "$T/dist.err"
    fi
    lib_stop
    lib_cluster 0
    for i in 1 2 3; do
        build/gleam agent -master "$M" -listen 127.0.0.1 -port 0 -dir "$T/small$i" -slots 1 -memory 1 2> "$T/small$i.log" &
        PIDS="$PIDS $!"
    done
    wait_for "$T/master.log" 'registered' 3 15 || lib_die "the agents on small tmpfs did not register"
    dist "$T/text.txt"
    wait $DRIVER
    rc=$?
    msg=$(tail -n 1 "$T/dist.err")
    if [ $rc -ne 0 ] && echo "$msg" | grep -q 'cannot keep a block under .*small[123]: No space left on device'; then
        lib_pass "every agent's -dir full: the job fails and says why: $msg"
    else
        lib_fail "every agent's -dir full (exit $rc)" "$T/dist.err"
    fi
    lib_stop
    umount "$T/small1" "$T/small2" "$T/small3" "$T/tiny"
else
    lib_pass "a full -dir: skipped, this machine cannot mount a tmpfs: $(head -c 200 "$T/mount.err")"
    for d in small1 small2 small3 tiny; do umount "$T/$d" 2> /dev/null; done
fi
lib_done
