# ECDSA keys (P-256, P-384, P-521) made in a swtpm and served by
# hwkey-agent: stock ssh-add lists them, stock ssh logs in to an sshd of
# our own with each, ssh-keygen -Y signatures made through the agent
# verify, a key with a password signs after askpass, and the TPM holds no
# object of ours once the agent is gone.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
AGENT=$B/hwkey-agent
user=$(id -un)

start_swtpm || exit 1
KEYS="p256 p384 p521 pw384"
for k in $KEYS; do
	pass=
	[ "$k" = pw384 ] && pass='ecdsa pass'
	bits=${k#p}
	bits=${bits#w}
	"$HWK" -q --backend tpm2 -t ecdsa -b "$bits" -N "$pass" -C "$k@agent" \
	    -f "$k" </dev/null || exit 1
done
# The .pub lines, and their types.
pubs='' types=''
for k in $KEYS; do
	read -r t rest <"$k.pub"
	pubs+=${pubs:+$'\n'}"$t $rest"
	types+=${types:+ }$t
done
check_eq "the keys are ECDSA on each curve" \
    "ecdsa-sha2-nistp256 ecdsa-sha2-nistp384 ecdsa-sha2-nistp521 ecdsa-sha2-nistp384" \
    "$types"
printf '#!/bin/sh\necho "ecdsa pass"\n' >askpass
chmod 700 askpass

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force \
    "$AGENT" -d -a "$SOCK" $KEYS >agent.out 2>>agent.log &
AGENT_PID=$!
at_exit "kill_wait $AGENT_PID"
for ((i = 0; i < 250; i++)); do
	[ -S "$SOCK" ] && break
	nap 0.02
done
export SSH_AUTH_SOCK=$SOCK

check_eq "ssh-add -L gives the .pub lines" "$pubs" "$(ssh-add -L)"
check_eq "ssh-add -l their fingerprints and types" \
    "$(ssh-keygen -l -f - <<<"$pubs")" "$(ssh-add -l)"

# Stock ssh cannot read TPM key files: it signs through the agent.  The
# key exchange is no part of the test: curve25519 alone, as sntrup761's
# costs ssh and sshd ~0.1 s of CPU a login.
printf '%s\n' "$pubs" >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
for k in $KEYS; do
	read -r alg _ <"$k.pub"
	check_eq "ssh -i $k logs in through the agent ($alg)" "hwk-login-ok" \
	    "$(ssh_cmd -o IdentitiesOnly=yes -o PubkeyAcceptedAlgorithms="$alg" \
	    -o KexAlgorithms=curve25519-sha256 \
	    -i "$k.pub" "$user@127.0.0.1" echo hwk-login-ok 2>&1)"
	fp=$(ssh-keygen -l -f "$k.pub")
	fp=${fp#* }
	fp=${fp%% *}
	check_match "the server accepted the $k key" \
	    "Accepted publickey for $user .* ${fp//[+\/]/.}" \
	    "$(<"$T_TMP/sshd/sshd.log")"
done

# ssh-keygen -Y sign through the agent, verified by ssh-keygen -Y verify;
# a document of each key's own, so that no signature is left to remove.
echo "another document" >doc2
for k in $KEYS; do
	echo "a document" >"doc-$k"
	ssh-keygen -q -Y sign -f "$k.pub" -n file "doc-$k" >/dev/null 2>&1
	echo "signer $(<"$k.pub")" >allowed
	check "ssh-keygen -Y sign with the $k key verifies" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s "doc-$k.sig" \
	    <"doc-$k"
	check_rc 255 "and not for another document ($k)" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s "doc-$k.sig" \
	    <doc2
done
log=$(<agent.log)
check_no_match "the agent logged no failed signature" "signature failed" \
    "$log"
check_no_match "the password is never logged" "ecdsa pass" "$log"

kill_wait "$AGENT_PID"
transient_handles_of
check_eq "no TPM objects left once the agent is gone" "" "$TPM_HANDLES"

done_testing
