# TPM keys against a real swtpm, judged by tpm2-openssl, tpm2-tools,
# OpenSSH and OpenSSL: keys we make work in their tools and theirs in ours,
# sizes, parents, passwords and lockout, bad stubs, and a TPM that fails
# mid-operation; after every step the TPM holds no transient object.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/swtpm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
SIGN=$B/tests/tools/hwk-sign
SPY=$B/tests/tcti_spy.so
OSSL_TPM=(-provider tpm2 -provider default -propquery '?provider=tpm2')
echo "the data an SSH server would have us sign" >data

start_swtpm || exit 1

# tpm_clean WHAT: no transient object and no session left in the TPM.
tpm_clean() {
	check_eq "$1: no objects or sessions left in the TPM" "" \
	    "$(transient_handles; tpm2_getcap handles-loaded-session 2>&1 |
	    sed -n 's/^- *//p')"
}
# The SubjectPublicKeyInfo PEM of an ssh .pub.
pem_of() { ssh-keygen -e -m PKCS8 -f "$1"; }
# verify ALG PUBPEM SIG: openssl checks a PKCS#1 signature of data.
verify() { openssl dgst "-$1" -verify "$2" -signature "$3" data; }
# ossl_sign KEY ALG SIG [PASS]: tpm2-openssl signs data with a TPM key.
ossl_sign() {
	local pass=()
	[ $# -ge 4 ] && pass=(-passin "pass:$4")
	openssl dgst "-$2" -binary data >"$3.in" &&
	    openssl pkeyutl "${OSSL_TPM[@]}" -sign -inkey "$1" "${pass[@]}" \
	    -in "$3.in" -pkeyopt "digest:$2" -out "$3"
}
# Several lines as one, for patterns that span them.
flat() { printf '%s' "$1" | tr '\n' ' '; }
# no_files NAME: neither NAME nor NAME.pub nor a temp file was written.
no_files() {
	check_eq "$1: nothing written" "" \
	    "$(ls -d "$1" "$1.pub" 2>/dev/null; temp_files .)"
}
# stub_tool IN OUT [emptyauth]: rewrites a TSS2 PRIVATE KEY stub (PEM),
# with emptyAuth TRUE if asked; prints the objectAttributes of its public
# area (hex).  Only the stub's encoding changes, never what the TPM checks.
stub_tool() {
	$PY - "$@" <<'PYEOF'
import base64, sys

def tlv(b, i):
    tag, n = b[i], b[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[j:j + k], "big")
        j += k
    return tag, j, j + n        # tag, value start, end

def der_len(n):
    return bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")

text = open(sys.argv[1]).read().split("\n")
der = base64.b64decode("".join(l for l in text if l and "-----" not in l))
_, start, end = tlv(der, 0)
elems, i = [], start
while i < end:
    tag, v, e = tlv(der, i)
    elems.append((tag, der[i:e], der[v:e]))
    i = e
pub = [val for tag, _, val in elems if tag == 0x04][0]
print("%08x" % int.from_bytes(pub[6:10], "big"))
if len(sys.argv) > 3 and sys.argv[3] == "emptyauth":
    elems = [x for x in elems if x[0] != 0xa0]
    elems.insert(1, (0xa0, bytes.fromhex("a0030101ff"), None))
body = b"".join(raw for _, raw, _ in elems)
out = b"\x30" + der_len(len(body)) + body
b = base64.b64encode(out).decode()
open(sys.argv[2], "w").write("-----BEGIN TSS2 PRIVATE KEY-----\n" +
    "\n".join(b[j:j + 64] for j in range(0, len(b), 64)) +
    "\n-----END TSS2 PRIVATE KEY-----\n")
PYEOF
}
# tools_key OUT ALG ATTRS: a key made by tpm2-tools under the same SRK, as
# a stub with emptyAuth TRUE; tpm2-tools leave their objects loaded.
tools_key() {
	local d=$T_TMP/tools-$1
	mkdir -p "$d"
	tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c "$d/srk.ctx" \
	    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' &&
	    tpm2_flushcontext -t &&
	    tpm2_create -Q -C "$d/srk.ctx" -G "$2" -a "$3" -u "$d/k.pub" \
	    -r "$d/k.priv" && tpm2_flushcontext -t &&
	    tpm2_encodeobject -C "$d/srk.ctx" -u "$d/k.pub" -r "$d/k.priv" \
	    -o "$d/k.pem" && tpm2_flushcontext -t && tpm2_flushcontext -l &&
	    stub_tool "$d/k.pem" "$1" emptyauth >/dev/null &&
	    chmod 600 "$1"	# a key file, which -y wants private
}

# --- A key without a password --------------------------------------------
out=$("$HWK" --backend tpm2 -N '' -C tpm@test -f k1 2>&1)
check_eq "keygen without passphrase succeeds" 0 "$?"
check_match "says it chose RSA-2048 as every TPM has it" \
    'RSA-2048 key inside the TPM \(the size every TPM supports' "$out"
check_eq "stub is 0600" 600 "$(mode_of k1)"
check_eq "stub is a TSS2 PRIVATE KEY" "-----BEGIN TSS2 PRIVATE KEY-----" \
    "$(head -n 1 k1)"
check_match "stub records parent 0x40000001 and emptyAuth TRUE" \
    'BOOLEAN +:255.*INTEGER +:40000001' \
    "$(openssl asn1parse -in k1 | tr '\n' ' ')"
check_eq "without a password the key is exempt from lockout (noDA)" \
    00000400 "$(printf '%08x' $((0x$(stub_tool k1 /dev/null) & 0x400)))"
check_match ".pub is an RSA-2048 ssh-rsa key" '^2048 SHA256:.* tpm@test' \
    "$(ssh-keygen -l -f k1.pub)"
tpm_clean "keygen"
pem_of k1.pub >k1.pem
check_eq "tpm2-openssl reports the public key of our .pub" \
    "$(cat k1.pem)" "$(openssl pkey "${OSSL_TPM[@]}" -in k1 -pubout)"
check "tpm2-openssl signs with our key (SHA-256)" ossl_sign k1 sha256 s1
check "... and the signature verifies against our .pub" verify sha256 k1.pem s1
tpm_clean "tpm2-openssl signing"
for alg in sha1 sha256 sha512; do
	check "our backend signs with $alg" "$SIGN" -a $alg -n 2 -f k1 \
	    -i data -s s1-$alg
	check "... verified by openssl ($alg)" verify $alg k1.pem s1-$alg
done
tpm_clean "our signing"
check "--backend auto picks the TPM" "$HWK" -q -N '' -b 2048 -f kauto
check_eq "... and writes a stub" "-----BEGIN TSS2 PRIVATE KEY-----" \
    "$(head -n 1 kauto)"

# --- A key with a password ------------------------------------------------
check "keygen with a passphrase" "$HWK" --backend tpm2 -q \
    -N 'correct horse' -C pw@test -f k2
check_match "emptyAuth is FALSE, so loaders ask for the password" \
    'cont \[ 0 \] .*BOOLEAN +:0 .*INTEGER +:40000001' \
    "$(openssl asn1parse -in k2 | tr '\n' ' ')"
check_eq "with a password the TPM's lockout protects it (no noDA)" \
    00000000 "$(printf '%08x' $((0x$(stub_tool k2 /dev/null) & 0x400)))"
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
    'wrong passphrase for the TPM key.*more it locks out' "$(flat "$out")"
# A wrong password is forgotten, ours and ESYS's copy on the loaded key:
# the same key object asks again and signs with the right one.
tpm2_dictionarylockout -c >/dev/null 2>&1
out=$(printf 'wrong horse\ncorrect horse\n' | setsid -w "$SIGN" -k -n 2 \
    -f k2 -i data -s s2e 2>&1)
check_eq "after a wrong password the same key signs with the right one" \
    0 "$?"
check_eq "... asking twice" 2 "$(grep -o 'Enter passphrase' <<<"$out" |
    grep -c .)"
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
tools_key knoda rsa2048 \
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
    "$(flat "$out")"
check "in lockout our passwordless key still signs (noDA)" "$SIGN" -f k1 \
    -i data -s s3nd
check "... verified by openssl" verify sha256 k1.pem s3nd
out=$("$SIGN" -f knoda -i data -s s3 2>&1)
check_eq "in lockout a passwordless key without noDA is refused (exit 5)" \
    5 "$?"
check_match "... as covered by the lockout, and how to end it" \
    'lockout, and this key, which has no password, was made without noDA.*tpm2_dictionarylockout --clear-lockout' \
    "$(flat "$out")"
check_no_match "... without blaming wrong passwords" 'wrong passwords' \
    "$out"
tpm_clean "lockout"
tpm2_dictionarylockout -c >/dev/null 2>&1
check "after --clear-lockout the right password works" "$SIGN" \
    -P 'correct horse' -f k2 -i data -s s3
tpm2_dictionarylockout -s -n 3 -t 1000 -l 1000 >/dev/null 2>&1

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

# --- Keys tpm2-openssl made, used by us -------------------------------------
openssl genpkey -provider tpm2 -algorithm RSA -pkeyopt bits:2048 \
    -out theirs.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs.pem -pubout -out theirs.pub.pem
check_eq "-y on a tpm2-openssl key gives its public key" \
    "$(ssh-keygen -i -m PKCS8 -f theirs.pub.pem | cut -d' ' -f1,2)" \
    "$("$HWK" -y -f theirs.pem | cut -d' ' -f1,2)"
for alg in sha256 sha512; do
	check "our backend signs with their key ($alg)" "$SIGN" -a $alg \
	    -f theirs.pem -i data -s st-$alg
	check "... verified by openssl" verify $alg theirs.pub.pem st-$alg
done
openssl genpkey -provider tpm2 -algorithm RSA -pkeyopt bits:2048 \
    -pkeyopt user-auth:abc -out theirs-pw.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs-pw.pem -passin pass:abc -pubout \
    -out theirs-pw.pub.pem
check "our backend signs with their password key" "$SIGN" -P abc \
    -f theirs-pw.pem -i data -s stp
check "... verified by openssl" verify sha256 theirs-pw.pub.pem stp
check_rc 5 "... and refuses a wrong password" "$SIGN" -P abd \
    -f theirs-pw.pem -i data -s stp2
tpm2_dictionarylockout -c >/dev/null 2>&1
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -out theirs-ec.pem 2>/dev/null
openssl pkey "${OSSL_TPM[@]}" -in theirs-ec.pem -pubout -out theirs-ec.pub.pem
check_eq "-y on their ECDSA key gives its public key" \
    "$(ssh-keygen -i -m PKCS8 -f theirs-ec.pub.pem | cut -d' ' -f1,2)" \
    "$("$HWK" -y -f theirs-ec.pem | cut -d' ' -f1,2)"
tools_key kp192 ecc192 \
    'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
out=$("$HWK" -y -f kp192 2>&1)
check_eq "an ECC key on NIST P-192 is refused (exit 1)" 1 "$?"
check_match "... as on a curve SSH does not use" \
    'ECC key on a curve SSH does not use' "$out"
tpm_clean "tpm2-openssl keys"

# --- A persistent parent ---------------------------------------------------
tpm2_createprimary -Q -C o -G ecc -c srk.ctx &&
    tpm2_evictcontrol -Q -C o -c srk.ctx 0x81000001
tpm2_flushcontext -t
check "keygen under persistent parent 0x81000001" "$HWK" --backend tpm2 \
    -q -N 'pp' --parent 0x81000001 -f kp
check_match "... recorded as that handle" 'INTEGER +:81000001' \
    "$(openssl asn1parse -in kp)"
pem_of kp.pub >kp.pem
check "... signs in our backend" "$SIGN" -P pp -f kp -i data -s sp
check "... verified by openssl" verify sha256 kp.pem sp
check "... signs in tpm2-openssl" ossl_sign kp sha512 sp2 pp
check "... verified by openssl" verify sha512 kp.pem sp2
tpm_clean "persistent parent"
tpm2_createprimary -Q -C o -G ecc256:ecdsa-sha256 \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
    -c sk.ctx && tpm2_evictcontrol -Q -C o -c sk.ctx 0x81000002
tpm2_flushcontext -t
out=$(setsid -w "$HWK" --backend tpm2 --parent 0x81000002 -f kns \
    </dev/null 2>&1)
check_eq "a signing key as parent is refused before any prompt" 1 "$?"
check_match "... as not a storage key" \
    '0x81000002 is not a storage key' "$out"
no_files kns
out=$(setsid -w "$HWK" --backend tpm2 --parent 0x81000099 -f kmiss \
    </dev/null 2>&1)
check_eq "a missing persistent parent is refused before any prompt" 1 "$?"
check_match "... by name" 'no persistent key 0x81000099' "$out"
no_files kmiss
check_rc 2 "--parent that is no handle is a usage error" "$HWK" \
    --backend tpm2 --parent 0x40000007 -N '' -f kbad
tpm2_evictcontrol -Q -C o -c 0x81000001
out=$("$SIGN" -P pp -f kp -i data -s sp3 2>&1)
check_eq "signing once the parent is gone fails (exit 1)" 1 "$?"
check_match "... saying the parent is not in the TPM" \
    'parent key 0x81000001 is not in the TPM' "$out"
tpm2_evictcontrol -Q -C o -c 0x81000002
tpm_clean "bad parents"

# --- Bad stubs -------------------------------------------------------------
head -c 400 k1 >trunc
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

# Another TPM's key: made in TPM B, tried in TPM A.
A_TCTI=$SWTPM_TCTI A_PID=$SWTPM_PID
swtpm_run "$T_TMP/tpmB" || exit 1
B_TCTI=$SWTPM_TCTI B_PID=$SWTPM_PID
check "keygen in a second TPM" "$HWK" --backend tpm2 --tcti "$B_TCTI" -q \
    -N '' -f kB
out=$("$SIGN" -f kB -i data -s sx 2>&1)
check_eq "its stub does not sign in the first TPM (exit 1)" 1 "$?"
check_match "... as it belongs to another TPM" \
    'belongs to another TPM' "$out"
check "... while it signs in its own" "$SIGN" -o tcti="$B_TCTI" -f kB \
    -i data -s sB
check_eq "... and the second TPM is clean too" "" \
    "$(TPM2TOOLS_TCTI=$B_TCTI tpm2_getcap handles-transient)"
kill_wait "$B_PID"
tpm_clean "another TPM's stub"

# -y and -l read the stub alone: no TPM needed.
cp k1 k1-alone
check_eq "-y works with no TPM reachable" "$(cut -d' ' -f1,2 k1.pub)" \
    "$(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1 "$HWK" -y -f k1 |
    cut -d' ' -f1,2)"
check_eq "-l on a stub without its .pub, no TPM reachable" \
    "$(ssh-keygen -l -f k1.pub | cut -d' ' -f1,2)" \
    "$(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1 "$HWK" -l -f k1-alone |
    cut -d' ' -f1,2)"

# --- No TPM, or a TCTI that is wrong ---------------------------------------
dead=$(free_port)
out=$("$HWK" --backend tpm2 --tcti "swtpm:host=127.0.0.1,port=$dead" \
    -N '' -f knone 2>&1)
check_eq "no TPM at the TCTI: exit 4" 4 "$?"
check_match "... naming the TCTI and why" \
    "no TPM at swtpm:host=127.0.0.1,port=$dead \(Connection refused\)" "$out"
no_files knone
out=$("$HWK" --backend tpm2 --tcti device:/dev/hwk-no-tpm -N '' -f knone 2>&1)
check_eq "a missing TPM device: exit 4" 4 "$?"
check_match "... with the device's error" \
    'no TPM at device:/dev/hwk-no-tpm \(No such file or directory\)' "$out"
out=$("$HWK" --backend tpm2 --tcti nosuchtcti:x -N '' -f knone 2>&1)
check_eq "an unknown TCTI: exit 4" 4 "$?"
check_match "... named as such" "no TCTI module 'nosuchtcti'" "$out"
no_files knone
check_rc 4 "signing with no TPM: exit 4" "$SIGN" \
    -o tcti="swtpm:host=127.0.0.1,port=$dead" -f k1 -i data -s sx

# --- Commands on the bus, and a TPM that fails mid-operation ---------------
rm -f spy.log
HWK_SPY_LOG="$T_TMP/spy.log" "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" -q \
    -N '' -f kcount
check_eq "a keygen sends 4 TPM commands (TestParms, CreatePrimary, Create, \
FlushContext)" "0x0000018a 0x00000131 0x00000153 0x00000165" \
    "$(tr '\n' ' ' <spy.log | sed 's/ $//')"
for n in 1 2 3 4; do
	out=$(HWK_SPY_FAIL_AT=$n "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" \
	    -q -N 'pw' -f kf$n 2>&1)
	check_eq "keygen losing command $n of 5: exit 4" 4 "$?"
	check_match "... says the TPM was lost" 'lost the TPM at' "$out"
	no_files kf$n
	tpm_clean "keygen losing command $n"
done
check "keygen losing only the final flush still succeeds" \
    env HWK_SPY_FAIL_AT=5 "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" -q \
    -N 'pw' -f kf5
tpm_clean "keygen losing the final flush (flushed over a new connection)"
for n in 1 2 3 4 5; do
	check_rc 4 "signing losing command $n of 5: exit 4" env \
	    HWK_SPY_FAIL_AT=$n "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'correct horse' \
	    -f k2 -i data -s sx
	tpm_clean "signing losing command $n"
done
# After a lost command ESYS refuses every later one; the key must not stay
# tied to it.  Kept loaded since an earlier signature, it is loaded again on
# a new connection at once; lost on a connection made just now, that
# signature fails and the next one works.  The password is asked once.
# (Commands: CreatePrimary, Load, StartAuthSession, FlushContext, Sign.)
out=$(echo 'correct horse' | HWK_SPY_FAIL_AT=6 setsid -w "$SIGN" \
    -o tcti="$SPY:$A_TCTI" -n 2 -f k2 -i data -s slost 2>&1)
check_eq "a kept key whose second TPM2_Sign is lost still signs (exit 0)" \
    0 "$?"
check_eq "... asking for the password once" 1 \
    "$(grep -o 'Enter passphrase' <<<"$out" | grep -c .)"
check "... and the signature verifies" verify sha256 k2.pem slost
tpm_clean "a kept key losing a command"
out=$(echo 'correct horse' | HWK_SPY_FAIL_AT=5 setsid -w "$SIGN" -k \
    -o tcti="$SPY:$A_TCTI" -n 2 -f k2 -i data -s slost2 2>&1)
check_eq "a key whose first TPM2_Sign is lost signs the next time (exit 0)" \
    0 "$?"
check_match "... the first signature failed as lost" \
    'lost the TPM at .* during the signature' "$out"
check_no_match "... the second was not refused by a dead ESYS" \
    'wrong order' "$out"
check_eq "... asking for the password once" 1 \
    "$(grep -o 'Enter passphrase' <<<"$out" | grep -c .)"
check "... and the signature verifies" verify sha256 k2.pem slost2
tpm_clean "a fresh key losing a command"
# The TPM loses its objects while the key loads: loaded again at once.
check "the parent lost before TPM2_Load: loaded again" env \
    HWK_SPY_LOSE_AT=2 "$SIGN" -o tcti="$SPY:$A_TCTI" -f k1 -i data -s sll1
check "... and the signature verifies" verify sha256 k1.pem sll1
check "the parent lost before the key's session: loaded again" env \
    HWK_SPY_LOSE_AT=3 "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'correct horse' \
    -f k2 -i data -s sll2
check "... and the signature verifies" verify sha256 k2.pem sll2
tpm_clean "objects lost while loading"

# Ctrl-C while the TPM makes the key: the key is dropped, nothing written.
out=$(HWK_SPY_SIGINT_AT=3 "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" \
    -q -N '' -f kint 2>&1)
check_eq "Ctrl-C during TPM2_Create: exit 130" 130 "$?"
check_match "... says the new key was removed" 'interrupted' "$out"
no_files kint
tpm_clean "Ctrl-C"

# The password on the bus: ours never in clear; tpm2-openssl's, sent
# without a session, shows that the dump would show it.
rm -f bus.bin
check "keygen with a passphrase, every command recorded" env \
    HWK_SPY_DUMP="$T_TMP/bus.bin" "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" \
    -q -N 'Sesame-7f3a' -f kbus
check "... and a signature with it" env HWK_SPY_DUMP="$T_TMP/bus.bin" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'Sesame-7f3a' -f kbus -i data -s sbus
check "the password never crossed the bus in clear" \
    eval '! grep -aq Sesame-7f3a bus.bin'
rm -f bus.bin
HWK_SPY_DUMP="$T_TMP/bus.bin" TPM2OPENSSL_TCTI="$SPY:$A_TCTI" openssl genpkey \
    -provider tpm2 -algorithm RSA -pkeyopt bits:2048 \
    -pkeyopt user-auth:Sesame-7f3a -out obus.pem 2>/dev/null
check "(a password sent without a session is seen in the same record)" \
    grep -aq Sesame-7f3a bus.bin
tpm_clean "the password on the bus"

# A TPM without SHA-512: the signature comes from a raw RSA decrypt.
rm -f spy.log
check "a TPM without SHA-512 still signs rsa-sha2-512" env HWK_SPY_NO_SHA512=1 \
    HWK_SPY_LOG="$T_TMP/spy.log" "$SIGN" -o tcti="$SPY:$A_TCTI" -a sha512 \
    -f k1 -i data -s s512
check "... and the signature verifies" verify sha512 k1.pem s512
check_match "... made by TPM2_RSA_Decrypt" '^0x00000159$' "$(cat spy.log)"
tpm_clean "SHA-512 fallback"
out=$(HWK_SPY_NO_SHA512=1 HWK_SPY_FAIL_AT=5 "$SIGN" -o tcti="$SPY:$A_TCTI" \
    -a sha512 -f k1 -i data -s sx 2>&1)
check_eq "the fallback's TPM2_RSA_Decrypt lost: exit 4" 4 "$?"
check_match "... named as the command that failed" \
    'during the signature \(TPM2_RSA_Decrypt\)' "$out"
tpm_clean "the SHA-512 fallback failing"

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

# A key kept loaded (as the agent keeps it) is loaded again once lost.
check "a kept key lost from the TPM is loaded again (no password)" env \
    HWK_SPY_LOSE_AT=5 "$SIGN" -o tcti="$SPY:$A_TCTI" -n 2 -f k1 -i data -s sl1
check "... and the signature verifies" verify sha256 k1.pem sl1
check "a kept key and its session lost are loaded again, the password \
not asked twice" eval "echo 'correct horse' | HWK_SPY_LOSE_AT=6 setsid -w \
    '$SIGN' -o tcti='$SPY:$A_TCTI' -n 2 -f k2 -i data -s sl2"
check "... and the signature verifies" verify sha256 k2.pem sl2
tpm_clean "reloading a lost key"

# The TPM process dies during TPM2_Create; it comes back with its seeds.
{	# bash would report the killed job on stderr: it is meant
	out=$(HWK_SPY_KILL_AT=3 HWK_SPY_KILL_PID=$A_PID "$HWK" --backend tpm2 \
	    --tcti "$SPY:$A_TCTI" -q -N '' -f kdead 2>&1)
	rc=$?
	wait "$A_PID"
} 2>/dev/null
check_eq "the TPM dying mid-keygen: exit 4" 4 "$rc"
check_match "... says the TPM was lost during TPM2_Create" \
    'lost the TPM at .* during making the key \(TPM2_Create\)' "$out"
no_files kdead
swtpm_run "$SWTPM_DIR" || exit 1
use_swtpm "$SWTPM_TCTI"
tpm_clean "the TPM restarted"
check "keys made before still sign after the restart" "$SIGN" -f k1 \
    -i data -s s4
check "... verified by openssl" verify sha256 k1.pem s4
tpm_clean "the end"

done_testing
