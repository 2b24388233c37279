# ECDSA (P-256, P-384, P-521) and Ed25519 keys born on a PKCS#11 token
# (SoftHSM2), judged by pkcs11-tool, ssh-keygen -D and OpenSSL; what
# --backends says each token makes; a fault after keygen leaves nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
softhsm_setup || exit 1
M=$SOFTHSM_MODULE
FAULT=$B/tests/pkcs11_fault.so
STRICT=$B/tests/pkcs11_strict.so
PIN=246810
SOPIN=13579135
softhsm_token hwk-ec "$PIN" "$SOPIN" || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
export HWK_FAKE_REAL=$M

gen() { "$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin "$@"; }
objects() { softhsm_objects hwk-ec "$PIN"; }
json() { $PY -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# The tokens' entries of --backends --json for a module.
tokens() {
	"$HWK" --backends --json --module "$1" 2>/dev/null |
	    json "[t$2 for m in d['pkcs11']['modules'] for t in m['tokens'] if t['label'] == 'hwk-ec']"
}
# object CLASS ID [LOGIN...]: what pkcs11-tool lists of the one object of
# a class (pubkey, privkey) with that id (its --id does not filter a list).
object() {
	local cls=$1 id=$2
	shift 2
	pkcs11-tool --module "$M" --token-label hwk-ec "$@" --list-objects \
	    --type "$cls" 2>/dev/null | awk -v id="$id" '
		/Object;/ { if (hit) print blk; blk = $0; hit = 0; next }
		{ blk = blk "\n" $0 }
		$1 == "ID:" && $2 == id { hit = 1 }
		END { if (hit) print blk }'
}
# The id= of a stub, as hex for pkcs11-tool.
stub_id() { sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' "$1" | tr -d %; }
# der_sig RAW: an r || s signature as the DER ECDSA-Sig-Value OpenSSL reads.
der_sig() {
	$PY -c '
import sys
raw = open(sys.argv[1], "rb").read()
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + length(len(b)) + b
def length(n):
    return bytes([n]) if n < 128 else b"\x81" + bytes([n])
h = len(raw) // 2
body = integer(raw[:h]) + integer(raw[h:])
sys.stdout.buffer.write(b"\x30" + length(len(body)) + body)' "$1"
}

# verify KEY FILE: OpenSSL checks KEY's raw signature KEY.sig of FILE
# against the token's own public key, KEY.spki (ECDSA with the curve's hash).
verify() {
	local md
	case $1 in
	*ecdsa-256) md=sha256 ;;
	*ecdsa-384) md=sha384 ;;
	*ecdsa-521) md=sha512 ;;
	*)
		openssl pkeyutl -verify -pubin -keyform DER -inkey "$1.spki" \
		    -rawin -in "$2" -sigfile "$1.sig"
		return
		;;
	esac
	der_sig "$1.sig" >"$1.der"
	openssl dgst -"$md" -keyform DER -verify "$1.spki" -signature "$1.der" "$2"
}

# spki PARAMS POINT: the DER SubjectPublicKeyInfo of a key from the hex of
# its CKA_EC_PARAMS and CKA_EC_POINT (an OCTET STRING), as pkcs11-tool
# shows them: the token's own word for the key, not hwkeygen's.
spki() {
	$PY -c '
import sys
params, point = (bytes.fromhex(a) for a in sys.argv[1:3])
def tlv(tag, b):
    n = len(b)
    ln = bytes([n]) if n < 128 else b"\x81" + bytes([n])
    return bytes([tag]) + ln + b
hdr = 3 if point[1] == 0x81 else 2
q = point[hdr:]
if params == bytes.fromhex("06032b6570"):
    alg = tlv(0x30, params)
else:
    alg = tlv(0x30, bytes.fromhex("06072a8648ce3d0201") + params)
sys.stdout.buffer.write(tlv(0x30, alg + tlv(0x03, b"\0" + q)))' "$1" "$2"
}

# --- What each token makes, in --backends.
check_eq "--backends: SoftHSM2 makes ECDSA keys on all three curves" \
    "[[256, 384, 521]]" "$(tokens "$M" "['ecdsa_bits']")"
check_eq "and Ed25519 keys" "[True]" "$(tokens "$M" "['ed25519']")"
check_eq "RSA's fields stay" "[True]" "$(tokens "$M" "['can_make_rsa_keys']")"
check_eq "a ykcs11-like token: ECDSA on P-256 and P-384 only" \
    "[[256, 384]]" "$(tokens "$STRICT" "['ecdsa_bits']")"
check_eq "and no Ed25519" "[False]" "$(tokens "$STRICT" "['ed25519']")"
check_match "the text form lists them too" 'ecdsa_bits' \
    "$("$HWK" --backends --module "$M" 2>&1)"

# --- The ykcs11-like module itself, as pkcs11-tool finds it.
MGMKEY=010203040506070801020304050607080102030405060708
yk_tool() {
	HWK_STRICT_USER_PIN=$PIN pkcs11-tool --module "$STRICT" \
	    --token-label hwk-ec --login --login-type so --so-pin "$MGMKEY" \
	    --keypairgen --id 04 --key-type "$1" 2>&1
}
n=$(objects)
check_match "ykcs11-like: P-521 is CKR_CURVE_NOT_SUPPORTED" '0x140' \
    "$(yk_tool EC:secp521r1)"
check_match "ykcs11-like: no Ed25519 mechanism" 'not supported' \
    "$(yk_tool EC:edwards25519)"
check_eq "(nothing was made)" "$n" "$(objects)"


# --- Keys of each curve, as the judges see them.
printf 'data to sign\n' >data
for spec in ecdsa:256:nistp256:06082a8648ce3d030107 \
    ecdsa:384:nistp384:06052b81040022 ecdsa:521:nistp521:06052b81040023 \
    ed25519:256:ed25519:06032b6570; do
	IFS=: read -r t bits curve params <<<"$spec"
	k=k-$t-$bits
	check "-t $t -b $bits on the token" gen -t "$t" -b "$bits" \
	    -C "$k@example.com" -f "$k"
	case $t in
	ecdsa) type=ecdsa-sha2-$curve label=ECDSA ;;
	*) type=ssh-ed25519 label=ED25519 ;;
	esac
	check_match "$k: the .pub is $type" "^$type " "$(cat "$k.pub")"
	check_match "$k: ssh-keygen -l reads it" "^$bits SHA256:.* \\($label\\)\$" \
	    "$(ssh-keygen -l -f "$k.pub" 2>&1)"
	id=$(stub_id "$k")
	pub=$(object pubkey "$id")
	check_match "$k: pkcs11-tool sees the curve in CKA_EC_PARAMS" \
	    "EC_PARAMS: +$params" "$pub"
	obj=$(object privkey "$id" --login --pin "$PIN")
	check_match "$k: the private key never leaves the token" \
	    'sensitive, always sensitive, never extractable, local' "$obj"
	if [ "$t" = ecdsa ]; then
		check_line "$k: ssh-keygen -D shows it as the .pub" \
		    "$(cut -d' ' -f1,2 "$k.pub")" \
		    "$(ssh-keygen -D "$M" 2>/dev/null | cut -d' ' -f1,2)"
	fi
	check_eq "$k: -y reads it back from the token" \
	    "$(cut -d' ' -f1,2 "$k.pub")" \
	    "$(cp "$k" "$k-alone" && "$HWK" -y -f "$k-alone" 2>&1 | cut -d' ' -f1,2)"
	# OpenSSL checks the signature against the token's own public key.
	point=$(printf '%s\n' "$pub" | sed -n 's/^ *EC_POINT: *//p')
	spki "$params" "$point" >"$k.spki"
	check "$k: OpenSSL reads the token's public key" openssl pkey -pubin \
	    -inform DER -in "$k.spki" -noout
	check "$k: hwk-sign signs with it" "$B/tests/tools/hwk-sign" \
	    -o pin-source=file:pin -f "$k" -i data -s "$k.sig"
	check "$k: OpenSSL verifies it" verify "$k" data
	head -c 1 data | cat - data >forged
	check_rc 1 "$k: and not for other data" verify "$k" forged
done

# --- A size no backend makes, or a fault once the key exists.
n=$(objects)
: >calls.log
out=$(HWK_FAKE_LOG=$T_TMP/calls.log "$HWK" -q --module "$FAULT" \
    --pin-source file:pin -t ecdsa -b 512 -f kbad 2>&1)
check_eq "-t ecdsa -b 512: a usage error" 2 "$?"
check_match "in ssh-keygen's words" 'Invalid ECDSA key length' "$out"
check_eq "(no login was tried for it)" 0 "$(grep -c '^C_Login' calls.log)"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -t ecdsa -f kr 2>&1)
check_eq "reading the new EC key fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    HWK_FAKE_FAIL_NTH=2 "$HWK" -q --module "$FAULT" --pin-source file:pin \
    -t ed25519 -f kr 2>&1)
check_eq "reading the new Ed25519 point fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
check_eq "no files, no objects" "$n" "$(ls kbad* kr* 2>/dev/null; objects)"

# --- A ykcs11-like token: what a PIV slot cannot hold, refused first.
softhsm_token hwk-yk "$PIN" "$SOPIN" || exit 1
yk() {
	HWK_STRICT_USER_PIN=$PIN HWK_FAKE_LOG=$T_TMP/strict.log "$HWK" -q \
	    --backend pkcs11 --module "$STRICT" --token pkcs11:token=hwk-yk \
	    --login so --pin-source file:mgmkey "$@"
}
printf '%s\n' "$MGMKEY" >mgmkey
chmod 600 mgmkey
: >strict.log
out=$(yk -t ecdsa -b 521 --id 04 -f ky 2>&1)
check_eq "ykcs11-like: -t ecdsa -b 521 is a usage error" 2 "$?"
check_match "it says which curves the token makes" \
    'cannot make ECDSA keys on P-521: it makes RSA keys of 1024 to 2048 bits and ECDSA keys on P-256, P-384' \
    "$out"
out=$(yk -t ed25519 --id 04 -f ky 2>&1)
check_eq "ykcs11-like: -t ed25519 is a usage error (a type it lacks)" 2 "$?"
check_match "it says what the token makes instead" \
    "token 'hwk-yk'.* cannot make Ed25519 keys \\(it makes RSA keys of 1024 to 2048 bits and ECDSA keys on P-256, P-384\\)" \
    "$out"
check_eq "(no login was tried for either)" 0 "$(grep -c '^C_Login' strict.log)"
check "ykcs11-like: -t ecdsa -b 384 in slot 9e works" yk -t ecdsa -b 384 \
    --id 04 -f ky
check_match "an ECDSA P-384 key" '^ecdsa-sha2-nistp384 ' "$(cat ky.pub)"
check_eq "no other files" "ky ky.pub" "$(ls ky* | tr '\n' ' ' | sed 's/ $//')"

# --- --backend auto: a token that lacks the type is passed over, unless
# the person named it.
out=$(HWK_STRICT_USER_PIN=$PIN "$HWK" --module "$STRICT" --token \
    pkcs11:token=hwk-yk --login so --pin-source file:mgmkey -t ed25519 \
    -N '' -f kauto 2>&1)
check_eq "auto, the ykcs11-like module named, -t ed25519: exit 2" 2 "$?"
check_match "it says why, and does not fall back" \
    'cannot make Ed25519 keys' "$out"
check_eq "(no files)" "" "$(ls kauto* 2>/dev/null)"
p11kit_register strict "$STRICT"
out=$(HWK_STRICT_USER_PIN=$PIN "$HWK" -t ed25519 -N '' -C auto -f kauto \
    </dev/null 2>&1)
check_eq "auto, the module registered, -t ed25519: a key in software" 0 "$?"
check_match "it says it passed the token over" \
    'pkcs11: cannot make ed25519 keys.*: using software' "$out"
check_match "an Ed25519 key" '^ssh-ed25519 ' "$(cat kauto.pub 2>&1)"
p11kit_unregister strict

done_testing
