# --backend auto: a token first, then a TPM, then software, said aloud;
# --require-hardware; --backends and --json read by a JSON parser; bad
# options are errors, never a reason to pass a backend over; a module that
# fails to start is one short clause.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
softhsm_setup || exit 1		# an empty token folder: no token yet
# SoftHSM2 registered in the test's own p11-kit configuration, as a
# distribution registers it, and no other module.
p11kit_register softhsm2 "$SOFTHSM_MODULE"
printf '1234\n' >pin
chmod 600 pin
# A TCTI where no TPM answers, so a machine's own TPM does not count.
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$(free_port)"
# json TEXT EXPR...: sets the array v to what each Python expression gives
# of the JSON document TEXT (d), one line each: one Python for them all.
json() {
	printf '%s' "$1" >"$T_TMP/doc.json"
	mapfile -t v < <($PY - "$T_TMP/doc.json" "${@:2}" <<'PYEOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    d = e
for expr in sys.argv[2:]:
    try:
        print(eval(expr))
    except Exception as e:
        print("%s: %r (document: %r)" % (expr, e, d))
PYEOF
)
}
# files NAME: sets FILES to which of NAME and NAME.pub exist, or "none".
files() {
	local f
	FILES=
	for f in "$1" "$1.pub"; do
		if [ -e "$f" ] || [ -L "$f" ]; then FILES+="$f "; fi
	done
	FILES=${FILES:-none}
}
# Values no backend could take, one per option of each backend.
BAD_OPTS=(--token=notauri --id=0g --login=admin --pin-source=env:PIN
    --pin-source=file: --module= --module-allow= --tcti=
    --tcti=swtpm:port=notaport --parent=0x40000007)
# bad_options WHAT: each of them exits 2 (usage), says which, makes nothing.
bad_options() {
	local o out rc
	for o in "${BAD_OPTS[@]}"; do
		out=$("$HWK" -N '' -C bad -f bad "$o" 2>&1)
		rc=$?
		files bad
		check_eq "$1, $o: exit 2, no files" "2 none" "$rc $FILES"
		check_match "$1, $o: the message names the option" \
		    "^hwkeygen: ${o%%=*}[ :']" "$out"
		[ "$FILES" = none ] || rm -f bad bad.pub
	done
}

# Nothing: software, and the line says why.
out=$("$HWK" -b 2048 -N '' -C none -f "$HOME/.ssh/id_none" 2>&1)
check_match "nothing there: the line says no token, no TPM, software" \
    '^no token.*no TPM at swtpm:host=127\.0\.0\.1.*: using software$' \
    "${out%%$'\n'*}"
check_match "nothing there: an OpenSSH key" "BEGIN OPENSSH PRIVATE KEY" \
    "$(<"$HOME/.ssh/id_none")"
out=$("$HWK" --require-hardware -N '' -f nohw 2>&1)
check_eq "--require-hardware with nothing: exit 4" 4 $?
check_match "--require-hardware with nothing: says why" \
    "no hardware backend is usable: no token.*no TPM" "$out"
files nohw
check_eq "--require-hardware with nothing: no file" "none" "$FILES"
bad_options "nothing there"

# A registered module that fails to start (as tpm2-pkcs11 does without a
# TPM): one short clause in the line, none of its noise.
p11kit_register dud "$B/tests/pkcs11_dud.so"
module_dud="module dud"
out=$("$HWK" -b 2048 -N '' -C dud -f dud 2>&1)
check_eq "a module that fails: software still makes the key" 0 "$?"
line=${out%%$'\n'*}
check_match "the line comes first and says the module failed to start" \
    '^no token that can make a key \(.*module dud failed to start \(CKR_GENERAL_ERROR\).*\), no TPM at .*: using software$' \
    "$line"
rest=${out//module dud/}
check_eq "one clause for it" 1 "$(((${#out} - ${#rest}) / ${#module_dud}))"
check_no_match "none of the module's own noise" 'DUD-NOISE' "$out"
check_eq "the line stays short (under 250 characters)" yes \
    "$([ ${#line} -lt 250 ] && echo yes || echo "no: ${#line}")"
p11kit_unregister dud

# Only a TPM: tpm2.
start_swtpm || exit 1
out=$("$HWK" -N '' -C tpm -f "$HOME/.ssh/id_tpm" 2>&1)
check_match "only a TPM: the line says so" \
    "^no token.*, TPM at swtpm:host=127\\.0\\.0\\.1,port=[0-9]+: using tpm2$" \
    "${out%%$'\n'*}"
check_match "only a TPM: a TSS2 key file" "BEGIN TSS2 PRIVATE KEY" \
    "$(<"$HOME/.ssh/id_tpm")"
# (ECDSA P-256: what is tested is that a TPM is hardware enough.)
check_eq "only a TPM: --require-hardware is content" 0 \
    "$("$HWK" --require-hardware -t ecdsa -q -N '' -f hw >/dev/null 2>&1
    echo $?)"
bad_options "only a TPM"

# A token too: the token wins, through p11-kit's registered SoftHSM2.
softhsm_token auto-test 1234 5678 || exit 1
bad_options "a token and a TPM"
check_eq "(no key was made on the token for them)" 0 \
    "$(softhsm_objects auto-test 1234)"
res=$("$HWK" --json --pin-source file:pin -C token \
    -f "$HOME/.ssh/id_token" 2>err)
rc=$?
check_eq "a token and a TPM: exit 0" 0 "$rc"
IFS= read -r first <err
check_match "a token and a TPM: the line names the token" \
    "^token 'auto-test' \\(serial [0-9a-f]+\\): using pkcs11$" "$first"
json "$res" 'd["backend"]' 'd["path"]' 'd["fingerprint"]' \
    'd["bits"], d["type"]' 'd["public_key"]'
check_eq "--json result: backend" pkcs11 "${v[0]-}"
check_eq "--json result: path" "$HOME/.ssh/id_token" "${v[1]-}"
read -r _ fp _ < <(ssh-keygen -l -f "$HOME/.ssh/id_token.pub")
check_eq "--json result: the fingerprint of the .pub" "$fp" "${v[2]-}"
bits_type=${v[3]-}
check_eq "--json result: bits and type" "2048 RSA" "${bits_type//[(),\']/}"
check_eq "--json result: the .pub line" "$(<"$HOME/.ssh/id_token.pub")" \
    "${v[4]-}"

# --backends, for people and as JSON.
b=$("$HWK" --backends --json)
json "$b" 'list(d)' 'd["tpm2"]["usable"]' \
    '[x for x in d["tpm2"]["rsa_bits"] if x >= 2048]' \
    'd["tpm2"]["manufacturer"]' \
    '[t["can_make_rsa_keys"] for m in d["pkcs11"]["modules"] for t in m["tokens"] if t["label"] == "auto-test"]' \
    'd["software"]["library"].startswith("OpenSSL")'
check_eq "--backends --json: the three backends in auto's order" \
    "['pkcs11', 'tpm2', 'software']" "${v[0]-}"
check_eq "--backends: the TPM is usable" True "${v[1]-}"
check_eq "--backends: the TPM's RSA sizes (swtpm: 2048, 3072)" \
    "[2048, 3072]" "${v[2]-}"
check_eq "--backends: the TPM's maker" IBM "${v[3]-}"
check_match "--backends: our token, able to make RSA keys" "True" "${v[4]-}"
check_eq "--backends: software's library" True "${v[5]-}"
check_match "--backends in text" "^tpm2:$" "$("$HWK" --backends)"

# --list --json: one entry per pair, with the backend of each.
l=$("$HWK" --list --json)
json "$l" \
    '" ".join(sorted(e["path"].split("/")[-1] + ":" + e["backend"] for e in d))' \
    '[e["fingerprint"] for e in d if e["path"].endswith("id_tpm")][0]' \
    '" ".join(e["protection"].split()[-1] for e in sorted(d, key=lambda e: e["path"]))'
check_eq "--list --json: backends by file" \
    "id_none:software id_token:pkcs11 id_tpm:tpm2" "${v[0]-}"
read -r _ fp _ < <(ssh-keygen -l -f "$HOME/.ssh/id_tpm.pub")
check_eq "--list --json: fingerprints as ssh-keygen -l says" "$fp" "${v[1]-}"
check_eq "--list --json: protections" "none PIN none" "${v[2]-}"

done_testing
