# ECDSA (P-256, P-384, P-521) and Ed25519 keys born on a PKCS#11 token
# (SoftHSM2), judged by pkcs11-tool, ssh-keygen -D and OpenSSL; what
# --backends says each token makes; a fault after keygen leaves nothing.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
softhsm_setup || exit 1
M=$SOFTHSM_MODULE
softhsm_token hwk-ec "$PIN" "$SOPIN" || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
export HWK_FAKE_REAL=$M

gen() { "$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin "$@"; }
# objects [VAR]: how many objects the token holds, printed or into VAR.
# shellcheck disable=SC2120 # (no argument: print)
objects() {
	if [ $# -eq 0 ]; then softhsm_objects hwk-ec "$PIN"; else
		softhsm_count "$1" hwk-ec "$PIN"; fi
}
# The DER that OpenSSL reads, written in bash from hex (no python3 to
# start for each key): tlv VAR TAG HEX sets VAR to the element of tag TAG
# holding the bytes HEX (shorter than 256 bytes, as all here are).
tlv() {
	local n=$((${#3} / 2))
	if [ "$n" -lt 128 ]; then
		printf -v "$1" '%s%02x%s' "$2" "$n" "$3"
	else
		printf -v "$1" '%s81%02x%s' "$2" "$n" "$3"
	fi
}
# unhex HEX FILE: FILE holds the bytes HEX.
unhex() {
	local esc='' i
	for ((i = 0; i < ${#1}; i += 2)); do esc+="\\x${1:i:2}"; done
	printf '%b' "$esc" >"$2"
}
# hex_of VAR FILE: VAR is the bytes of FILE in hex (a NUL ends read's
# word empty).
hex_of() {
	local -n _hx_v=$1
	local c x
	_hx_v=
	while LC_ALL=C IFS= read -r -d '' -n 1 c; do
		if [ -z "$c" ]; then
			_hx_v+=00
		else
			LC_ALL=C printf -v x '%02x' "'$c"
			_hx_v+=$x
		fi
	done <"$2"
}
# der_int VAR HEX: VAR is the DER INTEGER of the unsigned number HEX.
der_int() {
	local b=$2
	while [ "${b:0:2}" = 00 ]; do b=${b:2}; done
	[ -n "$b" ] || b=00
	[[ ${b:0:1} == [89a-fA-F] ]] && b=00$b
	tlv "$1" 02 "$b"
}
# der_sig RAW DER: an r || s signature as the DER ECDSA-Sig-Value OpenSSL
# reads.
der_sig() {
	local raw r s sig
	hex_of raw "$1"
	der_int r "${raw:0:${#raw} / 4 * 2}"
	der_int s "${raw:${#raw} / 4 * 2}"
	tlv sig 30 "$r$s"
	unhex "$sig" "$2"
}

# verifier KEY: VERIFY is the OpenSSL command that checks KEY's raw
# signature KEY.sig, of the file named after it, against the token's own
# public key, KEY.spki (ECDSA with the curve's hash, from KEY.der).  A
# command for check to run itself: a function would cost it a subshell.
verifier() {
	local md
	case $1 in
	*ecdsa-256) md=sha256 ;;
	*ecdsa-384) md=sha384 ;;
	*ecdsa-521) md=sha512 ;;
	*)
		VERIFY=(openssl pkeyutl -verify -pubin -keyform DER
		    -inkey "$1.spki" -rawin -sigfile "$1.sig" -in)
		return
		;;
	esac
	der_sig "$1.sig" "$1.der"
	VERIFY=(openssl dgst -"$md" -keyform DER -verify "$1.spki"
	    -signature "$1.der")
}

# spki PARAMS POINT FILE: FILE holds the DER SubjectPublicKeyInfo of a key
# from the hex of its CKA_EC_PARAMS and CKA_EC_POINT (an OCTET STRING), as
# pkcs11-tool shows them: the token's own word for the key, not hwkeygen's.
spki() {
	local q alg key out
	if [ "${2:2:2}" = 81 ]; then q=${2:6}; else q=${2:4}; fi
	if [ "$1" = 06032b6570 ]; then
		tlv alg 30 "$1"
	else
		tlv alg 30 "06072a8648ce3d0201$1"
	fi
	tlv key 03 "00$q"
	tlv out 30 "$alg$key"
	unhex "$out" "$3"
}

# --- What each token makes, in --backends (one python3 reads the JSON
# of both modules).
caps=$($PY -c '
import json, sys
def tokens(text):
    d = json.loads(text)
    return [t for m in d["pkcs11"]["modules"] for t in m["tokens"]
            if t["label"] == "hwk-ec"]
soft, strict = (tokens(a) for a in sys.argv[1:3])
for ts, field in ((soft, "ecdsa_bits"), (soft, "ed25519"),
                  (soft, "can_make_rsa_keys"), (strict, "ecdsa_bits"),
                  (strict, "ed25519")):
    print([t[field] for t in ts])' \
    "$("$HWK" --backends --json --module "$M" 2>/dev/null)" \
    "$("$HWK" --backends --json --module "$STRICT" 2>/dev/null)")
mapfile -t cap <<<"$caps"
check_eq "--backends: SoftHSM2 makes ECDSA keys on all three curves" \
    "[[256, 384, 521]]" "${cap[0]}"
check_eq "and Ed25519 keys" "[True]" "${cap[1]:-}"
check_eq "RSA's fields stay" "[True]" "${cap[2]:-}"
check_eq "a ykcs11-like token: ECDSA on P-256 and P-384 only" \
    "[[256, 384]]" "${cap[3]:-}"
check_eq "and no Ed25519" "[False]" "${cap[4]:-}"
check_match "the text form lists them too" 'ecdsa_bits' \
    "$("$HWK" --backends --module "$M" 2>&1)"

# --- The ykcs11-like module itself, as pkcs11-tool finds it.
yk_tool() {
	HWK_STRICT_USER_PIN=$PIN pkcs11-tool --module "$STRICT" \
	    --token-label hwk-ec --login --login-type so --so-pin "$MGMKEY" \
	    --keypairgen --id 04 --key-type "$1" 2>&1
}
objects n
check_match "ykcs11-like: P-521 is CKR_CURVE_NOT_SUPPORTED" '0x140' \
    "$(yk_tool EC:secp521r1)"
check_match "ykcs11-like: no Ed25519 mechanism" 'not supported' \
    "$(yk_tool EC:edwards25519)"
check_eq "(nothing was made)" "$n" "$(objects)"


# --- Keys of each curve, as the judges see them: all four are made, then
# one pkcs11-tool listing and one ssh-keygen -D serve every key's checks.
printf 'data to sign\n' >data
printf 'ddata to sign\n' >forged	# one byte more in front
SPECS="ecdsa:256:nistp256:06082a8648ce3d030107 ecdsa:384:nistp384:06052b81040022
ecdsa:521:nistp521:06052b81040023 ed25519:256:ed25519:06032b6570"
for spec in $SPECS; do
	IFS=: read -r t bits _ <<<"$spec"
	k=k-$t-$bits
	check "-t $t -b $bits on the token" gen -t "$t" -b "$bits" \
	    -C "$k@example.com" -f "$k"
done
listing=$(pkcs11-tool --module "$M" --token-label hwk-ec --login --pin "$PIN" \
    --list-objects 2>/dev/null)
dkeys=$(ssh-keygen -D "$M" 2>/dev/null | blob)
for spec in $SPECS; do
	IFS=: read -r t bits curve params <<<"$spec"
	k=k-$t-$bits
	case $t in
	ecdsa) type=ecdsa-sha2-$curve label=ECDSA ;;
	*) type=ssh-ed25519 label=ED25519 ;;
	esac
	check_match "$k: the .pub is $type" "^$type " "$(<"$k.pub")"
	check_match "$k: ssh-keygen -l reads it" "^$bits SHA256:.* \\($label\\)\$" \
	    "$(ssh-keygen -l -f "$k.pub" 2>&1)"
	stub_id -v id "$k"
	pick_object pub pubkey "${id//%/}" "$listing"
	check_match "$k: pkcs11-tool sees the curve in CKA_EC_PARAMS" \
	    "EC_PARAMS: +$params" "$pub"
	pick_object obj privkey "${id//%/}" "$listing"
	check_match "$k: the private key never leaves the token" \
	    'sensitive, always sensitive, never extractable, local' "$obj"
	blob -v want <"$k.pub"
	if [ "$t" = ecdsa ]; then
		check_line "$k: ssh-keygen -D shows it as the .pub" "$want" \
		    "$dkeys"
	fi
	cp "$k" "$k-alone"
	out=$("$HWK" -y -f "$k-alone" 2>&1)
	blob -v got <<<"$out"
	check_eq "$k: -y reads it back from the token" "$want" "$got"
	# OpenSSL checks the signature against the token's own public key.
	point=
	while IFS= read -r l; do
		[[ $l =~ ^\ *EC_POINT:\ *(.*) ]] && point=${BASH_REMATCH[1]}
	done <<<"$pub"
	spki "$params" "$point" "$k.spki"
	check "$k: OpenSSL reads the token's public key" openssl pkey -pubin \
	    -inform DER -in "$k.spki" -noout
	check "$k: hwk-sign signs with it" "$B/tests/tools/hwk-sign" \
	    -o pin-source=file:pin -f "$k" -i data -s "$k.sig"
	verifier "$k"
	check "$k: OpenSSL verifies it" "${VERIFY[@]}" data
	check_rc 1 "$k: and not for other data" "${VERIFY[@]}" forged
done

# --- A size no backend makes, or a fault once the key exists.
objects n
: >calls.log
out=$(HWK_FAKE_LOG=$T_TMP/calls.log "$HWK" -q --module "$FAULT" \
    --pin-source file:pin -t ecdsa -b 512 -f kbad 2>&1)
check_eq "-t ecdsa -b 512: a usage error" 2 "$?"
check_match "in ssh-keygen's words" 'Invalid ECDSA key length' "$out"
check_eq "(no login was tried for it)" 0 "$(count_lines '^C_Login' calls.log)"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -t ecdsa -f kr 2>&1)
check_eq "reading the new EC key fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    HWK_FAKE_FAIL_NTH=2 "$HWK" -q --module "$FAULT" --pin-source file:pin \
    -t ed25519 -f kr 2>&1)
check_eq "reading the new Ed25519 point fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
check_eq "no files, no objects" "$n" "$(present kbad* kr*; objects)"

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
check_eq "(no login was tried for either)" 0 "$(count_lines '^C_Login' strict.log)"
check "ykcs11-like: -t ecdsa -b 384 in slot 9e works" yk -t ecdsa -b 384 \
    --id 04 -f ky
check_match "an ECDSA P-384 key" '^ecdsa-sha2-nistp384 ' "$(<ky.pub)"
files=$(present ky*)
check_eq "no other files" "ky ky.pub" "${files//$'\n'/ }"

# --- --backend auto: a token that lacks the type is passed over, unless
# the person named it.
out=$(HWK_STRICT_USER_PIN=$PIN "$HWK" --module "$STRICT" --token \
    pkcs11:token=hwk-yk --login so --pin-source file:mgmkey -t ed25519 \
    -N '' -f kauto 2>&1)
check_eq "auto, the ykcs11-like module named, -t ed25519: exit 2" 2 "$?"
check_match "it says why, and does not fall back" \
    'cannot make Ed25519 keys' "$out"
check_eq "(no files)" "" "$(present kauto*)"
p11kit_register strict "$STRICT"
out=$(HWK_STRICT_USER_PIN=$PIN "$HWK" -t ed25519 -N '' -C auto -f kauto \
    </dev/null 2>&1)
check_eq "auto, the module registered, -t ed25519: a key in software" 0 "$?"
check_match "it says it passed the token over" \
    'pkcs11: cannot make ed25519 keys.*: using software' "$out"
check_match "an Ed25519 key" '^ssh-ed25519 ' "$(<kauto.pub)"
p11kit_unregister strict

done_testing
