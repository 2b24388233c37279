# Sourced after common.sh by tests that need a TPM: swtpm instances of our
# own on free loopback ports, state in temp dirs, stopped when the test ends.
# shellcheck shell=bash

# Two consecutive free ports (swtpm takes P for commands and P+1 for control).
free_port_pair() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$(free_port) || return 1
		listening $((p + 1)) || { echo "$p"; return 0; }
	done
	return 1
}

# swtpm_run DIR: starts (or restarts) a swtpm on DIR's state; sets SWTPM_PID,
# SWTPM_PORT and SWTPM_TCTI.  The TPM keeps its seeds across restarts.
swtpm_run() {
	local dir=$1
	mkdir -p "$dir"
	for _ in 1 2 3 4 5; do
		SWTPM_PORT=$(free_port_pair)
		[ -n "$SWTPM_PORT" ] || continue
		swtpm socket --tpm2 \
		    --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
		    --ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
		    --tpmstate dir="$dir" --flags not-need-init,startup-clear \
		    >>"$dir/swtpm.log" 2>&1 &
		SWTPM_PID=$!
		at_exit "kill_wait $SWTPM_PID"
		if wait_port "$SWTPM_PORT" 10 && kill -0 "$SWTPM_PID" 2>/dev/null
		then
			SWTPM_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
			return 0
		fi
		kill_wait "$SWTPM_PID"	# lost a race for the ports: again
	done
	echo "# swtpm did not start:" && sed 's/^/#   /' "$dir/swtpm.log"
	return 1
}

# start_swtpm [DIR]: a fresh TPM that tpm2-tools, tpm2-openssl and hwkeygen
# all use through the environment.
start_swtpm() {
	SWTPM_DIR=${1:-$T_TMP/swtpm}
	swtpm_run "$SWTPM_DIR" || return 1
	use_swtpm "$SWTPM_TCTI"
}

# use_swtpm TCTI: points every TPM client at that TPM.
use_swtpm() {
	export TPM2TOOLS_TCTI=$1 TPM2OPENSSL_TCTI=$1
}

# A TPM client in bash, for the questions and chores of the tests (which
# handles are in use, flushing them): tpm2_getcap and tpm2_flushcontext cost
# ~25 ms of CPU a call, and the tests ask after every step.  It speaks the
# TPM's wire format to the swtpm of $TPM2TOOLS_TCTI, sessionless commands
# only; another TCTI falls back to tpm2-tools.

# _tpm_open: a connection to the swtpm of $TPM2TOOLS_TCTI, in fd $_tpm_fd.
_tpm_open() {
	local dev
	[[ ${TPM2TOOLS_TCTI-} =~ ^swtpm:host=([^,]+),port=([0-9]+)$ ]] ||
	    return 1
	dev=/dev/tcp/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}
	{ exec {_tpm_fd}<>"$dev"; } 2>/dev/null
}

# _tpm_rpc FD BYTES: sends a command (BYTES in printf %b escapes) and reads
# the response into _tpm_r, one number a byte; true if it succeeded.  A
# command may not hold a 0x0a byte: bash's printf writes line-buffered, so
# the command would leave in two writes, which swtpm reads as two commands.
_tpm_rpc() {
	local LC_ALL=C c v i
	_tpm_r=()
	[[ $2 != *'\x0a'* ]] && printf %b "$2" >&"$1" || return 1
	# The response's size is in its bytes 2..5.
	for ((i = 0; i < 10 || i < (_tpm_r[2] << 24 | _tpm_r[3] << 16 |
	    _tpm_r[4] << 8 | _tpm_r[5]); i++)); do
		# With -d '' a NUL byte reads as "", with status 0.
		IFS= read -r -d '' -n 1 -t 5 -u "$1" c || return 1
		printf -v v %d "'$c"
		_tpm_r+=("$v")
	done
	((!(_tpm_r[6] | _tpm_r[7] | _tpm_r[8] | _tpm_r[9])))
}

# _tpm_u32 N...: each N as the four bytes of a TPM's UINT32, in _tpm_b
# (printf %b escapes).
_tpm_u32() {
	local n
	_tpm_b=
	for n; do
		printf -v n '\\x%02x' $((n >> 24 & 255)) $((n >> 16 & 255)) \
		    $((n >> 8 & 255)) $((n & 255))
		_tpm_b+=$n
	done
}

# _tpm_list FD RANGE: the handles in use from RANGE (8 hex digits) on, in
# _tpm_h; false, with why in _tpm_err, if the TPM did not answer.
_tpm_list() {
	local i n c
	_tpm_h=()
	# TPM2_GetCapability(TPM_CAP_HANDLES, RANGE, up to 64): tag, size,
	# command code, then the parameters.
	_tpm_u32 $((0x$2))
	c="\x80\x01\0\0\0\x16\0\0\x01\x7a\0\0\0\x01$_tpm_b\0\0\0\x40"
	if ! _tpm_rpc "$1" "$c" || ((${#_tpm_r[@]} < 19)); then
		_tpm_err="TPM2_GetCapability failed: ${_tpm_r[*]}"
		return 1
	fi
	# moreData, the capability, then the count and the handles.
	n=$((_tpm_r[15] << 24 | _tpm_r[16] << 16 | _tpm_r[17] << 8 |
	    _tpm_r[18]))
	for ((i = 19; i < 19 + 4 * n && i + 3 < ${#_tpm_r[@]}; i += 4)); do
		_tpm_h+=($((_tpm_r[i] << 24 | _tpm_r[i + 1] << 16 |
		    _tpm_r[i + 2] << 8 | _tpm_r[i + 3])))
	done
}

# tpm_handles RANGE...: the handles in use in each range (80000000:
# transient objects, 02000000: loaded sessions), one per line as
# tpm2_getcap prints them, in TPM_HANDLES (tpm_handles_of; no subshell)
# or on stdout (tpm_handles).  Anything amiss gives a line, so that a check
# wanting no handles fails.
tpm_handles_of() {
	local r h
	TPM_HANDLES=
	if ! _tpm_open; then
		if [[ ${TPM2TOOLS_TCTI-} == swtpm:* ]]; then
			TPM_HANDLES="no TPM at $TPM2TOOLS_TCTI"
			return 1
		fi
		TPM_HANDLES=$(for r; do
			case $r in
			80000000) tpm2_getcap handles-transient ;;
			*) tpm2_getcap handles-loaded-session ;;
			esac 2>&1 | sed -n 's/^- *//p'
		done)
		return
	fi
	for r; do
		_tpm_list "$_tpm_fd" "$r" || { TPM_HANDLES+=$_tpm_err; break; }
		for h in "${_tpm_h[@]}"; do
			printf -v h '0x%X' "$h"
			TPM_HANDLES+=${TPM_HANDLES:+$'\n'}$h
		done
	done
	exec {_tpm_fd}>&-
}
tpm_handles() {
	tpm_handles_of "$@"
	[ -z "$TPM_HANDLES" ] || printf '%s\n' "$TPM_HANDLES"
}

# tpm_flush RANGE...: flushes every handle in use in each range, as
# tpm2_flushcontext -t (80000000) and -l (02000000) do.
tpm_flush() {
	local r h c late=()
	if ! _tpm_open; then
		for r; do
			case $r in
			80000000) tpm2_flushcontext -t ;;
			*) tpm2_flushcontext -l ;;
			esac
		done
		return
	fi
	for r; do
		_tpm_list "$_tpm_fd" "$r" || { echo "$_tpm_err" >&2; break; }
		for h in "${_tpm_h[@]}"; do
			_tpm_u32 "$h"
			# A handle with a 0x0a byte waits for tpm2-tools (see
			# _tpm_rpc), which swtpm serves once we hang up.
			[[ $_tpm_b == *'\x0a'* ]] && { late+=("$h"); continue; }
			# TPM2_FlushContext(h): tag, size, command code, h
			c="\x80\x01\0\0\0\x0e\0\0\x01\x65$_tpm_b"
			_tpm_rpc "$_tpm_fd" "$c" && continue
			echo "TPM2_FlushContext failed: ${_tpm_r[*]}" >&2
			break 2
		done
	done
	exec {_tpm_fd}>&-
	for h in "${late[@]}"; do
		printf -v h 0x%X "$h"
		tpm2_flushcontext "$h"
	done
}

# The transient handles in the TPM, one per line; empty when none.
transient_handles() { tpm_handles 80000000; }
# transient_handles_of: the same in TPM_HANDLES.
transient_handles_of() { tpm_handles_of 80000000; }

# swtpm_manufacture DIR: a TPM state in DIR made as a vendor makes one, by
# swtpm_setup: an RSA-2048 EK and an ECC P-384 EK with their certificates
# in NV, chained to a local CA of the test's own: EK_ROOT is its root's
# PEM, EK_ISSUER its issuing CA's.  swtpm_run DIR then starts it.  Making
# the RSA EK costs seconds: copy the state rather than make another.  The
# CA is tests/fixtures/localca (swtpm-localca's own, never expiring): made
# afresh, its two RSA-3072 keys would cost ~0.5 s of CPU.
swtpm_manufacture() {
	local dir=$1 ca=$T_TMP/localca
	mkdir -p "$dir" "$ca" && cp "$FIXTURES/localca/"*.pem "$ca/" || return 1
	printf '%s\n' "statedir = $ca" "signingkey = $ca/signkey.pem" \
	    "issuercert = $ca/issuercert.pem" "certserial = $ca/certserial" \
	    >"$ca/localca.conf"
	printf '%s\n' "create_certs_tool = /usr/share/swtpm/swtpm-localca" \
	    "create_certs_tool_config = $ca/localca.conf" \
	    "create_certs_tool_options = /dev/null" >"$ca/setup.conf"
	swtpm_setup --tpm2 --create-ek-cert --tpmstate "$dir" \
	    --config "$ca/setup.conf" >"$ca/setup.log" 2>&1 || {
		echo "# swtpm_setup failed:" && sed 's/^/#   /' "$ca/setup.log"
		return 1
	}
	EK_ROOT=$ca/swtpm-localca-rootca-cert.pem
	EK_ISSUER=$ca/issuercert.pem
}
