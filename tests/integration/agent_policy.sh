# hwkey-agent's policy with stock OpenSSH: signatures through a forwarded
# agent (ssh -A, session-bind) refused by default and made with
# --allow-forwarded; --confirm asking through SSH_ASKPASS, and what its
# questions say.  An Ed25519 software key: the policy, not the device, is
# the subject here.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
AGENT=$B/hwkey-agent
user=$(id -un)

"$HWK" -q -t ed25519 -N '' -C policy@test -f key || exit 1
# ssh-keygen -Y sign with only a .pub signs through the agent.
mkdir pub && cp key.pub pub/key.pub
cp key.pub authorized_keys
echo "a document" >doc
echo "signer $(<key.pub)" >allowed
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
read -r _ hostfp _ < <(ssh-keygen -l -f "$T_TMP/sshd/hostkey.pub")
read -r _ keyfp _ < <(ssh-keygen -l -f key.pub)

# The askpass records its question (and SSH_ASKPASS_PROMPT), and answers
# with the word in the file answer: exit 1 for anything but yes.
cat >askpass <<EOF
#!/bin/sh
printf '%s|%s\n' "\${SSH_ASKPASS_PROMPT:-}" "\$1" >>"$T_TMP/askpass.log"
read -r a <"$T_TMP/answer"
[ "\$a" = yes ] || exit 1
echo yes
EOF
chmod 700 askpass
echo yes >answer

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
# start_agent HOME ARGS...: the agent's known_hosts is HOME/.ssh's.
start_agent() {
	local home=$1
	shift
	rm -f "$SOCK"
	HOME=$home SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force \
	    "$AGENT" -d -a "$SOCK" "$@" "$T_TMP/key" >/dev/null 2>agent.log &
	AGENT_PID=$!
	at_exit "kill_wait $AGENT_PID"
	for ((i = 0; i < 250; i++)); do
		[ -S "$SOCK" ] && break
		nap 0.02
	done
}
# On the far side of ssh -A: list the keys, sign with ssh-keygen -Y, log
# in a second hop, each through the forwarded agent.
cat >remote.sh <<EOF
cd "$T_TMP" || exit 1
ssh-add -l >/dev/null 2>&1; echo "list=\$?"
rm -f doc.sig
ssh-keygen -q -Y sign -f pub/key.pub -n file doc >/dev/null 2>&1
echo "sign=\$?"
ssh -F /dev/null -p $SSHD_PORT -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -o KexAlgorithms=curve25519-sha256 -o LogLevel=ERROR \
    $user@127.0.0.1 echo hop2 2>/dev/null
echo "hop=\$?"
ssh-add -D >/dev/null 2>&1; echo "removeall=\$?"
EOF
forwarded() {
	SSH_AUTH_SOCK=$SOCK ssh_cmd -A "$user@127.0.0.1" bash \
	    "$T_TMP/remote.sh" 2>&1
}

# --- By default: forwarded requests list the keys but get no signature.
# No known_hosts: the hosts are named by their keys' fingerprints.
start_agent "$T_TMP/nohome"
out=$(forwarded)
check_match "ssh -A logs in with the agent's key" 'list=' "$out"
check_line "over the forwarded agent, ssh-add -l lists the key" "list=0" \
    "$out"
check_match "... ssh-keygen -Y sign is refused" "^sign=[1-9]" "$out"
check_eq "... and made no signature" "" "$([ -e doc.sig ] && echo signed)"
check_line "... and so is a login from there (second hop)" "hop=255" "$out"
check_line "... and ssh-add -D from there" "removeall=1" "$out"
check "... which left the key here" env SSH_AUTH_SOCK="$SOCK" ssh-add -l
log=$(<agent.log)
check_match "the refusal is logged with the forwarded-to host's key" \
    "refused a signature for ssh \(pid [0-9]+\) through the agent forwarded to host ${hostfp//+/\\+}.*--allow-forwarded" \
    "$log"
check_match "... the second hop's too, with its destination" \
    "forwarded to host ${hostfp//+/\\+}, for a login to host ${hostfp//+/\\+}" \
    "$log"
check_match "session-binds were verified, forwarded ones marked" \
    "session-bind to host key ${hostfp//+/\\+} \(forwarded\)" "$log"
rm -f doc.sig
SSH_AUTH_SOCK=$SOCK ssh-keygen -q -Y sign -f pub/key.pub -n file doc \
    >/dev/null 2>&1
check "a local ssh-keygen -Y sign still works" ssh-keygen -Y verify \
    -f allowed -I signer -n file -s doc.sig <doc
kill_wait "$AGENT_PID"

# --- --allow-forwarded, and --confirm: every signature asked for.  The
# agent's known_hosts names the host.
mkdir -p home/.ssh
hostname="[127.0.0.1]:$SSHD_PORT"
echo "$hostname $(<"$T_TMP/sshd/hostkey.pub")" >home/.ssh/known_hosts
start_agent "$T_TMP/home" --allow-forwarded --confirm
out=$(forwarded)
check_line "--allow-forwarded: ssh-keygen -Y sign over the forward" \
    "sign=0" "$out"
check "... and its signature verifies" ssh-keygen -Y verify -f allowed \
    -I signer -n file -s doc.sig <doc
check_line "... and the second hop logs in" "hop2" "$out"
asked=$(<askpass.log)
count=0
while IFS= read -r l; do
	[[ $l == "confirm|Allow use of key policy@test?" ]] && count=$((count + 1))
done <<<"$asked"
check_eq "--confirm asked with SSH_ASKPASS_PROMPT=confirm, once a signature" \
    3 "$count"
check_line "... naming the key's fingerprint" "Key fingerprint $keyfp." \
    "$asked"
check_match "... and the program asking" '^Requested by ssh \(pid [0-9]+\)\.$' \
    "$asked"
check_line "... and the host the agent was forwarded to, by its known name" \
    "Through the agent forwarded to host $hostname ($hostfp)." "$asked"
check_line "... and the destination of a login" \
    "For a login to host $hostname ($hostfp)." "$asked"

: >askpass.log
echo no >answer
rm -f doc.sig
SSH_AUTH_SOCK=$SOCK ssh-keygen -q -Y sign -f pub/key.pub -n file doc \
    >/dev/null 2>&1
check_eq "answered no: ssh-keygen -Y sign gets no signature" "" \
    "$([ -e doc.sig ] && echo signed)"
check_match "... the question named ssh-keygen and its pid" \
    '^Requested by ssh-keygen \(pid [0-9]+\)\.$' "$(<askpass.log)"
check_match "... and the refusal is logged" \
    "key: signature for ssh-keygen \(pid [0-9]+\) not confirmed" \
    "$(<agent.log)"
echo yes >answer
SSH_AUTH_SOCK=$SOCK ssh-keygen -q -Y sign -f pub/key.pub -n file doc \
    >/dev/null 2>&1
check "answered yes: the next one is signed" ssh-keygen -Y verify \
    -f allowed -I signer -n file -s doc.sig <doc
kill_wait "$AGENT_PID"

done_testing
