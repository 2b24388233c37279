# --backend auto: a token first, then a TPM, then software, said aloud;
# --require-hardware; --backends and --json read by a JSON parser; bad
# options are errors, never a reason to pass a backend over; a module that
# fails to start is one short clause.
. "$(dirname "$0")/../lib/common.sh"
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
json() { $PY -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# files NAME: which of NAME and NAME.pub exist, or "none".
files() {
	local f out=
	for f in "$1" "$1.pub"; do
		if [ -e "$f" ] || [ -L "$f" ]; then out+="$f "; fi
	done
	echo "${out:-none}"
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
		check_eq "$1, $o: exit 2, no files" "2 none" "$rc $(files bad)"
		check_match "$1, $o: the message names the option" \
		    "^hwkeygen: ${o%%=*}[ :']" "$out"
		rm -f bad bad.pub
	done
}

# Nothing: software, and the line says why.
out=$("$HWK" -b 2048 -N '' -C none -f "$HOME/.ssh/id_none" 2>&1)
check_match "nothing there: the line says no token, no TPM, software" \
    '^no token.*no TPM at swtpm:host=127\.0\.0\.1.*: using software$' \
    "$(printf '%s\n' "$out" | head -1)"
check_match "nothing there: an OpenSSH key" "BEGIN OPENSSH PRIVATE KEY" \
    "$(<"$HOME/.ssh/id_none")"
out=$("$HWK" --require-hardware -N '' -f nohw 2>&1)
check_eq "--require-hardware with nothing: exit 4" 4 $?
check_match "--require-hardware with nothing: says why" \
    "no hardware backend is usable: no token.*no TPM" "$out"
check_eq "--require-hardware with nothing: no file" "none" \
    "$(ls nohw nohw.pub 2>/dev/null || echo none)"
bad_options "nothing there"

# A registered module that fails to start (as tpm2-pkcs11 does without a
# TPM): one short clause in the line, none of its noise.
p11kit_register dud "$B/tests/pkcs11_dud.so"
out=$("$HWK" -b 2048 -N '' -C dud -f dud 2>&1)
check_eq "a module that fails: software still makes the key" 0 "$?"
line=$(printf '%s\n' "$out" | head -1)
check_match "the line comes first and says the module failed to start" \
    '^no token that can make a key \(.*module dud failed to start \(CKR_GENERAL_ERROR\).*\), no TPM at .*: using software$' \
    "$line"
check_eq "one clause for it" 1 "$(printf '%s\n' "$out" | grep -o 'module dud' |
    wc -l)"
check_no_match "none of the module's own noise" 'DUD-NOISE' "$out"
check_eq "the line stays short (under 250 characters)" yes \
    "$([ ${#line} -lt 250 ] && echo yes || echo "no: ${#line}")"
p11kit_unregister dud

# Only a TPM: tpm2.
start_swtpm || exit 1
out=$("$HWK" -N '' -C tpm -f "$HOME/.ssh/id_tpm" 2>&1)
check_match "only a TPM: the line says so" \
    "^no token.*, TPM at swtpm:host=127\\.0\\.0\\.1,port=[0-9]+: using tpm2$" \
    "$(printf '%s\n' "$out" | head -1)"
check_match "only a TPM: a TSS2 key file" "BEGIN TSS2 PRIVATE KEY" \
    "$(<"$HOME/.ssh/id_tpm")"
check_eq "only a TPM: --require-hardware is content" 0 \
    "$("$HWK" --require-hardware -q -N '' -f hw >/dev/null 2>&1; echo $?)"
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
check_match "a token and a TPM: the line names the token" \
    "^token 'auto-test' \\(serial [0-9a-f]+\\): using pkcs11$" \
    "$(head -1 err)"
check_eq "--json result: backend" pkcs11 "$(printf '%s' "$res" |
    json 'd["backend"]')"
check_eq "--json result: path" "$HOME/.ssh/id_token" \
    "$(printf '%s' "$res" | json 'd["path"]')"
check_eq "--json result: the fingerprint of the .pub" \
    "$(ssh-keygen -l -f "$HOME/.ssh/id_token.pub" | cut -d' ' -f2)" \
    "$(printf '%s' "$res" | json 'd["fingerprint"]')"
check_eq "--json result: bits and type" "2048 RSA" \
    "$(printf '%s' "$res" | json 'd["bits"], d["type"]' | tr -d "(),'")"
check_eq "--json result: the .pub line" "$(<"$HOME/.ssh/id_token.pub")" \
    "$(printf '%s' "$res" | json 'd["public_key"]')"

# --backends, for people and as JSON.
b=$("$HWK" --backends --json)
check_eq "--backends --json: the three backends in auto's order" \
    "['pkcs11', 'tpm2', 'software']" "$(printf '%s' "$b" | json 'list(d)')"
check_eq "--backends: the TPM is usable" True \
    "$(printf '%s' "$b" | json 'd["tpm2"]["usable"]')"
check_eq "--backends: the TPM's RSA sizes (swtpm: 2048, 3072)" \
    "[2048, 3072]" "$(printf '%s' "$b" |
    json '[x for x in d["tpm2"]["rsa_bits"] if x >= 2048]')"
check_eq "--backends: the TPM's maker" IBM \
    "$(printf '%s' "$b" | json 'd["tpm2"]["manufacturer"]')"
check_match "--backends: our token, able to make RSA keys" "True" \
    "$(printf '%s' "$b" | json '[t["can_make_rsa_keys"] for m in d["pkcs11"]["modules"] for t in m["tokens"] if t["label"] == "auto-test"]')"
check_eq "--backends: software's library" True \
    "$(printf '%s' "$b" | json 'd["software"]["library"].startswith("OpenSSL")')"
check_match "--backends in text" "^tpm2:$" "$("$HWK" --backends)"

# --list --json: one entry per pair, with the backend of each.
l=$("$HWK" --list --json)
check_eq "--list --json: backends by file" \
    "id_none:software id_token:pkcs11 id_tpm:tpm2" \
    "$(printf '%s' "$l" | json '" ".join(sorted(e["path"].split("/")[-1] + ":" + e["backend"] for e in d))')"
check_eq "--list --json: fingerprints as ssh-keygen -l says" \
    "$(ssh-keygen -l -f "$HOME/.ssh/id_tpm.pub" | cut -d' ' -f2)" \
    "$(printf '%s' "$l" | json '[e["fingerprint"] for e in d if e["path"].endswith("id_tpm")][0]')"
check_eq "--list --json: protections" "none PIN none" \
    "$(printf '%s' "$l" | json '" ".join(e["protection"].split()[-1] for e in sorted(d, key=lambda e: e["path"]))')"

done_testing
