# TPM keys other tools made, used by us: tpm2-openssl's, with and without a
# password, and tpm2-tools' keys bound to one scheme or able to sign only.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
A_TCTI=$SWTPM_TCTI
# type_blob TEXT: TB, the type and base64 of a .pub line (cut -d' ' -f1,2).
type_blob() {
	local t b _
	read -r t b _ <<<"$1"
	TB="$t $b"
}

# --- Keys tpm2-openssl made, used by us -------------------------------------
openssl genpkey -provider tpm2 -algorithm RSA -pkeyopt bits:2048 \
    -out theirs.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs.pem -pubout -out theirs.pub.pem
type_blob "$(ssh-keygen -i -m PKCS8 -f theirs.pub.pem)"
want=$TB
type_blob "$("$HWK" -y -f theirs.pem)"
check_eq "-y on a tpm2-openssl key gives its public key" "$want" "$TB"
for alg in sha256 sha512; do
	check "our backend signs with their key ($alg)" "$SIGN" -a $alg \
	    -f theirs.pem -i data -s st-$alg
	check "... verified by openssl" verify $alg theirs.pub.pem st-$alg
done
# Their key with a password is ECDSA P-256: the password, not the type, is
# the subject, and an RSA key costs the swtpm ~0.25 s.
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt user-auth:abc -out theirs-pw.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs-pw.pem -passin pass:abc -pubout \
    -out theirs-pw.pub.pem
check "our backend signs with their password key" "$SIGN" -P abc \
    -f theirs-pw.pem -i data -s stp
der_of stp stp.der
check "... verified by openssl" verify sha256 theirs-pw.pub.pem stp.der
check_rc 5 "... and refuses a wrong password" "$SIGN" -P abd \
    -f theirs-pw.pem -i data -s stp2
tpm2_dictionarylockout -c >/dev/null 2>&1
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -out theirs-ec.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs-ec.pem -pubout -out theirs-ec.pub.pem
type_blob "$(ssh-keygen -i -m PKCS8 -f theirs-ec.pub.pem)"
want=$TB
type_blob "$("$HWK" -y -f theirs-ec.pem)"
check_eq "-y on their ECDSA key gives its public key" "$want" "$TB"
# -y reads the public area alone: the stub as tpm2-tools write it will do.
tools_stub kp192 ecc192 \
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
out=$("$HWK" -y -f kp192 2>&1)
check_eq "an ECC key on NIST P-192 is refused (exit 1)" 1 "$?"
check_match "... as on a curve SSH does not use" \
    'ECC key on a curve SSH does not use' "$out"
tpm_clean "tpm2-openssl keys"

# Keys made by tpm2-tools with a fixed scheme, or able to sign only.
tools_key kfixed rsa2048:rsassa-sha256 \
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
"$HWK" -y -f kfixed >kfixed.pub && pem_of kfixed.pub >kfixed.pem
check "a key bound to RSASSA-SHA256 signs with SHA-256" "$SIGN" -a sha256 \
    -f kfixed -i data -s sfx
check "... verified by openssl" verify sha256 kfixed.pem sfx
out=$("$SIGN" -a sha512 -f kfixed -i data -s sx 2>&1)
check_eq "... and refuses SHA-512 (exit 1)" 1 "$?"
check_match "... as the key's own scheme, not the TPM's lack" \
    'bound to RSASSA signatures with SHA-256, so it cannot sign with SHA-512' \
    "$out"
tools_key ksignonly rsa2048 \
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
out=$(HWK_SPY_NO_SHA512=1 "$SIGN" -o tcti="$SPY:$A_TCTI" -a sha512 \
    -f ksignonly -i data -s sx 2>&1)
check_eq "a TPM without SHA-512 and a key that cannot decrypt: exit 1" 1 \
    "$?"
check_match "... the TPM's refusal of TPM2_Sign, not the key's scheme" \
    'refused the signature \(TPM2_Sign\)' "$out"
check_no_match "... (no scheme blamed)" 'bound to' "$out"
tpm_clean "fixed schemes"

done_testing
