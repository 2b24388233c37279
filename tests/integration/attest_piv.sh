# PIV attestation (docs/attestation.md): the ykcs11-like module on a
# SoftHSM2 token, holding what a YubiKey gives through ykcs11 (a slot's
# attestation certificate with Yubico's extensions, and slot f9's that
# signed it) from a test CA standing for Yubico's PIV root; the chain alone
# proves the key, checked with no token.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1
softhsm_token hwk-yk "$PIN" "$SOPIN" || exit 1
yk() {
	"$HWK" -q --backend pkcs11 --module "$STRICT" \
	    --token pkcs11:token=hwk-yk "$@"
}
yk --login so --pin-source file:mgmkey -t ecdsa -f ky || exit 1
yk --login so --pin-source file:mgmkey -t ecdsa -f ky2 || exit 1

# The test CA, slot f9's certificate, and slot 9a's attestation: firmware
# 5.4.3, serial 12345678, PIN once, touch cached, as a YubiKey writes them.
cat >ext.cnf <<'EOF2'
[f9]
basicConstraints = critical, CA:TRUE
[yk]
1.3.6.1.4.1.41482.3.3 = DER:05:04:03
1.3.6.1.4.1.41482.3.7 = DER:02:04:00:BC:61:4E
1.3.6.1.4.1.41482.3.8 = DER:02:03
1.3.6.1.4.1.41482.3.9 = DER:01
EOF2
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout root.key -subj "/CN=Test PIV Root" \
    -days 2 -out root.pem 2>/dev/null &&
    openssl req -new "${ec[@]}" -keyout f9.key \
    -subj "/CN=Test PIV Attestation" -out f9.csr 2>/dev/null &&
    openssl x509 -req -in f9.csr -CA root.pem -CAkey root.key \
    -set_serial 1 -days 2 -extfile ext.cnf -extensions f9 -out f9.pem \
    2>/dev/null &&
    ssh-keygen -e -m PKCS8 -f ky.pub >ky.pem &&
    openssl x509 -req -in f9.csr -force_pubkey ky.pem -CA f9.pem \
    -CAkey f9.key -set_serial 2 -days 2 -extfile ext.cnf -extensions yk \
    -subj "/CN=YubiKey PIV Attestation 9a" -outform der -out att.der \
    2>/dev/null || exit 1
openssl x509 -in f9.pem -outform der -out f9.der
put() {
	pkcs11-tool --module "$M" --token-label hwk-yk --login --pin "$PIN" \
	    --write-object "$1" --type cert --id "$2" --label "$3" >/dev/null
}
put att.der 01 "X.509 Certificate for PIV Attestation 9a" &&
    put f9.der 19 "X.509 Certificate for PIV Attestation" || exit 1

# --- The key, attested and verified ------------------------------------------
check "--attest -f of a token key" "$HWK" --attest "${ALLOW[@]}" -f ky
check_eq "... KEY.attest is 0644" 644 "$(mode_of ky.attest)"
out=$("$HWK" --attest-verify ky.attest --ca root.pem 2>&1)
check_eq "--attest-verify: the chain alone proves it" 0 "$?"
fp=$(ssh-keygen -l -f ky.pub | cut -d' ' -f2)
check_line "... with the key's fingerprint" "Key         $fp" "$out"
check_line "... the token's serial and firmware" \
    "Device      PIV token, serial 12345678, firmware 5.4.3" "$out"
check_match "... and its PIN and touch policies" \
    'PIN policy: once per session; touch policy: cached' "$out"
out=$("$HWK" --attest-verify ky.attest --ca root.pem --json 2>&1)
check_match "--attest-verify --json" '"verified": true' "$out"

# --- What fails -----------------------------------------------------------------
openssl req -x509 "${ec[@]}" -keyout other.key -subj "/CN=Other Root" \
    -days 2 -out other.pem 2>/dev/null
out=$("$HWK" --attest-verify ky.attest --ca other.pem 2>&1)
check_eq "a wrong root fails" 1 "$?"
check_match "... saying so" 'does not lead to a root' "$out"
sed "s|\"ssh_key\": \".*\"|\"ssh_key\": \"$(cut -d' ' -f1,2 ky2.pub)\"|" \
    ky.attest >t.attest
out=$("$HWK" --attest-verify t.attest --ca root.pem 2>&1)
check_eq "evidence for another key fails" 1 "$?"
check_match "... saying so" 'attested key is not the SSH key' "$out"
# Signed by another key under f9's very name.
openssl req -x509 -key other.key -subj "/CN=Test PIV Attestation" -days 2 \
    -addext basicConstraints=critical,CA:TRUE -out fake9.pem 2>/dev/null
openssl x509 -req -in f9.csr -force_pubkey ky.pem -CA fake9.pem \
    -CAkey other.key -set_serial 3 -days 2 -extfile ext.cnf -extensions yk \
    -subj "/CN=YubiKey PIV Attestation 9a" -outform der -out bad.der \
    2>/dev/null
sed "s|\"piv_attestation\": \".*\"|\"piv_attestation\": \"$(base64 -w0 bad.der)\"|" \
    ky.attest >t.attest
out=$("$HWK" --attest-verify t.attest --ca root.pem 2>&1)
check_eq "an attestation slot f9 did not sign fails" 1 "$?"
check_match "... saying so" 'not signed by the token.s attestation key' "$out"
check_rc 2 "a token's evidence takes no challenge" "$HWK" \
    --attest-challenge ky.attest --ca root.pem -o ch
out=$("$HWK" --attest "${ALLOW[@]}" -f ky2 2>&1)
check_eq "a key without an attestation certificate fails" 1 "$?"
check_match "... saying so" 'gives no PIV attestation for this key' "$out"
check_eq "... and writes nothing" "" "$(ls ky2.attest 2>/dev/null)"
done_testing
