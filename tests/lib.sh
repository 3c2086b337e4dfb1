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
