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

# The transient handles in the TPM, one per line; empty when none.
transient_handles() {
	tpm2_getcap handles-transient 2>&1 | sed -n 's/^- *//p'
}
