# Attestation of TPM keys (docs/attestation.md): KEY.attest from a TPM
# manufactured with EK certificates, checked by a verifier with no TPM,
# a challenge only that TPM can answer; keys born elsewhere, tampered
# evidence, a wrong root and another TPM's answers all fail.  (Tokens:
# attest_piv.sh.)
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
# TPM A: EK certificates from swtpm_setup, the issuing CA in the TCG's EK
# chain index, as a vendor would leave it.
swtpm_manufacture "$T_TMP/tpmA" || exit 1
swtpm_run "$T_TMP/tpmA" || exit 1
A=$SWTPM_TCTI
use_swtpm "$A"
openssl x509 -in "$EK_ISSUER" -outform der -out issuer.der &&
    tpm2_nvdefine -Q 0x01c00100 -C o -s "$(stat -c %s issuer.der)" \
    -a 'ownerwrite|ownerread|authread|authwrite|no_da' &&
    tpm2_nvwrite -Q 0x01c00100 -C o -i issuer.der || exit 1
V=(--ca "$EK_ROOT")

# --- A key made with --attest, checked, challenged, answered ---------------
"$HWK" --backend tpm2 -t ecdsa -N '' -C k@test -f k --attest >out 2>&1
check_eq "--attest at generation" 0 "$?"
check_match "... says where the attestation went" \
    'attestation has been saved in k\.attest' "$(cat out)"
check_eq "... KEY.attest is 0644" 644 "$(mode_of k.attest)"
check_match "... JSON naming its format" '"format": "hwkeygen-attest-v1"' \
    "$(cat k.attest)"
tpm_clean "--attest"
check "--attest-challenge checks it with no TPM" env -u TPM2TOOLS_TCTI \
    "$HWK" --attest-challenge k.attest "${V[@]}" -o ch
check_eq "... the challenge is 0644" 644 "$(mode_of ch)"
check_eq "... its secret beside it is 0600" 600 "$(mode_of ch.secret)"
check "--attest-respond answers it on the TPM" "$HWK" --attest-respond ch \
    -o resp
tpm_clean "--attest-respond"
out=$(env -u TPM2TOOLS_TCTI "$HWK" --attest-verify k.attest "${V[@]}" \
    --challenge ch --response resp 2>&1)
check_eq "--attest-verify: everything holds" 0 "$?"
fp=$(ssh-keygen -l -f k.pub | cut -d' ' -f2)
check_line "... with the key's fingerprint" "Key         $fp" "$out"
check_match "... the TPM its EK certificate names" \
    'Device +TPM 2\.0, manufacturer id:00001014, model swtpm' "$out"
check_match "... and how the key is protected" \
    'Protection +born in the TPM and bound to it' "$out"
out=$("$HWK" --attest-verify k.attest "${V[@]}" --challenge ch \
    --response resp --json 2>&1)
check_match "--attest-verify --json" '"verified": true' "$out"
check_line "... with the fingerprint" "  \"fingerprint\": \"$fp\"," "$out"
check_rc 2 "a TPM's evidence needs the challenge" "$HWK" --attest-verify \
    k.attest "${V[@]}"

# --- tpm2-tools' MakeCredential, answered by ours ---------------------------
# The AK's name from the secret file, the EK's key from its certificate:
# the blob tpm2_makecredential makes without a TPM must open to its secret.
akname=$(sed -n 's/.*"ak_name": "\(.*\)".*/\1/p' ch.secret | base64 -d |
    od -An -tx1 | tr -d ' \n')
sed -n '/"ek_cert": \[/{n;s/ *"\(.*\)",*/\1/p}' k.attest | base64 -d |
    openssl x509 -inform der -pubkey -noout >ek.pem
head -c 32 /dev/urandom >cred
tpm2_makecredential -T none -G rsa -e ek.pem -s cred -n "$akname" -o mc \
    >/dev/null 2>&1
check_eq "tpm2_makecredential for our AK" 0 "$?"
$PY - mc ch mc.ch <<'PYEOF'
import base64, json, struct, sys
d = open(sys.argv[1], "rb").read()[8:]   # magic and version
n = struct.unpack(">H", d[:2])[0]
c = json.load(open(sys.argv[2]))
c["credential_blob"] = base64.b64encode(d[:2 + n]).decode()
c["encrypted_secret"] = base64.b64encode(d[2 + n:]).decode()
json.dump(c, open(sys.argv[3], "w"))
PYEOF
check "... answered by --attest-respond" "$HWK" --attest-respond mc.ch \
    -o mc.resp
check_eq "... with the secret it was given" "$(base64 -w0 cred)" \
    "$(sed -n 's/.*"secret": "\(.*\)".*/\1/p' mc.resp)"

# --- Keys of other makers ---------------------------------------------------
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -out ossl.pem 2>/dev/null
check "--attest -f of a tpm2-openssl key" "$HWK" --attest -f ossl.pem </dev/null
check "... challenged" "$HWK" --attest-challenge ossl.pem.attest "${V[@]}" \
    -o och
check "... answered" "$HWK" --attest-respond och -o oresp
check "... verified" "$HWK" --attest-verify ossl.pem.attest "${V[@]}" \
    --challenge och --response oresp
# Imported: made outside the TPM, then wrapped for it.
openssl ecparam -name prime256v1 -genkey -noout -out imp.key
tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c srk.ctx \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' &&
    tpm2_import -Q -C srk.ctx -G ecc -i imp.key -u imp.pub -r imp.priv &&
    tpm2_encodeobject -C srk.ctx -u imp.pub -r imp.priv -o imp.pem &&
    tpm_flush 80000000 02000000 && chmod 600 imp.pem
check "--attest -f of an imported key (tpm2_import)" "$HWK" --attest \
    -f imp.pem -P ''
out=$("$HWK" --attest-challenge imp.pem.attest "${V[@]}" -o ich 2>&1)
check_eq "... fails the challenge" 1 "$?"
check_match "... as imported" 'not born in the TPM.*imported' "$out"
check_eq "... and writes no challenge" "" "$(ls ich* 2>/dev/null)"

# --- A password key: -P opens it, a wrong one is refused --------------------
echo "the data an SSH server would have us sign" >data
tpm2_key kp pw -t ecdsa
check "--attest -f of a password key with -P" "$HWK" --attest -f kp -P pw
rm -f kp.attest
check_rc 5 "... a wrong password: exit 5" "$HWK" --attest -f kp -P px
check_eq "... and no KEY.attest" "" "$(ls kp.attest 2>/dev/null)"
check "--attest at generation with -N" "$HWK" --backend tpm2 -t ecdsa \
    -N pw2 -q -f kpw --attest
check_eq "... takes the new passphrase: KEY.attest" kpw.attest \
    "$(ls kpw.attest 2>/dev/null)"
tpm_clean "attestation of password keys"

# --- Tampered evidence, a wrong root ----------------------------------------
"$HWK" --backend tpm2 -t ecdsa -N '' -q -f k2 --attest || exit 1
$PY - k.attest k2.attest <<'PYEOF'
import base64, json, sys
e = json.load(open(sys.argv[1]))
o = json.load(open(sys.argv[2]))
def put(name, **kv):
    d = dict(e)
    d.update(kv)
    json.dump(d, open(name, "w"))
sig = bytearray(base64.b64decode(e["certify_signature"]))
sig[-1] ^= 1
put("t-key.attest", ssh_key=o["ssh_key"])
put("t-sig.attest", certify_signature=base64.b64encode(sig).decode())
put("t-pub.attest", key_public=o["key_public"])
put("t-ak.attest", ak_public=e["key_public"])
put("t-ek.attest", ek_cert=e["ek_cert"][1:], ek_cert_index=e["ek_cert_index"][1:])
PYEOF
for t in "key:not made for this SSH key" \
    "sig:signature of the certification does not verify" \
    "pub:certified name is not the name" \
    "ak:not a restricted signing key" \
    "ek:no EK certificate for an RSA-2048"; do
	out=$("$HWK" --attest-challenge "t-${t%%:*}.attest" "${V[@]}" -o tch \
	    2>&1)
	check_eq "tampered evidence (${t%%:*}) fails" 1 "$?"
	check_match "... saying: ${t#*:}" "${t#*:}" "$out"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other.key -subj /CN=other-root -days 2 -out other.pem 2>/dev/null
out=$("$HWK" --attest-challenge k.attest --ca other.pem -o tch 2>&1)
check_eq "a wrong root fails" 1 "$?"
check_match "... saying so" 'EK certificate does not lead to a root' "$out"

# --- TPM B: another TPM, with an ECC P-256 EK (template L-2) ----------------
# Its certificate from the test's own CA (other.pem), written where TCG
# says; its key answers for itself but never for A's.
swtpm_run "$T_TMP/tpmB" || exit 1
B=$SWTPM_TCTI
use_swtpm "$B"
tpm2_createek -Q -G ecc -c ekB.ctx -u ekB.pem -f pem && tpm_flush 80000000 &&
    openssl req -new -key other.key -subj /CN=tpmB -out ekB.csr &&
    openssl x509 -req -in ekB.csr -force_pubkey ekB.pem -CA other.pem \
    -CAkey other.key -set_serial 7 -days 2 -outform der -out ekB.der \
    2>/dev/null &&
    tpm2_nvdefine -Q 0x01c0000a -C o -s "$(stat -c %s ekB.der)" \
    -a 'ownerwrite|ownerread|authread|authwrite|no_da' &&
    tpm2_nvwrite -Q 0x01c0000a -C o -i ekB.der || exit 1
cat "$EK_ROOT" other.pem >roots.pem
"$HWK" --backend tpm2 -t ecdsa -N '' -q -f kb --attest
check_eq "TPM B: --attest" 0 "$?"
check "... challenged (ECC EK)" "$HWK" --attest-challenge kb.attest \
    --ca roots.pem -o bch
check "... answered" "$HWK" --attest-respond bch -o bresp
check "... verified" "$HWK" --attest-verify kb.attest --ca roots.pem \
    --challenge bch --response bresp
out=$("$HWK" --attest-respond ch -o xresp 2>&1)
check_eq "TPM B cannot answer A's challenge" 1 "$?"
check_match "... saying it is for another TPM" 'made for another TPM \(its EK' \
    "$out"
tpm_clean "TPM B after a refused challenge"
# B's answer to its own challenge, given for A's.
out=$("$HWK" --attest-verify k.attest "${V[@]}" --challenge ch \
    --response bresp 2>&1)
check_eq "a response from another TPM fails" 1 "$?"
check_match "... saying so" 'response does not answer the challenge' "$out"
printf '{"format": "hwkeygen-attest-response-v1", "secret": "%s"}\n' \
    "$(head -c 32 /dev/urandom | base64 -w0)" >gresp
check_rc 1 "a made-up response fails" "$HWK" --attest-verify k.attest \
    "${V[@]}" --challenge ch --response gresp
head -c 300 /dev/urandom >gresp
check_rc 1 "garbage for a response fails" "$HWK" --attest-verify k.attest \
    "${V[@]}" --challenge ch --response gresp
check_rc 1 "a challenge made for other evidence fails" "$HWK" \
    --attest-verify kb.attest --ca roots.pem --challenge ch --response resp

# --- Keys no proof can be given for (tokens: attest_piv.sh) ------------------
"$HWK" --backend software -t ed25519 -N '' -q -f soft
out=$("$HWK" --attest -f soft 2>&1)
check_eq "--attest of a software key is refused" 1 "$?"
check_match "... saying why" 'soft is a key in a file' "$out"
check_eq "... and writes nothing" "" "$(ls soft.attest 2>/dev/null)"
check_rc 2 "--attest with --backend software is refused" "$HWK" \
    --backend software --attest -t ed25519 -N '' -f soft2
check_eq "... before a key is made" "" "$(ls soft2* 2>/dev/null)"
done_testing
