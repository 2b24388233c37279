# ECDSA keys made in a swtpm on P-256, P-384 and P-521, judged by
# tpm2-openssl, OpenSSL and ssh-keygen: the stub loads and signs in
# tpm2-openssl, our signatures verify with the .pub's key (and, as SSH
# signatures in an SSHSIG, in ssh-keygen -Y verify), a password
# travels encrypted, Ed25519 and a curve the TPM lacks are refused before
# the TPM makes anything, and no object stays in the TPM.  The keys are
# made by hwkeygen -t ecdsa.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/swtpm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
# $GEN: hwkeygen, taking -B and -o NAME=VALUE as the backend test tool
# does (a script, so that env and check can run it).
GEN=$T_TMP/gen
cat >"$GEN" <<EOF
#!/usr/bin/env bash
a=()
while [ \$# -gt 0 ]; do
	case \$1 in
	-B) a+=(--backend "\$2"); shift 2 ;;
	-o) a+=("--\${2%%=*}" "\${2#*=}"); shift 2 ;;
	*) a+=("\$1"); shift ;;
	esac
done
exec "$HWK" "\${a[@]}" </dev/null
EOF
chmod 755 "$GEN"
SIGN=$B/tests/tools/hwk-sign
SPY=$B/tests/tcti_spy.so
OSSL_TPM=(-provider tpm2 -provider default -propquery '?provider=tpm2')
echo "the data an SSH server would have us sign" >data

start_swtpm || exit 1
TCTI=$SWTPM_TCTI

# tpm_clean WHAT: no transient object and no session left in the TPM.
tpm_clean() {
	check_eq "$1: no objects or sessions left in the TPM" "" \
	    "$(transient_handles; tpm2_getcap handles-loaded-session 2>&1 |
	    sed -n 's/^- *//p')"
}
# no_files NAME: neither NAME nor NAME.pub nor a temp file was written.
no_files() {
	check_eq "$1: nothing written" "" \
	    "$(ls -d "$1" "$1.pub" 2>/dev/null; temp_files .)"
}
# The hash RFC 5656 pairs with each curve.
hash_of() { case $1 in 256) echo sha256 ;; 384) echo sha384 ;;
	*) echo sha512 ;; esac; }
# The SubjectPublicKeyInfo PEM of an ssh .pub.
pem_of() { ssh-keygen -e -m PKCS8 -f "$1"; }
# verify HASH PUBPEM DERSIG: openssl checks an ECDSA signature of data.
verify() { openssl dgst "-$1" -verify "$2" -signature "$3" data; }
# ossl_sign KEY HASH SIG [PASS]: tpm2-openssl signs data with a TPM key.
ossl_sign() {
	local pass=()
	[ $# -ge 4 ] && pass=(-passin "pass:$4")
	openssl dgst "-$2" -binary data >"$3.in" &&
	    openssl pkeyutl "${OSSL_TPM[@]}" -sign -inkey "$1" "${pass[@]}" \
	    -in "$3.in" -pkeyopt "digest:$2" -out "$3"
}
# der_of RAW DER: the sign op's r || s as the DER ECDSA-Sig-Value; prints
# the length of the raw signature.
der_of() {
	$PY - "$1" "$2" <<'PYEOF'
import sys
raw = open(sys.argv[1], "rb").read()
k = len(raw) // 2
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + der_len(len(b)) + b
def der_len(n):
    return bytes([n]) if n < 0x80 else b"\x81" + bytes([n])
body = integer(raw[:k]) + integer(raw[k:])
open(sys.argv[2], "wb").write(b"\x30" + der_len(len(body)) + body)
print(len(raw))
PYEOF
}
# pub_fields STUB: the public area's objectAttributes, signing scheme and
# curve, in hex, from the stub's pubkey OCTET STRING (a TPM2B_PUBLIC).
pub_fields() {
	$PY - "$1" <<'PYEOF'
import base64, sys
text = open(sys.argv[1]).read().split("\n")
der = base64.b64decode("".join(l for l in text if l and "-----" not in l))
def tlv(b, i):
    tag, n = b[i], b[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[j:j + k], "big")
        j += k
    return tag, j, j + n
_, i, end = tlv(der, 0)
while i < end:
    tag, v, e = tlv(der, i)
    if tag == 0x04:
        pub = der[v:e]
        break
    i = e
attrs = int.from_bytes(pub[6:10], "big")
j = 10 + 2 + int.from_bytes(pub[10:12], "big")    # past authPolicy
sym = int.from_bytes(pub[j:j + 2], "big")
j += 2 if sym == 0x10 else 6                        # TPM_ALG_NULL: no more
scheme = int.from_bytes(pub[j:j + 2], "big")
j += 2 if scheme == 0x10 else 4
print("%08x %04x %04x" % (attrs, scheme, int.from_bytes(pub[j:j + 2], "big")))
PYEOF
}

# sshsig_data NS: what ssh-keygen -Y signs for data in namespace NS
# (PROTOCOL.sshsig: the magic, the namespace, SHA-512 of the message).
sshsig_data() {
	$PY - "$1" <<'PYEOF'
import hashlib, struct, sys
s = lambda b: struct.pack(">I", len(b)) + b
m = hashlib.sha512(open("data", "rb").read()).digest()
sys.stdout.buffer.write(b"SSHSIG" + s(sys.argv[1].encode()) + s(b"") +
                        s(b"sha512") + s(m))
PYEOF
}
# sshsig PUB NS BLOB: the armoured SSH signature of data, from the SSH
# signature blob our key made over sshsig_data.
sshsig() {
	$PY - "$1" "$2" "$3" <<'PYEOF'
import base64, struct, sys
s = lambda b: struct.pack(">I", len(b)) + b
pub = base64.b64decode(open(sys.argv[1]).read().split()[1])
sig = b"SSHSIG" + struct.pack(">I", 1) + s(pub) + s(sys.argv[2].encode()) + \
    s(b"") + s(b"sha512") + s(open(sys.argv[3], "rb").read())
b = base64.b64encode(sig).decode()
print("-----BEGIN SSH SIGNATURE-----")
for i in range(0, len(b), 70):
    print(b[i:i + 70])
print("-----END SSH SIGNATURE-----")
PYEOF
}

# --- One key on each curve, without a password ------------------------------
for n in 256 384 521; do
	h=$(hash_of $n)
	out=$("$GEN" -B tpm2 -t ecdsa -b $n -N '' -C ec$n@test -f k$n 2>&1)
	check_eq "ECDSA P-$n keygen in the TPM succeeds" 0 "$?"
	check_match "... saying what it makes" \
	    "^Making an ECDSA-$n key inside the TPM\.$" "$out"
	check_eq "... the stub is 0600" 600 "$(mode_of k$n)"
	check_eq "... and a TSS2 PRIVATE KEY" \
	    "-----BEGIN TSS2 PRIVATE KEY-----" "$(head -n 1 k$n)"
	check_match "... with emptyAuth TRUE and parent 0x40000001" \
	    'BOOLEAN +:255.*INTEGER +:40000001' \
	    "$(openssl asn1parse -in k$n | tr '\n' ' ')"
	# fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA,
	# sign; no decrypt; scheme NULL; the curve asked for.
	curve=$(printf '%04x' $(( n == 256 ? 3 : n == 384 ? 4 : 5 )))
	check_eq "... attributes sign|noDA|fixed..., scheme NULL, its curve" \
	    "00040472 0010 $curve" "$(pub_fields k$n)"
	check_match "... its .pub is what ssh-keygen reads as ECDSA $n" \
	    "^$n SHA256:.* ec$n@test \(ECDSA\)$" "$(ssh-keygen -l -f k$n.pub)"
	check_match "... of type ecdsa-sha2-nistp$n" \
	    "^ecdsa-sha2-nistp$n " "$(cat k$n.pub)"
	tpm_clean "P-$n keygen"
	pem_of k$n.pub >k$n.pem
	check_eq "... tpm2-openssl reads the public key of our .pub" \
	    "$(cat k$n.pem)" "$(openssl pkey "${OSSL_TPM[@]}" -in k$n -pubout)"
	check "... tpm2-openssl signs with our stub ($h)" ossl_sign k$n $h o$n
	check "... and OpenSSL verifies that with the .pub's key" \
	    verify $h k$n.pem o$n
	tpm_clean "P-$n tpm2-openssl signing"
	check "... our backend signs (TPM2_Sign, ECDSA with $h)" "$SIGN" \
	    -n 2 -f k$n -i data -s s$n
	check_eq "... r || s, each as long as the field" \
	    $(( (n + 7) / 8 * 2 )) "$(der_of s$n s$n.der)"
	check "... verified by OpenSSL with the .pub's key" \
	    verify $h k$n.pem s$n.der
	"$SIGN" -b -f k$n -i data -s b$n
	check_match "... the SSH signature names ecdsa-sha2-nistp$n" \
	    "ecdsa-sha2-nistp$n" "$(tr -c '[:print:]' . <b$n)"
	sshsig_data file >sd$n
	"$SIGN" -b -f k$n -i sd$n -s sb$n &&
	    sshsig k$n.pub file sb$n >data.sig$n
	echo "ec$n@test $(cut -d' ' -f1,2 k$n.pub)" >signers$n
	check "... ssh-keygen -Y verify takes our SSH signature" \
	    eval "ssh-keygen -Y verify -f signers$n -I ec$n@test -n file \
	    -s data.sig$n <data"
	check "... and refuses it for other data" \
	    eval "! echo other | ssh-keygen -Y verify -f signers$n \
	    -I ec$n@test -n file -s data.sig$n"
	tpm_clean "P-$n our signing"
done
out=$("$SIGN" -a sha256 -f k256 -i data -s sx 2>&1)
check_eq "an RSA signature asked of an ECDSA key: exit 1" 1 "$?"
check_match "... it makes ECDSA signatures only" \
    'ECDSA key makes ECDSA signatures only' "$out"
out=$("$GEN" -B tpm2 -t ecdsa -N '' -f kdef 2>&1)
check_match "without -b an ECDSA key is P-256, as ssh-keygen's" \
    '^256 .*\(ECDSA\)$' "$(ssh-keygen -l -f kdef.pub)"
tpm_clean "the default curve"

# --- A key with a password --------------------------------------------------
rm -f bus.bin
check "ECDSA P-384 keygen with a passphrase, the bus recorded" env \
    HWK_SPY_DUMP="$T_TMP/bus.bin" "$GEN" -B tpm2 -o tcti="$SPY:$TCTI" \
    -t ecdsa -b 384 -N 'Sesame-7f3a' -f kpw
check_match "... emptyAuth is FALSE" 'cont \[ 0 \] .*BOOLEAN +:0 ' \
    "$(openssl asn1parse -in kpw | tr '\n' ' ')"
check_eq "... and the TPM's lockout covers it (no noDA)" "00040072" \
    "$(pub_fields kpw | cut -d' ' -f1)"
tpm_clean "keygen with a passphrase"
pem_of kpw.pub >kpw.pem
check "tpm2-openssl signs with it given the password" \
    ossl_sign kpw sha384 opw 'Sesame-7f3a'
check "... verified by OpenSSL" verify sha384 kpw.pem opw
check "our backend signs with -P, the bus recorded" env \
    HWK_SPY_DUMP="$T_TMP/bus.bin" "$SIGN" -o tcti="$SPY:$TCTI" \
    -P 'Sesame-7f3a' -f kpw -i data -s spw
der_of spw spw.der >/dev/null
check "... verified by OpenSSL" verify sha384 kpw.pem spw.der
check "the password never crossed the bus in clear" \
    eval '! grep -aq Sesame-7f3a bus.bin'
check "... though the record holds the commands" test -s bus.bin
out=$("$SIGN" -P 'Sesame-7f3b' -f kpw -i data -s sx 2>&1)
check_eq "a wrong password: exit 5" 5 "$?"
check_match "... said as such" 'wrong passphrase for the TPM key' "$out"
tpm2_dictionarylockout -c >/dev/null 2>&1
tpm_clean "signing with a password"

# --- What the TPM cannot make -----------------------------------------------
rm -f spy.log
out=$(HWK_SPY_LOG="$T_TMP/spy.log" "$GEN" -B tpm2 -o tcti="$SPY:$TCTI" \
    -t ed25519 -N '' -f ked 2>&1)
check_eq "Ed25519 in the TPM is refused (exit 2)" 2 "$?"
check_match "... naming what this TPM makes and where Ed25519 goes" \
    'this TPM makes RSA 2048/3072 and ECDSA 256/384/521 keys; Ed25519 keys it cannot make: use --backend pkcs11 or software' \
    "$out"
check_no_match "... before the TPM made anything (no TPM2_Create)" \
    '0x00000153' "$(cat spy.log)"
no_files ked
out=$("$GEN" -B tpm2 -t ecdsa -b 224 -N '' -f k224 2>&1)
check_eq "ECDSA on 224 bits is refused (exit 2)" 2 "$?"
check_match "... in ssh-keygen's words" \
    'Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits' "$out"
no_files k224
# A TPM without P-521: the spy drops it from the TPM's list of curves.
rm -f spy.log
out=$(HWK_SPY_NO_P521=1 HWK_SPY_LOG="$T_TMP/spy.log" "$GEN" -B tpm2 \
    -o tcti="$SPY:$TCTI" -t ecdsa -b 521 -N '' -f k521x 2>&1)
check_eq "a curve the TPM lacks is refused (exit 2)" 2 "$?"
check_match "... naming the curve and what the TPM makes" \
    'cannot make ECDSA-521 keys \(its curve P-521 is missing\); this TPM makes RSA 2048/3072 and ECDSA 256/384 keys' \
    "$out"
check_no_match "... before the TPM made anything (no TPM2_Create)" \
    '0x00000153' "$(cat spy.log)"
no_files k521x
check "... while P-384 is made on that TPM" env HWK_SPY_NO_P521=1 "$GEN" \
    -B tpm2 -o tcti="$SPY:$TCTI" -t ecdsa -b 384 -N '' -f k384x
tpm_clean "refusals"

# --- --backends -------------------------------------------------------------
json() { $PY -c 'import json, sys; print(json.load(sys.stdin)["tpm2"]'"$1"')'; }
check_eq "--backends --json lists the TPM's curves" "[256, 384, 521]" \
    "$("$HWK" --backends --json --tcti "$TCTI" | json '["ecdsa_bits"]')"
check_eq "... beside its RSA sizes, as before" "[1024, 2048, 3072]" \
    "$("$HWK" --backends --json --tcti "$TCTI" | json '["rsa_bits"]')"
check_eq "... and of a TPM without P-521, the two it has" "[256, 384]" \
    "$(HWK_SPY_NO_P521=1 "$HWK" --backends --json --tcti "$SPY:$TCTI" |
    json '["ecdsa_bits"]')"
check_match "--backends in text names them" 'ecdsa_bits:.*- 256.*- 521' \
    "$("$HWK" --backends --tcti "$TCTI" | tr '\n' ' ')"

# --- Commands on the bus ----------------------------------------------------
rm -f spy.log
HWK_SPY_LOG="$T_TMP/spy.log" "$GEN" -B tpm2 -o tcti="$SPY:$TCTI" -t ecdsa \
    -b 256 -N '' -f kcount >/dev/null 2>&1
check_eq "an ECDSA keygen sends 4 TPM commands, as RSA's (GetCapability, \
CreatePrimary, Create, FlushContext)" \
    "0x0000017a 0x00000131 0x00000153 0x00000165" \
    "$(tr '\n' ' ' <spy.log | sed 's/ $//')"
for n in 1 2 3 4; do
	out=$(HWK_SPY_FAIL_AT=$n "$GEN" -B tpm2 -o tcti="$SPY:$TCTI" \
	    -t ecdsa -N 'pw' -f kf$n 2>&1)
	check_eq "ECDSA keygen losing command $n of 5: exit 4" 4 "$?"
	no_files kf$n
	tpm_clean "ECDSA keygen losing command $n"
done

for n in 1 2 3 4 5; do
	check_rc 4 "ECDSA signing losing command $n of 5: exit 4" env \
	    HWK_SPY_FAIL_AT=$n "$SIGN" -o tcti="$SPY:$TCTI" -P 'Sesame-7f3a' \
	    -f kpw -i data -s sx
	tpm_clean "ECDSA signing losing command $n"
done
# A key kept loaded (as the agent keeps it) is loaded again once lost.
# (Commands: CreatePrimary, Load, FlushContext, Sign, Sign.)
check "a kept ECDSA key lost from the TPM is loaded again" env \
    HWK_SPY_LOSE_AT=5 "$SIGN" -o tcti="$SPY:$TCTI" -n 2 -f k521 -i data \
    -s sl521
der_of sl521 sl521.der >/dev/null
check "... and the signature verifies" verify sha512 k521.pem sl521.der
tpm_clean "reloading a lost ECDSA key"

# --- Keys made by tpm2-tools with a fixed scheme ----------------------------
tools_ecc() {
	local d=$T_TMP/tools-$1
	mkdir -p "$d"
	tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c "$d/srk.ctx" \
	    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' &&
	    tpm2_flushcontext -t &&
	    tpm2_create -Q -C "$d/srk.ctx" -G "$2" -u "$d/k.pub" \
	    -r "$d/k.priv" \
	    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' &&
	    tpm2_flushcontext -t && tpm2_encodeobject -C "$d/srk.ctx" \
	    -u "$d/k.pub" -r "$d/k.priv" -o "$1" && tpm2_flushcontext -t &&
	    tpm2_flushcontext -l && chmod 600 "$1"
}
tools_ecc kt256 ecc256:ecdsa-sha256
"$HWK" -y -f kt256 >kt256.pub && pem_of kt256.pub >kt256.pem
check "a key bound to ECDSA with SHA-256 on P-256 signs" "$SIGN" -P '' \
    -f kt256 -i data -s st256
der_of st256 st256.der >/dev/null
check "... verified by OpenSSL" verify sha256 kt256.pem st256.der
tools_ecc kt384 ecc384:ecdsa-sha256
out=$("$SIGN" -P '' -f kt384 -i data -s sx 2>&1)
check_eq "a P-384 key bound to SHA-256 is refused (exit 1)" 1 "$?"
check_match "... as bound to another hash than SSH's for its curve" \
    'bound to ECDSA signatures with SHA-256, so it cannot sign with SHA-384' \
    "$out"
tpm_clean "tpm2-tools keys"

done_testing
