# Sourced by every integration test: TAP output, a temp dir, cleanups that
# run however the test ends, free loopback ports.
# shellcheck shell=bash
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$TOP/tests/lib/p11kit.sh"
p11kit_isolate "$@"
# The binaries under test: build/, or HWK_BUILD (make check-asan, -clang).
case ${HWK_BUILD:-build} in
/*) B=$HWK_BUILD ;;
*) B=$TOP/${HWK_BUILD:-build} ;;
esac
HWK=$B/hwkeygen
PY=/usr/bin/python3
FIXTURES=$TOP/tests/fixtures
T_N=0
T_FAIL=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hwk-test.XXXXXX")
_T_CLEANUPS=()

# Registers a command to run at exit (last registered runs first).
at_exit() { _T_CLEANUPS+=("$*"); }
_t_cleanup() {
	local i
	for ((i = ${#_T_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${_T_CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$T_TMP"
}
trap _t_cleanup EXIT
trap 'exit 130' INT TERM HUP
p11kit_setup

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() {
	local desc=$1
	shift
	T_N=$((T_N + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_N - $desc"
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
# check DESC CMD...: the command succeeds.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "\$ $*" "$out"; fi
}
# check_rc RC DESC CMD...: the command exits with RC.
check_rc() {
	local want=$1 desc=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		not_ok "$desc" "\$ $*" "exit $rc, wanted $want" "$out"; fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1" "expected: $2" "actual:   $3"; fi
}
# check_match DESC REGEX TEXT (extended regex, grep -E)
check_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1" "wanted /$2/ in:" "$3"; fi
}
# check_line DESC LINE TEXT: TEXT has LINE as one whole line (no regex).
check_line() {
	if printf '%s\n' "$3" | grep -Fxq -- "$2"; then ok "$1"; else
		not_ok "$1" "wanted the line '$2' in:" "$3"; fi
}
# check_no_match DESC REGEX TEXT
check_no_match() {
	if ! printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1" "did not want /$2/ in:" "$3"; fi
}
# Files in DIR whose names start with a dot and contain .hwk- (our temps).
temp_files() { find "$1" -maxdepth 1 -name '.*.hwk-*' 2>/dev/null; }
# The file mode in octal.
mode_of() { stat -c %a "$1"; }

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	$PY -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	$PY - "$1" "${2:-10}" <<'PYEOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PYEOF
}

# kill_wait PID: stops a process we started and reaps it.
kill_wait() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
