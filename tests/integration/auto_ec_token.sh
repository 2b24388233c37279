# --backend auto with a token that makes elliptic-curve keys but not RSA
# (SoftHSM2 behind the fault module, which hides RSA key generation), and
# a TPM (swtpm): ECDSA and Ed25519 go to the token, RSA passes the token
# over (saying why) and goes to the TPM, --require-hardware without the TPM
# fails for RSA; --backends says what each backend makes.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
softhsm_setup || exit 1
PIN=246810
softhsm_token hwk-ec "$PIN" 13579135 || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
export HWK_FAKE_REAL=$SOFTHSM_MODULE HWK_FAKE_NO_RSA_GEN=1
p11kit_register ecfake "$B/tests/pkcs11_fault.so"
start_swtpm || exit 1
json() { $PY -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# The token's objects, as pkcs11-tool lists them (logged in).
objects() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label hwk-ec --login \
	    --pin "$PIN" --list-objects 2>/dev/null
}
first_line() { local l; IFS= read -r l <<<"$1"; printf '%s\n' "$l"; }

# ECDSA: the token.
out=$("$HWK" -t ecdsa -N '' --pin-source file:pin -C ec -f ec 2>&1)
check_eq "-t ecdsa: exit 0" 0 $?
check_match "-t ecdsa: the token is chosen" \
    "^token 'hwk-ec' \(serial [0-9a-f]+\): using pkcs11$" "$(first_line "$out")"
check_match "-t ecdsa: the file is the token's stub" \
    '^pkcs11:.*token=hwk-ec;.*type=private' "$(<ec)"
check_eq "-t ecdsa: ssh-keygen reads the .pub as ECDSA 256" \
    "256 ECDSA" "$(ssh-keygen -l -f ec.pub | awk '{print $1, $NF}' |
    tr -d '()')"
objs=$(objects)
check_match "-t ecdsa: the private key is on the token" \
    '^Private Key Object; EC' "$objs"

# Ed25519: the token too (a TPM never makes it).
out=$("$HWK" -t ed25519 -N '' --pin-source file:pin -C ed -f ed 2>&1)
check_eq "-t ed25519: exit 0" 0 $?
check_match "-t ed25519: the token is chosen" ': using pkcs11$' \
    "$(first_line "$out")"

# RSA (the default type): the token cannot, so the TPM.
out=$("$HWK" -N '' --pin-source file:pin -C rsa -f rsa 2>&1)
check_eq "-t rsa: exit 0" 0 $?
check_match "-t rsa: passes the token over, saying why, and uses the TPM" \
    '^pkcs11: cannot make rsa keys, TPM at swtpm:.*: using tpm2$' \
    "$(first_line "$out")"
check_match "-t rsa: the file is a TPM key" '^-----BEGIN TSS2 PRIVATE KEY-----$' \
    "$(<rsa)"
objs=$(objects)
check_match "-t rsa: the token still holds its EC keys" \
    '^Private Key Object; EC' "$objs"
check_no_match "-t rsa: no RSA key was made on the token" 'Object; RSA' \
    "$objs"
check_eq "-t rsa: no transient handle is left in the TPM" "" \
    "$(transient_handles)"

# Without the TPM, --require-hardware has nothing for RSA.
out=$(TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(free_port)" "$HWK" \
    --require-hardware -N '' --pin-source file:pin -f hw 2>&1)
check_eq "--require-hardware -t rsa without a TPM: exit 4" 4 $?
check_match "... says the token cannot make RSA keys" \
    '^hwkeygen: no hardware backend is usable: pkcs11: cannot make rsa keys, no TPM at ' \
    "$out"
check_eq "... and writes nothing" "" "$(ls hw hw.pub 2>/dev/null)"

# Naming the token: -t rsa is the person's mistake, said before any prompt.
out=$("$HWK" --backend pkcs11 --token pkcs11:token=hwk-ec -N '' \
    --pin-source file:pin -f named 2>&1 </dev/null)
check_eq "--token naming it, -t rsa: exit 2" 2 $?
check_match "... says what the token makes" \
    "cannot make RSA keys \(it makes ECDSA keys on P-256, P-384, P-521 and Ed25519 keys\)" \
    "$out"
check_line "... and what to do" "hwkeygen: Ask for a type the token makes (hwkeygen --backends lists them), or use --backend software." \
    "$out"

# --backends: the types and sizes of each backend.
js=$("$HWK" --backends --json 2>/dev/null)
# One python3 reads the four answers, a line each (a start costs ~30 ms).
ec="[t for m in d['pkcs11']['modules'] for t in m['tokens'] if t['label'] == 'hwk-ec']"
mapfile -t v < <(json "'\\n'.join((
    ' '.join(str(x) for t in $ec for x in (t['can_make_rsa_keys'], t['why_not'])),
    ' '.join(str(x) for t in $ec for x in (t['ecdsa_bits'], t['ed25519'])),
    str(d['tpm2']['ecdsa_bits']),
    ' '.join(str(d['software'][k]) for k in ('ecdsa_bits', 'ed25519'))))" <<<"$js")
check_eq "--backends: the token cannot make RSA keys, and says so" \
    "False cannot make RSA keys (it makes ECDSA keys on P-256, P-384, P-521 and Ed25519 keys)" \
    "${v[0]-}"
check_eq "--backends: the token's curves and Ed25519" "[256, 384, 521] True" \
    "${v[1]-}"
check_eq "--backends: the TPM's curves (swtpm: P-256 to P-521)" \
    "[256, 384, 521]" "${v[2]-}"
check_eq "--backends: software makes every type" "[256, 384, 521] True" \
    "${v[3]-}"

# Modules nobody named start without a word on our output: one that
# chatters on stdout and stderr as it starts leaves --json whole.
out=$(HWK_FAKE_CHATTER=1 "$HWK" --json -t ecdsa -N '' --pin-source file:pin \
    -C quiet -f quiet 2>err)
check_eq "a chattering module: exit 0" 0 $?
check_eq "... stdout is the JSON alone" "quiet" \
    "$(json "d['comment']" <<<"$out" 2>&1)"
check_no_match "... and stderr holds none of its words" 'fake module' \
    "$(<err)"

# tpm2-pkcs11's tokens are this machine's TPM, which the tpm2 backend
# uses: auto never starts that module (it would write a store in the
# home folder) and says why.  A copy of the fault module by its name,
# before the token (and no TPM), would otherwise offer the token.
p11kit_unregister ecfake
mkdir mods && cp "$B/tests/pkcs11_fault.so" mods/libtpm2_pkcs11.so
p11kit_register tpm2_pkcs11 "$T_TMP/mods/libtpm2_pkcs11.so"
out=$(HWK_FAKE_LOG=$T_TMP/tpm-module.log \
    TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(free_port)" "$HWK" \
    --require-hardware -t ecdsa -N '' --pin-source file:pin -f viatpm 2>&1)
check_eq "tpm2_pkcs11 registered, no TPM: exit 4" 4 $?
check_match "... the module is named as the TPM" \
    '\(module tpm2_pkcs11 is the TPM, which the tpm2 backend uses\)' "$out"
check_eq "... and was never started" "no calls" \
    "$([ -e tpm-module.log ] && cat tpm-module.log || echo no calls)"
check_eq "... nothing written" "" "$(ls viatpm viatpm.pub 2>/dev/null)"
p11kit_unregister tpm2_pkcs11
p11kit_register ecfake "$B/tests/pkcs11_fault.so"

done_testing
