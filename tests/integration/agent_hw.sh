# hwkey-agent with a TPM key (swtpm) and a token key (SoftHSM2): stock
# ssh-add, ssh and ssh-keygen -Y through it; PINs and passwords; a TPM that
# is reset or goes away, a token that fails; nothing left behind.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
AGENT=$B/hwkey-agent
SPY=$B/tests/tcti_spy.so
FAULT=$B/tests/pkcs11_fault.so
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
# The TPM's password is asked for at a signature: -y, which reads the key
# file's public part, asks nothing.
check_eq "hwkeygen -y of a TPM key with a password asks no question" \
    "$(<tpmpw.pub)" "$(SSH_ASKPASS=/bin/false "$HWK" -y -f tpmpw </dev/null \
    2>&1)"

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
# signpy SOCKET KEY.pub N [FLAGS]: tests/bench/agent_sign.py (N signature
# requests on one connection), run by one python3 that stays for the whole
# test: a python3 start costs ~50 ms, and the test signs some forty times.
# It runs each request's script afresh with its own arguments; its output
# and exit status are the script's.
coproc SIGNER { "$PY" -u -c '
import contextlib, io, sys, traceback
path = sys.argv[1]
code = compile(open(path).read(), path, "exec")
for line in sys.stdin:
    sys.argv = [path] + line.rstrip("\n").split("\t")
    g = {"__name__": "__main__", "__file__": path}
    out, err, rc = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(code, g)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=err)
            rc = 1
        else:
            rc = e.code or 0
    except BaseException:
        traceback.print_exc(file=err)
        rc = 1
    finally:
        if hasattr(g.get("s"), "close"):
            g["s"].close()	# its connection ends as the process did
    for tag, text in (("o", out), ("e", err)):
        for l in text.getvalue().splitlines():
            print(tag + l)
    print("x%d" % rc)
' "$TOP/tests/bench/agent_sign.py"; }
at_exit "kill_wait $SIGNER_PID"
signpy() {
	local IFS=$'\t' l
	printf '%s\n' "$*" >&"${SIGNER[1]}" || return 1
	while IFS= read -r l <&"${SIGNER[0]}"; do
		case $l in
		o*) printf '%s\n' "${l#o}" ;;
		e*) printf '%s\n' "${l#e}" >&2 ;;
		x*) return "${l#x}" ;;
		esac
	done
	return 1
}
# The agent, through the TCTI spy so we can count what it sends the TPM;
# -P: the token key's stub names the fault module, outside /usr/lib.
start_agent() {
	# A socket left by an agent that had to be killed would look ready.
	rm -f "$SOCK"
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
# count_lines FILE REGEX: N, how many lines of FILE match (grep -Ec), and
# LINES_SEEN, those lines.
count_lines() {
	local l
	N=0 LINES_SEEN=
	while IFS= read -r l; do
		[[ $l =~ $2 ]] || continue
		N=$((N + 1))
		LINES_SEEN+=${LINES_SEEN:+$'\n'}$l
	done <"$1"
}
start_agent --pin-source file:pin tpm tpmpw token
export SSH_AUTH_SOCK=$SOCK

pubs=$(<tpm.pub)$'\n'$(<tpmpw.pub)$'\n'$(<token.pub)
check_eq "ssh-add -l lists the three keys with their fingerprints" \
    "$(ssh-keygen -l -f - <<<"$pubs")" "$(ssh-add -l)"
check_eq "ssh-add -L gives their .pub lines" "$pubs" "$(ssh-add -L)"
log=
[ -e spy.log ] && log=$(<spy.log)
check_eq "the agent touched no TPM before the first signature" "" "$log"

# Stock ssh cannot read the stubs: it signs through the agent.  The key
# exchange is no part of the test: curve25519 alone, as sntrup761's costs
# ssh and sshd ~0.1 s of CPU a login.
printf '%s\n' "$pubs" >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
for k in tpm tpmpw token; do
	for alg in rsa-sha2-512 rsa-sha2-256; do
		check_eq "ssh -i $k logs in through the agent ($alg)" \
		    "hwk-login-ok" "$(ssh_cmd -o IdentitiesOnly=yes \
		    -o KexAlgorithms=curve25519-sha256 \
		    -o PubkeyAcceptedAlgorithms=$alg -i $k \
		    "$user@127.0.0.1" echo hwk-login-ok 2>&1)"
	done
done
fp=$(ssh-keygen -l -f tpm.pub)
fp=${fp#* }
fp=${fp%% *}
check_match "the server accepted the TPM key" \
    "Accepted publickey for $user .* RSA ${fp//[+\/]/.}" \
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
out=$(signpy "$SOCK" tpm.pub 10)
check_match "ten more TPM signatures" "sig/s" "$out"
printf -v want '0x0000015d %.0s' {1..10}
log=$(<spy.log)
check_eq "one TPM command (TPM2_Sign) per signature" "${want% }" \
    "${log//$'\n'/ }"
# A second key, counted after its own warm-up signature: without a
# resource manager it first takes the place of the key held before.
signpy "$SOCK" tpmpw.pub 1 >/dev/null
: >spy.log
signpy "$SOCK" tpmpw.pub 5 >/dev/null
printf -v want '0x0000015d %.0s' {1..5}
log=$(<spy.log)
check_eq "with a password too (one TPM2_Sign per signature)" "${want% }" \
    "${log//$'\n'/ }"

# A TPM reset (every object flushed): reloaded without a question.
: >spy.log
kill_wait "$AGENT_PID"
transient_handles_of
check_eq "stopping the agent flushes its TPM handles" "" "$TPM_HANDLES"
HWK_SPY_LOSE_AT=4 start_agent --pin-source file:pin tpm tpmpw token
check_match "signatures across a TPM reset" "sig/s" \
    "$(signpy "$SOCK" tpm.pub 6 2>&1)"
kill_wait "$AGENT_PID"

# A command of a kept key lost on the way (as after a laptop's hibernation):
# the key is loaded again on a new connection and the signature succeeds.
# (Commands: CreatePrimary, Load, FlushContext, Sign, then the lost Sign.)
: >agent.log
HWK_SPY_FAIL_AT=5 start_agent --pin-source file:pin tpm tpmpw token
check_match "a lost command on a kept key: every signature succeeds" \
    "sig/s" "$(signpy "$SOCK" tpm.pub 3 2>&1)"
check_no_match "... none failed in the agent's log" "signature failed" \
    "$(<agent.log)"

# The TPM goes away: that signature fails, the agent and the token go on.
kill_wait "$SWTPM_PID"
out=$(signpy "$SOCK" tpm.pub 1 2>&1)
check_match "no TPM: the signature fails" "failed" "$out"
check "no TPM: the token key still signs" signpy "$SOCK" token.pub 2
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
check "the TPM is back: the key signs again" signpy "$SOCK" tpm.pub 2
check "and the password key" signpy "$SOCK" tpmpw.pub 1
kill_wait "$AGENT_PID"

# Four TPM keys in a TPM without a resource manager (swtpm: three object
# slots for every program): the agent holds at most one at a time, so each
# signs in turn, round after round, and another program makes a key
# meanwhile.  The two more keys are ECDSA P-256: which key the TPM holds,
# not its type, is the subject here (an RSA key costs the swtpm 0.25 s).
"$HWK" -q --backend tpm2 -t ecdsa -N '' -C tpm3@agent -f tpm3 || exit 1
"$HWK" -q --backend tpm2 -t ecdsa -N 'tpm pass' -C tpm4@agent -f tpm4 ||
    exit 1
: >spy.log
start_agent tpm tpmpw tpm3 tpm4
failed="" most=0
for round in 1 2 3; do
	for k in tpm tpmpw tpm3 tpm4; do
		signpy "$SOCK" $k.pub 2 >/dev/null 2>&1 ||
		    failed="$failed $k(round $round)"
		transient_handles_of
		n=${TPM_HANDLES//[!$'\n']/}
		n=$(( ${#TPM_HANDLES} ? ${#n} + 1 : 0 ))
		[ "$n" -gt "$most" ] && most=$n
	done
done
check_eq "four TPM keys sign in turn, three rounds" "" "$failed"
check_eq "the TPM holds one of the agent's keys at a time" 1 "$most"
log=$(<spy.log)
check_match "the key held is flushed before the next one loads" \
    '0x0000015d (0x00000165 )+0x00000131 0x00000157' "${log//$'\n'/ } "
check "a keygen in the same TPM while the agent runs" "$HWK" -q \
    --backend tpm2 -t ecdsa -N '' -f tpm5
check "... and the agent's keys still sign" eval \
    "signpy '$SOCK' tpm4.pub 1 && signpy '$SOCK' tpm.pub 1"
kill_wait "$AGENT_PID"
transient_handles_of
check_eq "... none are left once the agent is gone" "" "$TPM_HANDLES"

# A raw TPM device (/dev/tpm0) admits one process at a time: the agent lets
# go of it after every signature.  The spy reports /dev/null as the device
# it polls, as the device TCTI reports /dev/tpm0.  The askpass records each
# prompt, then a line "--".
printf '#!/bin/sh\nprintf "%%s\\n--\\n" "$1" >>"%s"\necho "tpm pass"\n' \
    "$T_TMP/askpass.log" >askpass
: >spy.log
: >askpass.log
HWK_SPY_POLL_PATH=/dev/null start_agent tpm tpmpw
check "a raw device: signatures with both keys" eval "signpy '$SOCK' \
    tpm.pub 3 && signpy '$SOCK' tpmpw.pub 3 && signpy '$SOCK' tpm.pub 1"
tpm_handles_of 80000000 02000000
check_eq "... the TPM holds nothing of the agent's between signatures" "" \
    "$TPM_HANDLES"
count_lines spy.log '^0x00000131$'
check_eq "... every signature loads the key (7 TPM2_CreatePrimary)" 7 "$N"
count_lines spy.log '^0x00000165$'
check_eq "... and flushes parent, key and session (4 x 2 + 3 x 3)" 17 "$N"
count_lines askpass.log '^--$'
check_eq "... the password asked once" 1 "$N"
read -r _ fp _ < <(ssh-keygen -l -f tpmpw.pub)
asked=$(<askpass.log)
check_line "... the prompt names the key: comment and fingerprint" \
    "Key tpmpw@agent $fp." "$asked"
check_match "... and the program asking, with its pid" \
    '^Requested by python3 \(pid [0-9]+\)\.$' "$asked"
check_line "... before the TPM's question" "Enter passphrase: " "$asked"
kill_wait "$AGENT_PID"

# A token that fails (as if pulled) once: that signature fails, then works.
HWK_FAKE_FAIL=C_Sign HWK_FAKE_FAIL_NTH=2 HWK_FAKE_FAIL_RV=0x32 \
    start_agent --pin-source file:pin token tpm
check "token: first signature" signpy "$SOCK" token.pub 1
out=$(signpy "$SOCK" token.pub 1 2>&1)
check_match "token removed: the signature fails" "failed" "$out"
check "token back: it signs again" signpy "$SOCK" token.pub 2
check "the TPM key was not disturbed" signpy "$SOCK" tpm.pub 1
kill_wait "$AGENT_PID"

# Another application reset the card: C_Sign finds us logged out.  A new
# session and one fresh login, and the signature is made all the same.
: >fake.log
HWK_FAKE_FAIL=C_Sign HWK_FAKE_FAIL_NTH=2 HWK_FAKE_FAIL_RV=0x101 \
    HWK_FAKE_FAIL_LOGOUT=1 HWK_FAKE_LOG=$T_TMP/fake.log \
    start_agent --pin-source file:pin token
check "token logged out under us: every signature is made" \
    signpy "$SOCK" token.pub 3
count_lines fake.log '^C_(Login|Sign) '
check_eq "with one login more, after the one refused C_Sign" \
    "C_Login 0x0 C_Sign 0x0 C_Sign 0x101 C_Login 0x0 C_Sign 0x0 C_Sign 0x0" \
    "${LINES_SEEN//$'\n'/ }"
kill_wait "$AGENT_PID"

# A wrong PIN: that signature fails, is logged, and is never retried,
# not even by the requests after it (each would spend a try).
: >fake.log
HWK_FAKE_LOG=$T_TMP/fake.log start_agent --pin-source file:badpin token
out=$(signpy "$SOCK" token.pub 1 2>&1)
check_match "wrong PIN: the signature fails" "failed" "$out"
for i in 2 3 4; do
	out=$(signpy "$SOCK" token.pub 1 2>&1)
	check_match "wrong PIN: request $i fails too" "failed" "$out"
done
count_lines fake.log '^C_Login '
check_eq "wrong PIN: one C_Login over four requests" 1 "$N"
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
check "the --token URI's pin-source signs" signpy "$SOCK" token.pub 2
count_lines fake.log '^C_Login '
check_eq "with one C_Login, and it was right" "C_Login 0x0" "$LINES_SEEN"
kill_wait "$AGENT_PID"

# The PIN through SSH_ASKPASS when there is no --pin-source.
printf '#!/bin/sh\nprintf "%%s\\n" "$1" >"%s"\necho %s\n' \
    "$T_TMP/askpass.log" "$PIN" >askpass
start_agent token
check "PIN from SSH_ASKPASS" signpy "$SOCK" token.pub 2
read -r _ fp _ < <(ssh-keygen -l -f token.pub)
asked=$(<askpass.log)
check_line "the PIN prompt names the key: comment and fingerprint" \
    "Key token@agent $fp." "$asked"
check_match "... and the program asking, with its pid" \
    '^Requested by python3 \(pid [0-9]+\)\.$' "$asked"
check_line "... before the token's question" "Enter PIN for 'agent-test': " \
    "$asked"
check_rc 0 "the agent stops on SIGTERM" kill "$AGENT_PID"
wait "$AGENT_PID"
[ -e "$SOCK" ] && sock=there || sock=gone
check_eq "socket removed" "gone" "$sock"
transient_handles_of
check_eq "no TPM handles left" "" "$TPM_HANDLES"

done_testing
