# hwkey-agent keeps PKCS#11 modules in a helper process: the agent never
# maps p11-kit or a module, a module that crashes or hangs in C_Sign fails
# that signature only, the agent's other keys (a software key, another
# token key) go on signing, the helper starts again at the next use, and
# no helper is left over, dead or alive.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1
mkdir -p "$HOME"
for k in tok1 tok2; do
	"$HWK" -q --backend pkcs11 --module "$FAULT" --pin-source file:pin \
	    -t ecdsa -C "$k@helper" -f "$k" || exit 1
done
"$HWK" -q --backend software -t ed25519 -N '' -C soft@helper -f soft ||
	exit 1

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
# Crashes and hangs are armed by a file each, taken as they fire; a
# helper that says nothing for 1 s (instead of 120) is given up.
HWK_FAKE_CRASH_AT=C_Sign:$T_TMP/crash HWK_FAKE_HANG_AT=C_Sign:$T_TMP/hang \
    HWK_FAKE_LOG=$T_TMP/calls.log HWK_AGENT_HELPER_TIMEOUT=1 \
    "$B/hwkey-agent" -d -a "$SOCK" -P "$B/tests/*" --pin-source file:pin \
    tok1 tok2 soft >/dev/null 2>agent.log &
AGENT_PID=$!
at_exit "kill_wait $AGENT_PID"
for ((i = 0; i < 250; i++)); do [ -S "$SOCK" ] && break; nap 0.02; done
export SSH_AUTH_SOCK=$SOCK

# The helpers the agent started, from its log (-d), in HELPERS.
helpers() {
	local line
	HELPERS=()
	while read -r line; do
		[[ $line == *"PKCS#11 helper started, pid "* ]] &&
			HELPERS+=("${line##* }")
	done <agent.log
}
# state PID: R, S, Z... of a process, or "gone".
state() {
	local s
	if read -r s 2>/dev/null <"/proc/$1/stat"; then
		s=${s##*) }
		echo "${s%% *}"
	else
		echo gone
	fi
}
# maps PID: the files a process maps, one a line.
maps() {
	local _ _ _ _ _ f out=
	while read -r _ _ _ _ _ f; do out+=$f$'\n'; done <"/proc/$1/maps"
	printf '%s' "$out"
}

check "ssh-add -T: the token key signs through the helper" ssh-add -T tok1.pub
check "ssh-add -T: so does another on the same token" ssh-add -T tok2.pub
check "ssh-add -T: the software key signs in the agent" ssh-add -T soft.pub
helpers
# (Another checked the options before the log began, and was stopped.)
check_eq "one helper so far" 1 "${#HELPERS[@]}"
h=${HELPERS[0]}
m=$(maps "$h")
check_match "the helper maps the token's module" "pkcs11_fault\.so" "$m"
check_match "and p11-kit" "libp11-kit" "$m"
m=$(maps "$AGENT_PID")
check_no_match "the agent maps no PKCS#11 module" \
    "pkcs11_fault|softhsm" "$m"
check_no_match "nor p11-kit" "libp11-kit" "$m"

# A module that crashes in C_Sign: that signature fails, nothing else.
: >crash
check_rc 1 "a signature whose module crashes fails" ssh-add -T tok1.pub
check_eq "the module did crash (the armed crash was taken)" 1 \
    "$(count_lines '^C_Sign crash' calls.log)"
check_match "the agent says the module crashed, and how" \
    "PKCS#11 module crashed in a request \(Aborted\)" \
    "$(<agent.log)"
check_eq "the crashed helper was reaped: no zombie" gone "$(state "$h")"
check "the agent lives on: the software key still signs" ssh-add -T soft.pub
check "the other token key signs: opened again in a new helper" \
    ssh-add -T tok2.pub
check "and the key of the failed signature signs again" ssh-add -T tok1.pub
helpers
check_eq "one new helper for both" 2 "${#HELPERS[@]}"
h=${HELPERS[1]}

# A module that hangs in C_Sign: given up after the timeout, killed.
: >hang
SECONDS=0
check_rc 1 "a signature whose module hangs fails" ssh-add -T tok2.pub
check "within the helper timeout (1 s; took ${SECONDS} s)" \
    test "$SECONDS" -le 5
check_eq "the module did hang" 1 "$(count_lines '^C_Sign hang' calls.log)"
check_match "the agent says the module gave no answer" \
    "PKCS#11 module gave no answer in 1000 ms" "$(<agent.log)"
check_eq "the hung helper was killed and reaped" gone "$(state "$h")"
check "the software key signs meanwhile" ssh-add -T soft.pub
check "the hung key signs again, in a new helper" ssh-add -T tok2.pub
helpers
h=${HELPERS[-1]}
check_eq "a third helper" 3 "${#HELPERS[@]}"

# A helper that died while idle is noticed before a request is sent.
kill -9 "$h"
check "a helper killed while idle costs no signature" ssh-add -T tok1.pub
check_eq "the one killed was reaped" gone "$(state "$h")"
helpers
h=${HELPERS[-1]}
m=$(maps "$AGENT_PID")
check_no_match "after all that, the agent still maps no module" \
    "pkcs11_fault|softhsm|libp11-kit" "$m"

# At its end the agent lets the helper close its sessions, and reaps it.
kill_wait "$AGENT_PID"
check_eq "no helper is left when the agent ends" gone "$(state "$h")"
check_no_match "it ended when told, it was not killed" "did not end: killed" \
    "$(<agent.log)"

done_testing
