# hostile.sh: a master and an agent attacked over real sockets by a hostile peer
# (build/test/hostile, tests/hostile.c): noise, a message frame before the greeting (whole,
# and shorter than a greeting), a frame header that claims 4 GB (before and after the
# greeting) and one that claims the 64 MB allowed and sends 1 MB, frames cut short (closed,
# and left silent), the wrong secret, a greeting recorded through a relay and its proofs
# replayed both ways, 1000 idle connections to each server, peers that stop reading, HTTP
# requests that trickle or never end, names that are paths in every agent request that
# takes one, and markup in a job's name. Each check asserts the server's answer or its log
# line, that it dropped the offender within a bound, that its resident memory (VmRSS) stays
# bounded, that nothing was written outside the agent's -dir, and after every group of
# attacks that a real job still prints what it prints locally.
. tests/lib.sh
lib_init hostile
for b in gleam word_count test/hostile; do
    [ -x "build/$b" ] || lib_die "build/$b is missing: run make and make build/test/hostile first"
done
ulimit -n 4096 2> /dev/null # 1000 connections to each server, from one process each
H=build/test/hostile
D=examples/data

# ---- helpers: shell and coreutils only --------------------------------------------------

# last FILE WORD: the second word of the last line of FILE whose first word is WORD
last() {
    l_v=
    while read -r l_a l_b l_rest; do [ "$l_a" = "$2" ] && l_v=$l_b; done < "$1"
    echo "$l_v"
}
# has FILE TEXT: the number of lines of FILE holding TEXT; line FILE TEXT: the last of them
has() {
    h_n=0
    while IFS= read -r h_l; do case $h_l in *"$2"*) h_n=$((h_n + 1)) ;; esac; done < "$1"
    echo $h_n
}
line() {
    i_v=
    while IFS= read -r i_l; do case $i_l in *"$2"*) i_v=$i_l ;; esac; done < "$1"
    echo "$i_v"
}
# rss PID: its resident memory in kB; threads PID: its threads (a server's: one per
# connection, and its own)
rss() {
    r_v=0
    while read -r r_k r_n r_u; do [ "$r_k" = VmRSS: ] && r_v=$r_n; done < "/proc/$1/status"
    echo "$r_v"
}
threads() { ls "/proc/$1/task" | wc -l; }

# dropped WHAT OUT MAX_MS LOG TEXT N: the hostile peer's output OUT says the server closed
# its connection within MAX_MS, and LOG has more than N lines holding TEXT (-: none asked)
dropped() {
    d_ms=$(last "$2" closed)
    if [ -z "$d_ms" ] || [ "$d_ms" -gt "$3" ]; then
        lib_fail "$1: not dropped within $3 ms: $(tail -n 1 "$2")" "$2"
    elif [ "$5" != - ] && ! wait_for "$4" "$5" $(($6 + 1)) 5; then
        lib_fail "$1: dropped after $d_ms ms, but the log has no new line \"$5\"" "$4"
    elif [ "$5" = - ]; then
        lib_pass "$1: dropped after $d_ms ms"
    else
        d_l=$(line "$4" "$5")
        lib_pass "$1: dropped after $d_ms ms; log: ${d_l#gleam *: }"
    fi
}
# attack WHAT MAX_MS LOG TEXT ARGS...: the hostile peer with ARGS (its case, the server,
# the case's own), then dropped
attack() {
    a_what=$1 a_max=$2 a_log=$3 a_text=$4
    shift 4
    a_n=$(has "$a_log" "$a_text")
    $TO $H "$@" > "$T/hostile.out" 2>&1
    dropped "$a_what" "$T/hostile.out" "$a_max" "$a_log" "$a_text" "$a_n"
}
# same FILE: FILE has the lines local mode prints (in any order: the shards' order is not
# defined)
same() {
    sort "$1" > "$1.sorted"
    [ -s "$T/want" ] && [ "$(cksum < "$T/want")" = "$(cksum < "$1.sorted")" ]
}
# job_ok AFTER: a real job on the cluster prints what it prints locally
job_ok() {
    $TO build/word_count -distributed -gleam.master="$M" "$D/flow.txt" > "$T/job.out" 2> "$T/job.err"
    j_rc=$?
    if [ $j_rc -eq 0 ] && same "$T/job.out"; then
        lib_pass "after $1: a job prints what it prints locally ($(wc -l < "$T/job.out") lines)"
    else
        lib_fail "after $1: a job: exit $j_rc, $(wc -l < "$T/job.out") lines" "$T/job.err"
    fi
}
# bounded WHAT PID KB0 MORE: the server's resident memory is at most MORE kB over KB0
bounded() {
    b_kb=$(rss "$2")
    if [ "$b_kb" -le $(($3 + $4)) ]; then
        lib_pass "$1: VmRSS $3 kB before, $b_kb kB now ($4 kB allowed over)"
    else
        lib_fail "$1: VmRSS $3 kB before, $b_kb kB now, over the $4 kB allowed"
    fi
}

lib_cluster 1 -slots 1 -memory 64
AGENT=$(echo $APIDS)
A=127.0.0.1:$(echo $APORTS)
MLOG=$T/master.log
ALOG=$T/agent1.log
build/word_count "$D/flow.txt" | sort > "$T/want"
[ -s "$T/want" ] || lib_die "word_count prints nothing locally"
job_ok "the start"
RSS_M=$(rss "$MASTER")
RSS_A=$(rss "$AGENT")
TH_M=$(threads "$MASTER")
TH_A=$(threads "$AGENT")

# ---- peers that stop reading: requests without end, no answer read; they take a minute,
# so they run while the rest goes on (every job below is served meanwhile) ---------------
$TO $H noread "$A" > "$T/noread-agent.out" 2>&1 &
NR_A=$!
$TO $H noread "$M" > "$T/noread-master.out" 2>&1 &
NR_M=$!

# ---- before any greeting ---------------------------------------------------------------
for who in master agent; do
    if [ $who = master ]; then hp=$M log=$MLOG; else hp=$A log=$ALOG; fi
    attack "$who: 4096 bytes of noise" 2000 "$log" "does not speak gleam-c's protocol" garbage "$hp"
    attack "$who: a well-formed HAVE frame before the greeting" 2000 "$log" "does not speak gleam-c's protocol" early "$hp"
    attack "$who: a frame header claiming 4 GB, and 1 MB of it, before the greeting" 2000 "$log" \
        "does not speak gleam-c's protocol" claim "$hp" - 4294967295 1024 0
    attack "$who: a driver with the wrong secret" 2000 "$log" "did not prove the shared secret" secret "$hp" wrong-secret
    s_l=$(line "$T/hostile.out" "greeting 0:")
    case $s_l in
    *"shared secret differs"*) lib_pass "$who: the wrong secret is told why: ${s_l#greeting 0: }" ;;
    *) lib_fail "$who: the peer with the wrong secret was not told why" "$T/hostile.out" ;;
    esac
done

# ---- after the greeting: frames that lie ------------------------------------------------
attack "master: a greeted agent's frame that claims 4 GB" 2000 "$MLOG" "malformed or oversized frame" \
    claim "$M" A 4294967295 1024 0
attack "agent: a greeted driver's frame that claims 4 GB" 2000 "$ALOG" - claim "$A" D 4294967295 1024 0
attack "master: a greeted agent's frame cut short, then its end closed" 2000 "$MLOG" "malformed or oversized frame" \
    truncated "$M" A
attack "master: a greeted driver's frame cut short, then its end closed" 2000 "$MLOG" - truncated "$M" D
attack "agent: a greeted driver's frame cut short, then its end closed" 2000 "$ALOG" - truncated "$A" D
bounded "master after the 4 GB claims" "$MASTER" "$RSS_M" 8192
bounded "agent after the 4 GB claims" "$AGENT" "$RSS_A" 8192
# the 64 MB a frame may claim, 1 MB of it sent: memory grows with the bytes that came
r_m=$(rss "$MASTER")
r_a=$(rss "$AGENT")
$TO $H claim "$M" D 67108864 1024 3 > "$T/claim-master.out" 2>&1 &
C_M=$!
$TO $H claim "$A" D 67108864 1024 3 > "$T/claim-agent.out" 2>&1 &
C_A=$!
wait_for "$T/claim-master.out" '^sent 1024 KB' 1 10 && wait_for "$T/claim-agent.out" '^sent 1024 KB' 1 10
sleep 1
bounded "master holding a frame that claims 64 MB and sent 1 MB" "$MASTER" "$r_m" 4096
bounded "agent holding a frame that claims 64 MB and sent 1 MB" "$AGENT" "$r_a" 4096
wait $C_M $C_A
job_ok "noise, frames before the greeting, 4 GB claims, frames cut short and wrong secrets"

# ---- a recorded greeting replayed -------------------------------------------------------
# hostile replay relays a real driver's greeting to the master, recording both sides; then
# plays the driver's HELLO and proof to the master again (its challenge is fresh now), and
# the master's HELLO and proof to a second driver, which must refuse them.
n_prove=$(has "$MLOG" "did not prove the shared secret")
$TO $H replay "$M" > "$T/replay.out" 2>&1 &
RP=$!
if wait_for "$T/replay.out" '^listening' 1 10; then
    $TO build/word_count -distributed -gleam.master=127.0.0.1:"$(last "$T/replay.out" listening)" "$D/flow.txt" \
        > "$T/relay.out" 2> "$T/relay.err"
    if [ $? -eq 0 ] && same "$T/relay.out"; then
        lib_pass "a driver's job through a relay that records its greeting prints what it prints locally"
    else
        lib_fail "a driver's job through the recording relay" "$T/relay.err"
    fi
fi
if wait_for "$T/replay.out" '^listening' 2 30; then
    $TO build/word_count -distributed -gleam.master=127.0.0.1:"$(last "$T/replay.out" listening)" "$D/flow.txt" \
        > "$T/fake.out" 2> "$T/fake.err"
    f_rc=$?
fi
wait $RP
r_l=$(line "$T/replay.out" "replayed the driver's proof")
case $r_l in
*"fresh challenge yes, the master's verdict 0")
    dropped "master: the driver's recorded HELLO and proof replayed against a fresh challenge (verdict 0)" \
        "$T/replay.out" 2000 "$MLOG" "did not prove the shared secret" "$n_prove"
    ;;
*) lib_fail "master: a replayed proof: ${r_l:-no answer}" "$T/replay.out" ;;
esac
r_l=$(line "$T/replay.out" "replayed the master's proof")
f_l=$(line "$T/fake.err" "did not prove the shared secret")
if [ "$r_l" = "replayed the master's proof: the driver's verdict 0" ] && [ "${f_rc:-0}" -ne 0 ] && [ ! -s "$T/fake.out" ] &&
    [ -n "$f_l" ]; then
    lib_pass "a driver refuses the master's recorded proof: exit $f_rc, ${f_l#*: master }"
else
    lib_fail "a driver given the master's recorded proof: ${r_l:-no answer}, exit ${f_rc:-none}" "$T/fake.err"
fi
job_ok "the replayed proofs"

# ---- names that are paths ---------------------------------------------------------------
# Every agent request that takes a job's or a binary's name gets ../../etc/passwd,
# /etc/passwd, ../hostile-escape, .., ., a path deep enough to reach /etc, a/../../x, a
# 4999-byte name, an empty one and one with a NUL inside; each on a greeted connection.
: > "$T/paths.out"
: > "$T/before.ls"
: > "$T/after.ls"
ls -R "$T" > "$T/before.ls"
etc0=$(stat -c '%s %Y %i' /etc/passwd 2> /dev/null)
up0=$(ls -d "$T/../etc" 2> /dev/null)
$TO $H paths "$A" > "$T/paths.out" 2>&1
ls -R "$T" > "$T/after.ls"
n_err=$(has "$T/paths.out" "answer ERR ")
n_other=$(($(wc -l < "$T/paths.out") - n_err))
p_l=$(line "$T/paths.out" "answer ERR HOLD [../../etc/passwd]")
if [ "$n_err" -eq 71 ] && [ "$n_other" -eq 1 ] && [ "$(line "$T/paths.out" "control answer OK")" = "control answer OK HOLD [hostile-ok]" ]; then
    lib_pass "agent: 70 requests naming paths and a binary that hashes otherwise refused with a message (${p_l#answer ERR }); a proper name held"
else
    lib_fail "agent: names that are paths: $n_err refused of 71, $n_other other lines" "$T/paths.out"
fi
if [ "$(cksum < "$T/before.ls")" = "$(cksum < "$T/after.ls")" ]; then
    lib_pass "agent: nothing created or removed under the test's directory by those requests"
else
    lib_fail "agent: the test's directory changed" "$T/after.ls"
fi
made=
for f in /etc/passwd.blocks /etc/passwd.part.* "$T/../etc/passwd.blocks" "$T/../etc/passwd.part".*; do
    [ -e "$f" ] && made="$made $f"
done
if [ "$(stat -c '%s %Y %i' /etc/passwd 2> /dev/null)" = "$etc0" ] && [ "$(ls -d "$T/../etc" 2> /dev/null)" = "$up0" ] &&
    [ -z "$made" ]; then
    lib_pass "agent: /etc/passwd untouched, no /etc/passwd.* and nothing made beside the test's directory"
else
    lib_fail "agent: something was written outside -dir:$made"
fi
# markup and a path as a job's name, shown by the master's status page
$TO $H job "$M" '<script>alert(1)</script>../../etc/passwd' '<img src=x onerror=alert(1)>' > "$T/jobname.out" 2>&1
$TO $H get "$M" / > "$T/page.html" 2>&1
if [ "$(has "$T/jobname.out" "answer OK JOB")" -eq 1 ] && [ "$(has "$T/page.html" "<script>")" -eq 0 ] &&
    [ "$(has "$T/page.html" "<img src=x")" -eq 0 ] &&
    [ "$(has "$T/page.html" "&lt;script&gt;alert(1)&lt;/script&gt;../../etc/passwd")" -eq 1 ]; then
    lib_pass "master: a job named <script>...../etc/passwd is a name: the status page shows it escaped"
else
    lib_fail "master: a job's name with markup on the status page" "$T/page.html"
fi
job_ok "names that are paths"

# ---- a thousand idle connections to each server ------------------------------------------
# The master's get nothing at all; the agent's get a byte of a greeting every second. A
# greeting has GLEAM__NET_GREET_MS (10 s) to end, and when the server is full the oldest
# greeting makes room: a job runs while they are held, and they all go.
r_m=$(rss "$MASTER")
r_a=$(rss "$AGENT")
n_mt=$(has "$MLOG" "did not finish the greeting within")
n_mr=$(has "$MLOG" "when a newer connection needed its place")
n_at=$(has "$ALOG" "did not finish the greeting within")
n_ar=$(has "$ALOG" "when a newer connection needed its place")
$TO $H idle "$M" 1000 20 > "$T/idle-master.out" 2>&1 &
I_M=$!
$TO $H idle "$A" 1000 20 dribble > "$T/idle-agent.out" 2>&1 &
I_A=$!
wait_for "$T/idle-master.out" '^opened' 1 20
wait_for "$T/idle-agent.out" '^opened' 1 20
th_m=$(threads "$MASTER")
th_a=$(threads "$AGENT")
h_m=$(rss "$MASTER")
h_a=$(rss "$AGENT")
job_ok "1000 idle connections to the master and 1000 to the agent, while they are held"
wait $I_M $I_A
for who in master agent; do
    if [ $who = master ]; then
        out=$T/idle-master.out pid=$MASTER th0=$TH_M th=$th_m r0=$r_m r1=$h_m
    else
        out=$T/idle-agent.out pid=$AGENT th0=$TH_A th=$th_a r0=$r_a r1=$h_a
    fi
    i=0
    while [ "$(threads $pid)" -gt $((th0 + 1)) ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    o_l=$(line "$out" "opened ")
    c_ms=$(last "$out" closed)
    if [ -n "$c_ms" ] && [ "$c_ms" -le 14000 ] && [ "$(threads $pid)" -le $((th0 + 1)) ] && [ "$th" -le $((th0 + 1025)) ]; then
        lib_pass "$who: 1000 idle connections ($o_l by the server's own ends): $th threads while held, all dropped $c_ms ms after the first was opened, $(threads $pid) threads after"
    else
        lib_fail "$who: 1000 idle connections: $o_l, $th threads while held, $(threads $pid) after" "$out"
    fi
    bounded "$who after 1000 connections (VmRSS $r1 kB while they were held)" "$pid" "$r0" 16384
done
n_mt=$(($(has "$MLOG" "did not finish the greeting within") - n_mt))
n_mr=$(($(has "$MLOG" "when a newer connection needed its place") - n_mr))
n_at=$(($(has "$ALOG" "did not finish the greeting within") - n_at))
n_ar=$(($(has "$ALOG" "when a newer connection needed its place") - n_ar))
if [ $n_mt -ge 1 ] && [ $n_mr -ge 1 ] && [ $((n_mt + n_mr)) -ge 900 ] && [ $n_at -ge 1 ] && [ $n_ar -ge 1 ] &&
    [ $((n_at + n_ar)) -ge 900 ]; then
    lib_pass "logs: greetings cut at 10 s and to make room for newer ones: master $n_mt and $n_mr, agent $n_at and $n_ar"
else
    lib_fail "logs of the idle connections: cut at 10 s and to make room: master $n_mt and $n_mr, agent $n_at and $n_ar" "$ALOG"
fi

# ---- slow peers: each holds its thread until a deadline at most (the HTTP request's 10 s
# start once its first 4 bytes, 2 s, have told the greeting what it is) -------------------
n_h=$(has "$MLOG" "its HTTP request did not come within")
n_g=$(has "$ALOG" "did not finish the greeting within")
n_s=$(has "$MLOG" "silent too long")
$TO $H slowhttp "$M" > "$T/slowhttp.out" 2>&1 &
S1=$!
$TO $H early-short "$A" > "$T/early-short.out" 2>&1 &
S2=$!
$TO $H truncated "$M" A stall > "$T/stall-master.out" 2>&1 &
S3=$!
$TO $H truncated "$A" D stall > "$T/stall-agent.out" 2>&1 &
S4=$!
job_ok "slow peers started"
wait $S1 $S2 $S3 $S4
dropped "master: an HTTP request that comes a byte every 0.5 s" "$T/slowhttp.out" 15000 "$MLOG" \
    "its HTTP request did not come within 10 s" "$n_h"
dropped "agent: a well-formed AGENTS frame (6 bytes) before the greeting, then silence" "$T/early-short.out" 13000 "$ALOG" \
    "did not finish the greeting within 10 s" "$n_g"
dropped "master: a greeted agent's registration cut short, then silence" "$T/stall-master.out" 13000 "$MLOG" \
    "silent too long" "$n_s"
dropped "agent: a greeted driver's frame cut short, then silence" "$T/stall-agent.out" 35000 "$ALOG" - 0

# ---- requests for the status page that never end: 16 answered at once at most ------------
n_h=$(has "$MLOG" "its HTTP request did not come within")
$TO $H httpflood "$M" 24 > "$T/httpflood.out" 2>&1
n_h=$(($(has "$MLOG" "its HTTP request did not come within") - n_h))
b_l=$(line "$T/httpflood.out" "busy ")
c_ms=$(last "$T/httpflood.out" closed)
if [ "$b_l" = "busy 8 of 24" ] && [ -n "$c_ms" ] && [ "$c_ms" -le 13000 ] && [ $n_h -eq 16 ]; then
    lib_pass "master: 24 HTTP requests that never end: 8 answered 503 at once, 16 dropped unanswered $c_ms ms later"
else
    lib_fail "master: 24 HTTP requests that never end: $b_l, closed ${c_ms:-never}, $n_h logged" "$T/httpflood.out"
fi
job_ok "HTTP requests that never end"

# ---- the peers that stopped reading ------------------------------------------------------
# A server blocked writing to a peer that reads nothing gives up after its write timeout:
# 30 s without progress, twice when the first wait ends a write that made some progress.
wait $NR_A $NR_M
for who in agent master; do
    out=$T/noread-$who.out
    s_l=$(line "$out" "stopped reading")
    case $s_l in
    "stopped reading after "*) dropped "$who: a driver that sends requests and reads no answer (${s_l#stopped reading after })" \
        "$out" 80000 "$ALOG" - 0 ;;
    *) lib_fail "$who: the peer that stops reading did not get that far" "$out" ;;
    esac
done

# ---- the servers are the ones started, and serve --------------------------------------------
if kill -0 "$MASTER" 2> /dev/null && kill -0 "$AGENT" 2> /dev/null && [ "$(has "$MLOG" "registered")" -eq 1 ] &&
    [ "$(has "$MLOG" "is gone")" -eq 0 ]; then
    lib_pass "the master and the agent are the processes started, the agent registered once and never lost"
else
    lib_fail "the servers did not live through the attacks" "$MLOG"
fi
bounded "master at the end" "$MASTER" "$RSS_M" 16384
bounded "agent at the end" "$AGENT" "$RSS_A" 16384
job_ok "every attack"

lib_stop
lib_done
