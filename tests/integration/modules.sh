# A key file never runs code: the PKCS#11 module a stub names is loaded
# only if p11-kit has it registered, it is in the allowed folders
# (--module-allow, hwkey-agent -P; default /usr/lib*/*,/usr/local/lib*/*),
# or the person named it with --module.  A module that would leave a mark
# if it were ever loaded shows that -y, -l, --list and the agent refuse it,
# and that a .pub beside the stub answers without any module.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
softhsm_setup || exit 1
AGENT=$B/hwkey-agent
FAULT=$B/tests/pkcs11_fault.so
DUD=$B/tests/pkcs11_dud.so
PIN=112233
softhsm_token mod-test "$PIN" 44556677 || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
export HWK_FAKE_REAL=$SOFTHSM_MODULE HWK_FAKE_MARKER=$T_TMP/marker

# key_of TEXT: sets KEY to the type and base64 of the .pub line TEXT.
key_of() { local t b _; read -r t b _ <<<"$1"; KEY="$t $b"; }

# A real key whose stub names the fault module (it forwards to SoftHSM2),
# in build/tests/: outside the default folders.  (ECDSA P-256: which module
# is loaded is the subject, not the key's type.)
"$HWK" -q --backend pkcs11 --module "$FAULT" --pin-source file:pin \
    -t ecdsa -C mod@test -f kf || exit 1
cp kf kf-alone
check_match "its stub names the module's absolute path" \
    "module-path=${FAULT//\//%2F}" "$(<kf)"

# Stubs that name the marking module: by relative paths, and absolutely.
mkdir sub
cp "$DUD" dud.so
cp "$DUD" sub/dud.so
uri="pkcs11:token=mod-test;id=%01;type=private"
printf '%s?module-path=./dud.so\n' "$uri" >rel1
printf '%s?module-path=sub/dud.so\n' "$uri" >rel2
printf '%s?module-path=%s\n' "$uri" "$DUD" >abs
marked() { [ -e "$T_TMP/marker" ] && echo "loaded" || echo "never loaded"; }

for s in rel1 rel2; do
	for op in -y -l; do
		out=$("$HWK" "$op" -f "$s" 2>&1)
		check_eq "$op on a stub naming a relative module path: exit 1" \
		    1 "$?"
		check_match "$op, relative: it says why it is refused" \
		    "module \\./dud\\.so is refused|module sub/dud\\.so is refused" \
		    "$out"
	done
done
check_match "(and says it must be an absolute path)" "absolute path" "$out"
check_eq "no module was loaded for relative paths" "never loaded" "$(marked)"
for op in -y -l; do
	out=$("$HWK" "$op" -f abs 2>&1)
	check_eq "$op on a stub naming a module outside the folders: exit 1" \
	    1 "$?"
	check_match "$op: the message names the module" \
	    "PKCS#11 module $DUD is refused" "$out"
	check_match "$op: and the folders it may be in" \
	    'allowed module files \(/usr/lib\*/\*,/usr/local/lib\*/\*\)' "$out"
	check_match "$op: and how to allow it" \
	    "name it with --module $DUD, or allow its folder with --module-allow \\(hwkey-agent -P\\)" \
	    "$out"
done
check_eq "no module was loaded for them" "never loaded" "$(marked)"

# A .pub beside the stub answers -y and -l: no module, no token.
cp kf.pub abs.pub
check_eq "-l with the .pub beside the stub: the .pub's fingerprint" \
    "$(ssh-keygen -l -f kf.pub)" "$("$HWK" -l -f abs 2>&1)"
check_eq "-y with the .pub beside the stub: the .pub's key" \
    "$(<kf.pub)" "$("$HWK" -y -f abs 2>&1)"
cp kf.pub rel1.pub
check_eq "-y, relative module, with a .pub: the .pub's key" \
    "$(<kf.pub)" "$("$HWK" -y -f rel1 2>&1)"
check_eq "no module was loaded to read public keys" "never loaded" \
    "$(marked)"

# --list reads every stub in ~/.ssh, with and without a .pub.
cp abs abs.pub rel2 "$HOME/.ssh/"
out=$("$HWK" --list 2>&1)
check_match "--list shows the stubs" "abs .*pkcs11.*mod@test" "$out"
check_match "(the one without a .pub too)" "rel2 .*pkcs11" "$out"
out=$("$HWK" --list --json 2>&1)
check_eq "--list --json: both stubs" 2 "$(printf '%s' "$out" |
    $PY -c 'import json, sys; print(len(json.load(sys.stdin)))')"
check_eq "no module was loaded by --list" "never loaded" "$(marked)"
rm -f "$HOME/.ssh/abs" "$HOME/.ssh/abs.pub" "$HOME/.ssh/rel2"

# The ways to allow a module: --module, --module-allow, p11-kit.
key_of "$(<kf.pub)"
want=$KEY
out=$("$HWK" -y -f kf-alone 2>&1)
check_eq "-y on a real stub outside the folders: refused (exit 1)" 1 "$?"
check_match "(it names the fault module)" "module $FAULT is refused" "$out"
key_of "$("$HWK" -y --module "$FAULT" -f kf-alone)"
check_eq "--module names it: -y reads the key from the token" "$want" "$KEY"
key_of "$("$HWK" -y --module-allow "$B/tests/*" -f kf-alone)"
check_eq "--module-allow takes its folder: -y reads the key" "$want" "$KEY"
key_of "$("$HWK" -y --module-allow "/usr/lib*/*,$B/tests/pkcs11_f?ult.so" \
    -f kf-alone)"
check_eq "a list of patterns, as ssh-agent -P" "$want" "$KEY"
check_rc 1 "a negated pattern refuses, whatever else matches" \
    "$HWK" -y --module-allow "$B/*,!$B/tests/pkcs11_fault.so" -f kf-alone
check_rc 1 "the allowed folders replace the default" \
    "$HWK" -y --module-allow "/opt/*" -f kf-alone
# The file a link leads to is what must be allowed.
mkdir allowed
ln -s "$FAULT" allowed/fault.so
stub=$(<kf-alone)
link=$T_TMP/allowed/fault.so
[[ $stub =~ module-path=[^\;?\&]* ]] &&
    printf '%s\n' "${stub/"${BASH_REMATCH[0]}"/module-path=${link//\//%2F}}" \
    >klink
out=$("$HWK" -y --module-allow "$T_TMP/allowed/*" -f klink 2>&1)
check_eq "a link in an allowed folder to a module outside: refused" 1 "$?"
check_match "(it names both)" \
    "module $T_TMP/allowed/fault.so \\($FAULT\\) is refused" "$out"
p11kit_register fault "$FAULT"
key_of "$("$HWK" -y -f kf-alone)"
check_eq "registered with p11-kit: -y reads the key" "$want" "$KEY"
p11kit_unregister fault
check_eq "(the marking module was never loaded)" "never loaded" "$(marked)"
check_rc 2 "--module-allow '' is a usage error" \
    "$HWK" -y --module-allow '' -f kf-alone
check_eq "--module-allow with a relative stub still refuses it" \
    "never loaded" "$("$HWK" -y --module-allow '*' -f rel2 >/dev/null 2>&1;
    marked)"

# The agent: keys are offered from their .pub; signing loads the module,
# which must be allowed (-P, as ssh-agent).
mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
start_agent() {
	"$AGENT" -D -a "$SOCK" --pin-source file:pin "$@" >agent.out \
	    2>agent.log &
	AGENT_PID=$!
	at_exit "kill_wait $AGENT_PID"
	for ((i = 0; i < 250; i++)); do
		[ -S "$SOCK" ] && break
		nap 0.02
	done
}
stop_agent() { kill_wait "$AGENT_PID"; rm -f "$SOCK"; }
echo "a document" >doc
# sign PUB: ssh-keygen -Y sign through the agent, and verify it.
sign() {
	rm -f doc.sig
	SSH_AUTH_SOCK=$SOCK ssh-keygen -q -Y sign -f "$1" -n file doc \
	    >/dev/null 2>&1 || return 1
	echo "signer $(<"$1")" >allowed_signers
	ssh-keygen -Y verify -f allowed_signers -I signer -n file -s doc.sig \
	    <doc >/dev/null 2>&1
}
"$HWK" -q --backend software -t ed25519 -N '' -C other -f other || exit 1
cp other.pub dudkey.pub
cp abs dudkey
start_agent kf dudkey
mapfile -t offered < <(SSH_AUTH_SOCK=$SOCK ssh-add -L)
check_eq "the agent offers both keys, from their .pub files" 2 \
    "${#offered[@]}"
check_rc 1 "a signature with the stub outside the folders fails" sign kf.pub
check_match "the agent says the module is refused" \
    "module $FAULT is refused" "$(<agent.log)"
check_rc 1 "a signature with the marking module's stub fails" \
    sign dudkey.pub
stop_agent
check_eq "the agent never loaded the marking module" "never loaded" \
    "$(marked)"
start_agent -P "$B/tests/pkcs11_fault.so" kf
check "with -P naming it, the agent signs with the key" sign kf.pub
stop_agent
start_agent --module-allow "$B/tests/*" kf
check "--module-allow does the same for the agent" sign kf.pub
stop_agent
check_eq "(still never loaded the marking module)" "never loaded" \
    "$(marked)"
# Proof that the mark works: a module that is allowed is loaded.
cp abs abs-alone
"$HWK" -y --module-allow "$B/tests/*" -f abs-alone >/dev/null 2>&1
check_eq "an allowed module is loaded (the mark works)" "loaded" "$(marked)"

done_testing
