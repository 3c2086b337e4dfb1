# lib.sh: what the shell tests share. A test script sources it and calls lib_init NAME
# first: T is then a temp dir removed at exit (also on failure or interrupt), TO a
# timeout prefix for commands that could hang, LC_ALL is C. lib_pass and lib_fail print
# one line per check ("ok ..." or "FAIL ..." with the log's first lines); lib_done prints
# the closing line and exits 1 if any check failed.

lib_init() { # lib_init NAME
    LIB_NAME=$1
    LC_ALL=C
    export LC_ALL
    T=$(mktemp -d "${TMPDIR:-/tmp}/gleam-$LIB_NAME.XXXXXX") || exit 2
    trap 'rm -rf "$T"' EXIT
    trap 'exit 130' HUP INT TERM
    TO=
    command -v timeout > /dev/null 2>&1 && TO="timeout -k 5 120"
    lib_checks=0
    lib_failed=0
}

lib_pass() { # lib_pass TEXT
    lib_checks=$((lib_checks + 1))
    echo "ok    $1"
}

lib_fail() { # lib_fail TEXT [LOG]
    lib_checks=$((lib_checks + 1))
    lib_failed=$((lib_failed + 1))
    echo "FAIL  $1"
    if [ -n "${2:-}" ] && [ -f "$2" ]; then head -n 25 "$2" | sed 's/^/      /'; fi
}

lib_die() { # lib_die TEXT: the script cannot go on
    echo "FAIL  $LIB_NAME: $1"
    exit 1
}

lib_done() {
    if [ "$lib_failed" -ne 0 ]; then
        echo "$LIB_NAME: $lib_failed of $lib_checks checks failed"
        exit 1
    fi
    echo "$LIB_NAME: all $lib_checks checks passed"
    exit 0
}

# ---- servers that a test starts and owns ------------------------------------------------
# PIDS: every process lib_spawned or lib_cluster started; lib_stop stops them (TERM, then
# KILL after 5 s), and runs at exit once lib_cluster has been called.

PIDS=
lib_stop() {
    for p in $PIDS; do kill "$p" 2> /dev/null; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2> /dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$p" 2> /dev/null
    done
    PIDS=
}

# wait_for FILE ERE COUNT SECONDS: until FILE has COUNT lines matching ERE. 0, or 1.
wait_for() {
    w_i=0
    while [ "$(grep -cE -- "$2" "$1" 2> /dev/null)" -lt "$3" ]; do
        [ $w_i -ge $(($4 * 10)) ] && return 1
        sleep 0.1
        w_i=$((w_i + 1))
    done
    return 0
}

# lib_cluster N AGENT-FLAGS...: a master and N agents of build/gleam on free loopback
# ports, with GLEAM_SECRET set for the script. Sets M (the master's HOST:PORT), MASTER (its
# pid), APIDS (the agents' pids, agent i logging to $T/agenti.log, its -dir $T/agenti)
# and APORTS (their ports, in the same order). Dies when they do not come up.
lib_cluster() {
    c_n=$1
    shift
    trap 'lib_stop; rm -rf "$T"' EXIT
    GLEAM_SECRET=${GLEAM_SECRET:-$LIB_NAME-test-secret-$$}
    export GLEAM_SECRET
    build/gleam master -address 127.0.0.1:0 2> "$T/master.log" &
    MASTER=$!
    PIDS="$PIDS $MASTER"
    wait_for "$T/master.log" 'listening on' 1 10 || lib_die "the master did not start: $(head -c 300 "$T/master.log")"
    M=127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/master.log" | head -n 1)
    APIDS=
    APORTS=
    c_i=1
    while [ $c_i -le "$c_n" ]; do
        build/gleam agent -master "$M" -listen 127.0.0.1 -port 0 -dir "$T/agent$c_i" "$@" 2> "$T/agent$c_i.log" &
        APIDS="$APIDS $!"
        c_i=$((c_i + 1))
    done
    PIDS="$PIDS $APIDS"
    wait_for "$T/master.log" 'registered' "$c_n" 15 ||
        lib_die "$c_n agents did not register: $(cat "$T/master.log" "$T"/agent*.log | head -c 600)"
    c_i=1
    while [ $c_i -le "$c_n" ]; do
        wait_for "$T/agent$c_i.log" 'listening on' 1 5 || lib_die "agent $c_i did not say its port"
        APORTS="$APORTS $(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/agent$c_i.log" | head -n 1)"
        c_i=$((c_i + 1))
    done
}
