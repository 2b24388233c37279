# TPM keys with a password: asked for, refused when wrong (and forgotten),
# and the TPM's dictionary-attack lockout, which keys without a password
# made with noDA escape.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
# The key without a password only shows that noDA spares it a lockout: an
# ECDSA key does, at a tenth of the swtpm's work for an RSA one.
tpm2_key k1 '' -t ecdsa || exit 1

# --- A key with a password ------------------------------------------------
check "keygen with a passphrase" "$HWK" --backend tpm2 -q \
    -N 'correct horse' -C pw@test -f k2
asn1=$(openssl asn1parse -in k2)
check_match "emptyAuth is FALSE, so loaders ask for the password" \
    'cont \[ 0 \] .*BOOLEAN +:0 .*INTEGER +:40000001' "${asn1//$'\n'/ }"
pub_fields "$asn1"
printf -v noda '%08x' $((0x$PUB_ATTRS & 0x400))
check_eq "with a password the TPM's lockout protects it (no noDA)" \
    00000000 "$noda"
tpm_clean "keygen with a passphrase"
pem_of k2.pub >k2.pem
check "tpm2-openssl signs with it given the password" \
    ossl_sign k2 sha256 s2 'correct horse'
check "... and the signature verifies" verify sha256 k2.pem s2
check "tpm2-openssl refuses a wrong password" \
    eval '! ossl_sign k2 sha256 s2x wrong'
check "our backend signs with -P (SHA-512)" "$SIGN" -a sha512 \
    -P 'correct horse' -f k2 -i data -s s2b
check "... verified by openssl" verify sha512 k2.pem s2b
check "our backend asks for the password when not given" \
    eval "echo 'correct horse' | setsid -w '$SIGN' -f k2 -i data -s s2c"
check "... verified by openssl" verify sha256 k2.pem s2c
out=$("$SIGN" -P 'wrong horse' -f k2 -i data -s s2d 2>&1)
check_eq "a wrong password exits 5" 5 "$?"
check_match "... says so and counts the tries left" \
    'wrong passphrase for the TPM key.*more it locks out' "${out//$'\n'/ }"
# A wrong password is forgotten, ours and ESYS's copy on the loaded key:
# the same key object asks again and signs with the right one.
tpm2_dictionarylockout -c >/dev/null 2>&1
out=$(printf 'wrong horse\ncorrect horse\n' | setsid -w "$SIGN" -k -n 2 \
    -f k2 -i data -s s2e 2>&1)
check_eq "after a wrong password the same key signs with the right one" \
    0 "$?"
count "$out" 'Enter passphrase'
check_eq "... asking twice" 2 "$N"
check "... and the signature verifies" verify sha256 k2.pem s2e
tpm_clean "a wrong password"
out=$("$HWK" --backend tpm2 -q -N '123456789012345678901234567890123' \
    -f klong 2>&1)
check_eq "a password over 32 bytes is refused" 1 "$?"
check_match "... naming the TPM's limit" 'at most 32' "$out"
no_files klong
tpm2_dictionarylockout -c >/dev/null 2>&1

# --- Lockout ---------------------------------------------------------------
# A key without a password made without noDA (as tpm2-tools make them).
tools_key knoda ecc256 \
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt'
check "a passwordless key made without noDA signs outside a lockout" \
    "$SIGN" -f knoda -i data -s s3
tpm2_dictionarylockout -s -n 2 -t 600 -l 600 >/dev/null 2>&1
for i in 1 2; do
	check_rc 5 "wrong password $i of 2 (exit 5)" "$SIGN" -P nope \
	    -f k2 -i data -s s3
done
out=$("$SIGN" -P 'correct horse' -f k2 -i data -s s3 2>&1)
check_eq "in lockout even the right password fails (exit 5)" 5 "$?"
check_match "... and says it is a lockout and how to end it" \
    'dictionary-attack lockout.*tpm2_dictionarylockout --clear-lockout' \
    "${out//$'\n'/ }"
check "in lockout our passwordless key still signs (noDA)" "$SIGN" -f k1 \
    -i data -s s3nd
der_of s3nd s3nd.der
check "... verified by openssl" verify sha256 k1.pem s3nd.der
out=$("$SIGN" -f knoda -i data -s s3 2>&1)
check_eq "in lockout a passwordless key without noDA is refused (exit 5)" \
    5 "$?"
check_match "... as covered by the lockout, and how to end it" \
    'lockout, and this key, which has no password, was made without noDA.*tpm2_dictionarylockout --clear-lockout' \
    "${out//$'\n'/ }"
check_no_match "... without blaming wrong passwords" 'wrong passwords' \
    "$out"
tpm_clean "lockout"
tpm2_dictionarylockout -c >/dev/null 2>&1
check "after --clear-lockout the right password works" "$SIGN" \
    -P 'correct horse' -f k2 -i data -s s3
tpm2_dictionarylockout -s -n 3 -t 1000 -l 1000 >/dev/null 2>&1

done_testing
