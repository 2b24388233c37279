# hwkey-agent with a TPM key (swtpm) and a token key (SoftHSM2): stock
# ssh-add, ssh and ssh-keygen -Y through it; PINs and passwords; a TPM that
# is reset or goes away, a token that fails; nothing left behind.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
AGENT=$B/hwkey-agent
SPY=$B/tests/tcti_spy.so
FAULT=$B/tests/pkcs11_fault.so
SIGNPY="$PY $TOP/tests/bench/agent_sign.py"
user=$(id -un)
PIN=123456

start_swtpm || exit 1
softhsm_setup || exit 1
softhsm_token agent-test "$PIN" 87654321 || exit 1
printf '%s\n' "$PIN" >pin
printf 'nope\n' >badpin
chmod 600 pin badpin

# One key of each kind: a TPM key, a TPM key with a password, a token key
# (through the fault module, which forwards to SoftHSM2 until told not to).
export HWK_FAKE_REAL=$SOFTHSM_MODULE
"$HWK" -q --backend tpm2 -N '' -C tpm@agent -f tpm || exit 1
"$HWK" -q --backend tpm2 -N 'tpm pass' -C tpmpw@agent -f tpmpw || exit 1
"$HWK" -q --backend pkcs11 --module "$FAULT" --pin-source file:pin \
    -C token@agent -f token || exit 1
printf '#!/bin/sh\necho "tpm pass"\n' >askpass
chmod 700 askpass

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
# The agent, through the TCTI spy so we can count what it sends the TPM;
# -P: the token key's stub names the fault module, outside /usr/lib.
start_agent() {
	HWK_SPY_LOG=$T_TMP/spy.log SSH_ASKPASS=$T_TMP/askpass \
	    SSH_ASKPASS_REQUIRE=force "$AGENT" -d -a "$SOCK" -P "$B/tests/*" \
	    --tcti "$SPY:$SWTPM_TCTI" "$@" >agent.out 2>>agent.log &
	AGENT_PID=$!
	at_exit "kill_wait $AGENT_PID"
	for ((i = 0; i < 250; i++)); do
		[ -S "$SOCK" ] && break
		nap 0.02
	done
}
start_agent --pin-source file:pin tpm tpmpw token
export SSH_AUTH_SOCK=$SOCK

check_eq "ssh-add -l lists the three keys with their fingerprints" \
    "$(cat tpm.pub tpmpw.pub token.pub | ssh-keygen -l -f -)" \
    "$(ssh-add -l)"
check_eq "ssh-add -L gives their .pub lines" \
    "$(cat tpm.pub tpmpw.pub token.pub)" "$(ssh-add -L)"
check_eq "the agent touched no TPM before the first signature" "" \
    "$(cat spy.log 2>/dev/null)"

# Stock ssh cannot read the stubs: it signs through the agent.
cat tpm.pub tpmpw.pub token.pub >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
for k in tpm tpmpw token; do
	for alg in rsa-sha2-512 rsa-sha2-256; do
		check_eq "ssh -i $k logs in through the agent ($alg)" \
		    "hwk-login-ok" "$(ssh_cmd -o IdentitiesOnly=yes \
		    -o PubkeyAcceptedAlgorithms=$alg -i $k \
		    "$user@127.0.0.1" echo hwk-login-ok 2>&1)"
	done
done
check_match "the server accepted the TPM key" \
    "Accepted publickey for $user .* RSA $(ssh-keygen -l -f tpm.pub | cut -d' ' -f2 | sed 's/[+/]/./g')" \
    "$(<"$T_TMP/sshd/sshd.log")"

# ssh-keygen -Y sign through the agent, verified by ssh-keygen -Y verify.
echo "a document" >doc
for k in tpm token; do
	rm -f doc.sig
	ssh-keygen -q -Y sign -f $k.pub -n file doc >/dev/null 2>&1
	echo "signer $(<$k.pub)" >allowed
	check "ssh-keygen -Y sign with the $k key verifies" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s doc.sig <doc
done

# After warm-up, one TPM command per signature: the key stays loaded.
: >spy.log
out=$($SIGNPY "$SOCK" tpm.pub 10)
check_match "ten more TPM signatures" "sig/s" "$out"
check_eq "one TPM command (TPM2_Sign) per signature" \
    "$(printf '0x0000015d %.0s' $(seq 10) | sed 's/ $//')" \
    "$(tr '\n' ' ' <spy.log | sed 's/ $//')"
# A second key, counted after its own warm-up signature: without a
# resource manager it first takes the place of the key held before.
$SIGNPY "$SOCK" tpmpw.pub 1 >/dev/null
: >spy.log
$SIGNPY "$SOCK" tpmpw.pub 5 >/dev/null
check_eq "with a password too (one TPM2_Sign per signature)" \
    "$(printf '0x0000015d %.0s' $(seq 5) | sed 's/ $//')" \
    "$(tr '\n' ' ' <spy.log | sed 's/ $//')"

# A TPM reset (every object flushed): reloaded without a question.
n=$(( $(grep -c . spy.log) ))
: >spy.log
kill_wait "$AGENT_PID"
check_eq "stopping the agent flushes its TPM handles" "" "$(transient_handles)"
HWK_SPY_LOSE_AT=4 start_agent --pin-source file:pin tpm tpmpw token
check_match "signatures across a TPM reset" "sig/s" \
    "$($SIGNPY "$SOCK" tpm.pub 6 2>&1)"
kill_wait "$AGENT_PID"

# A command of a kept key lost on the way (as after a laptop's hibernation):
# the key is loaded again on a new connection and the signature succeeds.
# (Commands: CreatePrimary, Load, FlushContext, Sign, then the lost Sign.)
: >agent.log
HWK_SPY_FAIL_AT=5 start_agent --pin-source file:pin tpm tpmpw token
check_match "a lost command on a kept key: every signature succeeds" \
    "sig/s" "$($SIGNPY "$SOCK" tpm.pub 3 2>&1)"
check_no_match "... none failed in the agent's log" "signature failed" \
    "$(<agent.log)"

# The TPM goes away: that signature fails, the agent and the token go on.
kill_wait "$SWTPM_PID"
out=$($SIGNPY "$SOCK" tpm.pub 1 2>&1)
check_match "no TPM: the signature fails" "failed" "$out"
check "no TPM: the token key still signs" $SIGNPY "$SOCK" token.pub 2
check_match "no TPM: the agent says why in its log" "tpm: signature failed" \
    "$(<agent.log)"
# It comes back on the same port with the same state: keys work again.
swtpm socket --tpm2 --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
    --tpmstate dir="$SWTPM_DIR" --flags not-need-init,startup-clear \
    >>swtpm2.log 2>&1 &
SWTPM_PID=$!
at_exit "kill_wait $SWTPM_PID"
wait_port "$SWTPM_PORT" 10
check "the TPM is back: the key signs again" $SIGNPY "$SOCK" tpm.pub 2
check "and the password key" $SIGNPY "$SOCK" tpmpw.pub 1
kill_wait "$AGENT_PID"

# Four TPM keys in a TPM without a resource manager (swtpm: three object
# slots for every program): the agent holds at most one at a time, so each
# signs in turn, round after round, and another program makes a key
# meanwhile.
"$HWK" -q --backend tpm2 -N '' -C tpm3@agent -f tpm3 || exit 1
"$HWK" -q --backend tpm2 -N 'tpm pass' -C tpm4@agent -f tpm4 || exit 1
: >spy.log
start_agent tpm tpmpw tpm3 tpm4
failed="" most=0
for round in 1 2 3; do
	for k in tpm tpmpw tpm3 tpm4; do
		$SIGNPY "$SOCK" $k.pub 2 >/dev/null 2>&1 ||
		    failed="$failed $k(round $round)"
		n=$(transient_handles | grep -c .)
		[ "$n" -gt "$most" ] && most=$n
	done
done
check_eq "four TPM keys sign in turn, three rounds" "" "$failed"
check_eq "the TPM holds one of the agent's keys at a time" 1 "$most"
check_match "the key held is flushed before the next one loads" \
    '0x0000015d (0x00000165 )+0x00000131 0x00000157' \
    "$(tr '\n' ' ' <spy.log)"
check "a keygen in the same TPM while the agent runs" "$HWK" -q \
    --backend tpm2 -N '' -f tpm5
check "... and the agent's keys still sign" eval \
    "$SIGNPY '$SOCK' tpm4.pub 1 && $SIGNPY '$SOCK' tpm.pub 1"
kill_wait "$AGENT_PID"
check_eq "... none are left once the agent is gone" "" "$(transient_handles)"

# A raw TPM device (/dev/tpm0) admits one process at a time: the agent lets
# go of it after every signature.  The spy reports /dev/null as the device
# it polls, as the device TCTI reports /dev/tpm0.
printf '#!/bin/sh\necho asked >>"%s"\necho "tpm pass"\n' \
    "$T_TMP/askpass.log" >askpass
: >spy.log
: >askpass.log
HWK_SPY_POLL_PATH=/dev/null start_agent tpm tpmpw
check "a raw device: signatures with both keys" eval "$SIGNPY '$SOCK' \
    tpm.pub 3 && $SIGNPY '$SOCK' tpmpw.pub 3 && $SIGNPY '$SOCK' tpm.pub 1"
check_eq "... the TPM holds nothing of the agent's between signatures" "" \
    "$(transient_handles; tpm2_getcap handles-loaded-session 2>&1 |
    sed -n 's/^- *//p')"
check_eq "... every signature loads the key (7 TPM2_CreatePrimary)" 7 \
    "$(grep -c '^0x00000131$' spy.log)"
check_eq "... and flushes parent, key and session (4 x 2 + 3 x 3)" 17 \
    "$(grep -c '^0x00000165$' spy.log)"
check_eq "... the password asked once" 1 "$(grep -c . askpass.log)"
kill_wait "$AGENT_PID"

# A token that fails (as if pulled) once: that signature fails, then works.
HWK_FAKE_FAIL=C_Sign HWK_FAKE_FAIL_NTH=2 HWK_FAKE_FAIL_RV=0x32 \
    start_agent --pin-source file:pin token tpm
check "token: first signature" $SIGNPY "$SOCK" token.pub 1
out=$($SIGNPY "$SOCK" token.pub 1 2>&1)
check_match "token removed: the signature fails" "failed" "$out"
check "token back: it signs again" $SIGNPY "$SOCK" token.pub 2
check "the TPM key was not disturbed" $SIGNPY "$SOCK" tpm.pub 1
kill_wait "$AGENT_PID"

# Another application reset the card: C_Sign finds us logged out.  A new
# session and one fresh login, and the signature is made all the same.
: >fake.log
HWK_FAKE_FAIL=C_Sign HWK_FAKE_FAIL_NTH=2 HWK_FAKE_FAIL_RV=0x101 \
    HWK_FAKE_FAIL_LOGOUT=1 HWK_FAKE_LOG=$T_TMP/fake.log \
    start_agent --pin-source file:pin token
check "token logged out under us: every signature is made" \
    $SIGNPY "$SOCK" token.pub 3
check_eq "with one login more, after the one refused C_Sign" \
    "C_Login 0x0 C_Sign 0x0 C_Sign 0x101 C_Login 0x0 C_Sign 0x0 C_Sign 0x0" \
    "$(grep -E '^C_(Login|Sign) ' fake.log | tr '\n' ' ' | sed 's/ $//')"
kill_wait "$AGENT_PID"

# A wrong PIN: that signature fails, is logged, and is never retried,
# not even by the requests after it (each would spend a try).
: >fake.log
HWK_FAKE_LOG=$T_TMP/fake.log start_agent --pin-source file:badpin token
out=$($SIGNPY "$SOCK" token.pub 1 2>&1)
check_match "wrong PIN: the signature fails" "failed" "$out"
for i in 2 3 4; do
	out=$($SIGNPY "$SOCK" token.pub 1 2>&1)
	check_match "wrong PIN: request $i fails too" "failed" "$out"
done
check_eq "wrong PIN: one C_Login over four requests" 1 \
    "$(grep -c '^C_Login ' fake.log)"
check_match "wrong PIN: logged" "token.*(PIN|pin)" "$(<agent.log)"
check_match "later requests: the log says to fix the file and restart" \
    "PIN from file:badpin was refused by token 'agent-test'.*; fix the file and restart" \
    "$(<agent.log)"
check_no_match "the PIN is never logged" "nope|$PIN" "$(<agent.log)"
kill_wait "$AGENT_PID"

# The pin-source of a --token URI counts for signing too, not only for
# keygen (the askpass here answers "tpm pass", which the token refuses).
: >fake.log
HWK_FAKE_LOG=$T_TMP/fake.log start_agent \
    --token "pkcs11:token=agent-test?pin-source=file:$T_TMP/pin" token
check "the --token URI's pin-source signs" $SIGNPY "$SOCK" token.pub 2
check_eq "with one C_Login, and it was right" "C_Login 0x0" \
    "$(grep '^C_Login ' fake.log)"
kill_wait "$AGENT_PID"

# The PIN through SSH_ASKPASS when there is no --pin-source.
printf '#!/bin/sh\necho %s\n' "$PIN" >askpass
start_agent token
check "PIN from SSH_ASKPASS" $SIGNPY "$SOCK" token.pub 2
check_rc 0 "the agent stops on SIGTERM" kill "$AGENT_PID"
wait "$AGENT_PID"
check_eq "socket removed" "gone" "$([ -e "$SOCK" ] && echo there || echo gone)"
check_eq "no TPM handles left" "" "$(transient_handles)"

done_testing
