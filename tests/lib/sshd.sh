# Sourced by tests that log in: an sshd of our own on 127.0.0.1.
# shellcheck shell=bash

# start_sshd DIR AUTHORIZED_KEYS [LINE...]: sets SSHD_PORT and SSHD_PID,
# and stops the server when the test exits; LINEs go into sshd_config.
# The user's shell runs each command ssh sends, and bash then reads the
# user's ~/.bashrc (which can take longer than the login) unless it runs
# nested: SetEnv SHLVL=1 says it does.  What the user's startup files do is
# no part of our tests.  -r: sshd serves each connection in a fork of
# itself, without starting itself again (~18 ms of CPU a login here); the
# login is the same.
start_sshd() {
	local dir=$1 ak=$2 try
	shift 2
	[ -d "$dir" ] || mkdir -p "$dir"
	[ "$EUID" -eq 0 ] && ! [ -d /run/sshd ] && mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey" || return 1
	for try in 1 2 3; do
		SSHD_PORT=$(free_port)
		printf '%s\n' "Port $SSHD_PORT" "ListenAddress 127.0.0.1" \
		    "HostKey $dir/hostkey" "PidFile $dir/sshd.pid" \
		    "AuthorizedKeysFile $ak" "StrictModes no" \
		    "PubkeyAuthentication yes" "PasswordAuthentication no" \
		    "KbdInteractiveAuthentication no" \
		    "PermitRootLogin prohibit-password" "UsePAM no" \
		    "LogLevel VERBOSE" "SetEnv SHLVL=1" "$@" >"$dir/sshd_config"
		/usr/sbin/sshd -r -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
		SSHD_PID=$!
		at_exit "kill_wait $SSHD_PID"
		if wait_port "$SSHD_PORT" 10; then
			return 0
		fi
		kill_wait "$SSHD_PID"
	done
	echo "# sshd did not start:" && sed 's/^/#   /' "$dir/sshd.log"
	return 1
}

# ssh_cmd ARGS...: stock ssh to our sshd, no user config, no host key prompts.
# The key exchange is the cheapest one: the tests are about user keys, and
# the default (a post-quantum hybrid) costs each login ~75 ms of CPU.
ssh_cmd() {
	ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
	    -o KexAlgorithms=curve25519-sha256 \
	    -o ConnectTimeout=10 -o LogLevel=ERROR "$@"
}
