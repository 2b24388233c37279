# Sourced by every integration test: TAP output, a temp dir, cleanups that
# run however the test ends, free loopback ports.  The checks and waits here
# start no process of their own: a suite runs thousands of them, and each
# process costs more than the check.
# shellcheck shell=bash
set -u

_t_pwd=$PWD
cd "${BASH_SOURCE[0]%/*}/../.." && TOP=$PWD && cd "$_t_pwd" || exit 1
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
# The temp dir, and the folders p11kit_setup uses in it, made by one mkdir
# (a process costs more than most checks); like mktemp -d, it fails rather
# than take a folder that is already there, and tries another name.
for _t_i in 1 2 3 4 5 6 7 8 9; do
	printf -v T_TMP '%s/hwk-test.%06x' "${TMPDIR:-/tmp}" \
	    $((SRANDOM & 0xffffff))	# as long as mktemp's names
	mkdir -m 700 "$T_TMP" "$T_TMP/home" "$T_TMP/home/.config" \
	    "$T_TMP/home/.config/pkcs11" "$T_TMP/home/.config/pkcs11/modules" \
	    "$T_TMP/p11kit-etc" 2>/dev/null && break
	[ "$_t_i" -lt 9 ] || { echo "# cannot make $T_TMP" >&2; exit 1; }
done
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
# nap SECONDS: sleeps without starting sleep(1): a read that times out on
# a new pseudo-terminal's master, whose other end no one opens (or, where
# there are none, on a FIFO no one writes to).
if { : <>/dev/ptmx; } 2>/dev/null; then
	nap() { read -rt "$1" <>/dev/ptmx; }
else
	mkfifo "$T_TMP/.nap"
	nap() { read -rt "$1" <>"$T_TMP/.nap"; }
fi

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
# run_out CMD...: OUT, the command's output and errors; its exit status.
# bash forks a command substitution whose command has a redirection, and
# the fork then forks again to run it (~5 ms of CPU): a program is exec'd
# in the first one.  A function or builtin runs in it, as before; a name
# without a slash is a program when it is neither (help -d fails only on
# names no builtin starts with: a doubtful name is run the old way).
run_out() {
	if [[ $1 == */* ]] || { ! declare -F -- "$1" >/dev/null &&
	    ! help -d -- "$1" >/dev/null 2>&1; }; then
		OUT=$(exec "$@" 2>&1)
	else
		OUT=$("$@" 2>&1)
	fi
}
# check DESC CMD...: the command succeeds.
check() {
	local desc=$1 OUT
	shift
	if run_out "$@"; then ok "$desc"; else not_ok "$desc" "\$ $*" "$OUT"; fi
}
# check_rc RC DESC CMD...: the command exits with RC.
check_rc() {
	local want=$1 desc=$2 OUT out rc
	shift 2
	run_out "$@"
	rc=$?
	out=$OUT
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		not_ok "$desc" "\$ $*" "exit $rc, wanted $want" "$out"; fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1" "expected: $2" "actual:   $3"; fi
}
# matches REGEX TEXT: a line of TEXT matches the extended regex, as with
# grep -Eq (bash's =~ is POSIX ERE through the same C library).
matches() {
	local l
	while IFS= read -r l; do
		[[ $l =~ $1 ]] && return 0
	done <<<"$2"
	return 1
}
# check_match DESC REGEX TEXT (extended regex, grep -E)
check_match() {
	if matches "$2" "$3"; then ok "$1"; else
		not_ok "$1" "wanted /$2/ in:" "$3"; fi
}
# check_line DESC LINE TEXT: TEXT has LINE as one whole line (no regex).
check_line() {
	local l
	while IFS= read -r l; do
		[[ $l == "$2" ]] && { ok "$1"; return; }
	done <<<"$3"
	not_ok "$1" "wanted the line '$2' in:" "$3"
}
# check_no_match DESC REGEX TEXT
check_no_match() {
	if ! matches "$2" "$3"; then ok "$1"; else
		not_ok "$1" "did not want /$2/ in:" "$3"; fi
}
# Files in DIR whose names start with a dot and contain .hwk- (our temps).
temp_files() {
	local f
	for f in "$1"/.*.hwk-*; do
		if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi
	done
}
# The file mode in octal.
mode_of() { stat -c %a "$1"; }

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# listening PORT: something accepts on 127.0.0.1:PORT.
listening() {
	local fd
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	exec {fd}>&-
}

# A TCP port on 127.0.0.1 that nothing listens on right now; one below the
# range the kernel gives the clients' ends of connections, so that none of
# those holds it either.
free_port() {
	local lo _ p i
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
	    lo=32768
	for ((i = 0; i < 100; i++)); do
		p=$((1024 + (RANDOM * 32768 + RANDOM) % (lo - 1024)))
		listening "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	local end=$((SECONDS + ${2:-10}))
	until listening "$1"; do
		[ "$SECONDS" -le "$end" ] || return 1
		nap 0.02
	done
	return 0
}

# kill_wait PID: stops a process we started and reaps it.
kill_wait() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 250; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		nap 0.02
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
