# TPM keys we make, judged by tpm2-openssl, OpenSSH and OpenSSL: they work
# in their tools, at the sizes the TPM makes; stubs that are cut short or
# of another kind are refused.  After every step the TPM holds no transient
# object.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1

# --- A key without a password --------------------------------------------
out=$("$HWK" --backend tpm2 -N '' -C tpm@test -f k1 2>&1)
check_eq "keygen without passphrase succeeds" 0 "$?"
check_match "says it chose RSA-2048 as every TPM has it" \
    'RSA-2048 key inside the TPM \(the size every TPM supports' "$out"
check_eq "stub is 0600" 600 "$(mode_of k1)"
first=
read -r first <k1
check_eq "stub is a TSS2 PRIVATE KEY" "-----BEGIN TSS2 PRIVATE KEY-----" \
    "$first"
asn1=$(openssl asn1parse -in k1)
check_match "stub records parent 0x40000001 and emptyAuth TRUE" \
    'BOOLEAN +:255.*INTEGER +:40000001' "${asn1//$'\n'/ }"
pub_fields "$asn1"
printf -v noda '%08x' $((0x$PUB_ATTRS & 0x400))
check_eq "without a password the key is exempt from lockout (noDA)" \
    00000400 "$noda"
check_match ".pub is an RSA-2048 ssh-rsa key" '^2048 SHA256:.* tpm@test' \
    "$(ssh-keygen -l -f k1.pub)"
tpm_clean "keygen"
pem_of k1.pub >k1.pem
check_eq "tpm2-openssl reports the public key of our .pub" \
    "$(<k1.pem)" "$(openssl pkey "${OSSL_TPM[@]}" -in k1 -pubout)"
check "tpm2-openssl signs with our key (SHA-256)" ossl_sign k1 sha256 s1
check "... and the signature verifies against our .pub" verify sha256 k1.pem s1
tpm_clean "tpm2-openssl signing"
for alg in sha1 sha256 sha512; do
	check "our backend signs with $alg" "$SIGN" -a $alg -n 2 -f k1 \
	    -i data -s s1-$alg
	check "... verified by openssl ($alg)" verify $alg k1.pem s1-$alg
done
tpm_clean "our signing"
# An ECDSA key, at a tenth of the swtpm's work: auto_ec.sh sees auto pick
# the TPM for RSA.
check "--backend auto picks the TPM" "$HWK" -q -N '' -t ecdsa -f kauto
first=
read -r first <kauto
check_eq "... and writes a stub" "-----BEGIN TSS2 PRIVATE KEY-----" "$first"

# --- Sizes -----------------------------------------------------------------
check "keygen RSA-3072" "$HWK" --backend tpm2 -q -N '' -b 3072 -f k3072
check_match "... is 3072 bits" '^3072 ' "$(ssh-keygen -l -f k3072.pub)"
check "... and signs" "$SIGN" -a sha512 -f k3072 -i data -s s3072
pem_of k3072.pub >k3072.pem
check "... verified by openssl" verify sha512 k3072.pem s3072
out=$(setsid -w "$HWK" --backend tpm2 -b 4096 -f k4096 </dev/null 2>&1)
check_eq "RSA-4096 is refused before any prompt (exit 2)" 2 "$?"
check_match "... naming the sizes the TPM makes" \
    'cannot make RSA-4096 keys; it makes RSA 2048 and 3072' "$out"
no_files k4096
tpm_clean "sizes"

# --- Bad stubs -------------------------------------------------------------
IFS= read -r -d '' -n 400 cut <k1
printf '%s' "$cut" >trunc
chmod 600 trunc		# private, or -y refuses it before reading it
out=$("$HWK" -y -f trunc 2>&1)
check_eq "a truncated stub: -y fails (exit 1)" 1 "$?"
check_match "... saying it is truncated" 'TPM key file: it is truncated' \
    "$out"
out=$("$SIGN" -f trunc -i data -s sx 2>&1)
check_eq "a truncated stub does not sign (exit 1)" 1 "$?"
echo "not a key at all" >notpem
check_rc 1 "a file that is not PEM is refused" "$HWK" -y -f notpem
$PY - k1 kother <<'PYEOF'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
der = bytearray(base64.b64decode("".join(lines[1:-2])))
oid = bytes.fromhex("0606678105 0a0103".replace(" ", ""))
i = der.index(oid)
der[i + len(oid) - 1] = 5           # 2.23.133.10.1.5: sealed data
b = base64.b64encode(bytes(der)).decode()
body = "\n".join(b[j:j + 64] for j in range(0, len(b), 64))
open(sys.argv[2], "w").write("-----BEGIN TSS2 PRIVATE KEY-----\n" + body +
                             "\n-----END TSS2 PRIVATE KEY-----\n")
PYEOF
out=$("$SIGN" -f kother -i data -s sx 2>&1)
check_eq "a stub of another TPM key type is refused (exit 1)" 1 "$?"
check_match "... saying so" 'TPM key file of another kind' "$out"
tpm_clean "bad stubs"

done_testing
