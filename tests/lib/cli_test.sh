# Shared by the shell tests of the nabla command (sourced, not run; kept out
# of tests/*.sh so CTest does not take it for a test).
# Sets BUILD, NABLA, PY and T (a temporary folder removed on exit) from the
# test's arguments BUILD_DIR SOURCE_DIR, and defines the checks below; a test
# ends with `finish`, which prints "N passed, N failed" and sets the status.
set -u

BUILD=${1:?usage: $(basename "$0") BUILD_DIR SOURCE_DIR}
# Absolute, so a test may change folders.
BUILD=$(cd "$BUILD" && pwd) || exit 1
NABLA="$BUILD/nabla"
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}

# run CMD...: stdout to $T/out, stderr to $T/err, status in rc.
# NABLA_WRAP (e.g. a valgrind command line) is put before every command.
run() {
    ${NABLA_WRAP:-} "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
expect_rc() { # WANT WHAT
    if [ "$rc" -eq "$1" ]; then pass; else fail "$2: exit $rc, expected $1; stderr: $(head -c 400 "$T/err")"; fi
}
expect_err() { # TEXT WHAT: stderr mentions TEXT
    if grep -qF -- "$1" "$T/err"; then pass; else fail "$2: stderr does not mention '$1': $(head -c 400 "$T/err")"; fi
}
expect_no_err() { # TEXT WHAT: stderr does not mention TEXT
    if grep -qF -- "$1" "$T/err"; then fail "$2: stderr mentions '$1'"; else pass; fi
}
expect_file() { # PATH WHAT: the file exists and is not empty
    if [ -s "$1" ]; then pass; else fail "$2: '$1' missing or empty"; fi
}
expect_py() { # WHAT PYTHON-CODE [ARGS...]: the code exits 0
    local what=$1 code=$2
    shift 2
    if "$PY" -c "$code" "$@" 2>"$T/pyerr"; then pass; else fail "$what: $(head -c 600 "$T/pyerr")"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ ! -x "$NABLA" ]; then
    echo "FAIL: $NABLA not built"
    echo "0 passed, 1 failed"
    exit 1
fi
