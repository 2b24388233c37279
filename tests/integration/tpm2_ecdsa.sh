# ECDSA keys made in a swtpm on P-256, P-384 and P-521, judged by
# tpm2-openssl, OpenSSL and ssh-keygen: the stub loads and signs in
# tpm2-openssl, our signatures verify with the .pub's key (and, as SSH
# signatures in an SSHSIG, in ssh-keygen -Y verify), a password
# travels encrypted, Ed25519 and a curve the TPM lacks are refused before
# the TPM makes anything, and no object stays in the TPM.  The keys are
# made by hwkeygen -t ecdsa.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
TCTI=$SWTPM_TCTI
# gen: hwkeygen, taking -B and -o NAME=VALUE as the backend test tool does.
gen() {
	local a=()
	while [ $# -gt 0 ]; do
		case $1 in
		-B) a+=(--backend "$2"); shift 2 ;;
		-o) a+=("--${2%%=*}" "${2#*=}"); shift 2 ;;
		*) a+=("$1"); shift ;;
		esac
	done
	"$HWK" "${a[@]}" </dev/null
}

# The SSH signature format (PROTOCOL.sshsig) in bash, where a python3 costs
# ~50 ms a start: the bytes as numbers in MSG, an SSH string at a time.
_ssh_str() {
	MSG+=($(($# >> 24 & 255)) $(($# >> 16 & 255)) $(($# >> 8 & 255)) \
	    $(($# & 255)) "$@")
}
# _ascii TEXT: ASCII, the numbers of its characters.
_ascii() {
	local i v
	ASCII=()
	for ((i = 0; i < ${#1}; i++)); do
		printf -v v %d "'${1:i:1}"
		ASCII+=("$v")
	done
}
B64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
# unb64 TEXT: BYTES, what the base64 TEXT encodes.
unb64() {
	local t=${1%%=*} i c v=0 n=0
	BYTES=()
	for ((i = 0; i < ${#t}; i++)); do
		c=${B64%%"${t:i:1}"*}	# its value: the digits before it
		v=$(((v << 6 | ${#c}) & 0xffff))
		n=$((n + 6))
		if ((n >= 8)); then
			n=$((n - 8))
			BYTES+=($((v >> n & 255)))
		fi
	done
}
# b64 BYTE...: B64_OUT, their base64.
b64() {
	local v
	B64_OUT=
	while (($# > 0)); do
		v=$(($1 << 16 | ${2-0} << 8 | ${3-0}))
		B64_OUT+=${B64:v >> 18:1}${B64:v >> 12 & 63:1}
		B64_OUT+=${B64:v >> 6 & 63:1}${B64:v & 63:1}
		# The last group of one or two bytes ends in padding.
		(($# == 1)) && B64_OUT=${B64_OUT%??}==
		(($# == 2)) && B64_OUT=${B64_OUT%?}=
		shift $(($# < 3 ? $# : 3))
	done
}
# sshsig_data NS OUT: what ssh-keygen -Y signs for data in namespace NS
# (the magic, the namespace, SHA-512 of the message).
sshsig_data() {
	local v md
	openssl dgst -sha512 -binary data >"$2.md" && bytes_of "$2.md" ||
	    return 1
	md=("${BYTES[@]}")
	_ascii SSHSIG
	MSG=("${ASCII[@]}")
	_ascii "$1"
	_ssh_str "${ASCII[@]}"
	_ssh_str
	_ascii sha512
	_ssh_str "${ASCII[@]}"
	_ssh_str "${md[@]}"
	printf -v v '\\x%02x' "${MSG[@]}"
	printf %b "$v" >"$2"
}
# sshsig PUB NS BLOB: the armoured SSH signature of data, from the SSH
# signature blob our key made over sshsig_data.
sshsig() {
	local t b _ i pub
	read -r t b _ <"$1"
	unb64 "$b"
	pub=("${BYTES[@]}")
	_ascii SSHSIG
	MSG=("${ASCII[@]}" 0 0 0 1)
	_ssh_str "${pub[@]}"
	_ascii "$2"
	_ssh_str "${ASCII[@]}"
	_ssh_str
	_ascii sha512
	_ssh_str "${ASCII[@]}"
	bytes_of "$3"
	_ssh_str "${BYTES[@]}"
	b64 "${MSG[@]}"
	echo "-----BEGIN SSH SIGNATURE-----"
	for ((i = 0; i < ${#B64_OUT}; i += 70)); do echo "${B64_OUT:i:70}"; done
	echo "-----END SSH SIGNATURE-----"
}

# --- One key on each curve, without a password ------------------------------
sshsig_data file sd		# the same for every key
for n in 256 384 521; do
	case $n in 256) h=sha256 ;; 384) h=sha384 ;; *) h=sha512 ;; esac
	out=$(gen -B tpm2 -t ecdsa -b $n -N '' -C ec$n@test -f k$n 2>&1)
	check_eq "ECDSA P-$n keygen in the TPM succeeds" 0 "$?"
	check_match "... saying what it makes" \
	    "^Making an ECDSA-$n key inside the TPM\.$" "$out"
	check_eq "... the stub is 0600" 600 "$(mode_of k$n)"
	first=
	read -r first <k$n
	check_eq "... and a TSS2 PRIVATE KEY" \
	    "-----BEGIN TSS2 PRIVATE KEY-----" "$first"
	asn1=$(openssl asn1parse -in k$n)
	check_match "... with emptyAuth TRUE and parent 0x40000001" \
	    'BOOLEAN +:255.*INTEGER +:40000001' "${asn1//$'\n'/ }"
	# fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA,
	# sign; no decrypt; scheme NULL; the curve asked for.
	printf -v curve '%04x' $(( n == 256 ? 3 : n == 384 ? 4 : 5 ))
	pub_fields "$asn1"
	check_eq "... attributes sign|noDA|fixed..., scheme NULL, its curve" \
	    "00040472 0010 $curve" "$PUB_FIELDS"
	check_match "... its .pub is what ssh-keygen reads as ECDSA $n" \
	    "^$n SHA256:.* ec$n@test \(ECDSA\)$" "$(ssh-keygen -l -f k$n.pub)"
	check_match "... of type ecdsa-sha2-nistp$n" \
	    "^ecdsa-sha2-nistp$n " "$(<k$n.pub)"
	tpm_clean "P-$n keygen"
	pem_of k$n.pub >k$n.pem
	check_eq "... tpm2-openssl reads the public key of our .pub" \
	    "$(<k$n.pem)" "$(openssl pkey "${OSSL_TPM[@]}" -in k$n -pubout)"
	check "... tpm2-openssl signs with our stub ($h)" ossl_sign k$n $h o$n
	check "... and OpenSSL verifies that with the .pub's key" \
	    verify $h k$n.pem o$n
	tpm_clean "P-$n tpm2-openssl signing"
	check "... our backend signs (TPM2_Sign, ECDSA with $h)" "$SIGN" \
	    -n 2 -f k$n -i data -s s$n
	der_of s$n s$n.der
	check_eq "... r || s, each as long as the field" \
	    $(( (n + 7) / 8 * 2 )) "$RAW_LEN"
	check "... verified by OpenSSL with the .pub's key" \
	    verify $h k$n.pem s$n.der
	# One SSH signature blob, of what ssh-keygen -Y signs, for both checks.
	"$SIGN" -b -f k$n -i sd -s sb$n
	check "... the SSH signature names ecdsa-sha2-nistp$n" \
	    has_bytes sb$n "ecdsa-sha2-nistp$n"
	sshsig k$n.pub file sb$n >data.sig$n
	read -r t b _ <k$n.pub
	echo "ec$n@test $t $b" >signers$n
	check "... ssh-keygen -Y verify takes our SSH signature" \
	    eval "ssh-keygen -Y verify -f signers$n -I ec$n@test -n file \
	    -s data.sig$n <data"
	check "... and refuses it for other data" \
	    eval "! ssh-keygen -Y verify -f signers$n -I ec$n@test -n file \
	    -s data.sig$n <<<other"
	tpm_clean "P-$n our signing"
done
out=$("$SIGN" -a sha256 -f k256 -i data -s sx 2>&1)
check_eq "an RSA signature asked of an ECDSA key: exit 1" 1 "$?"
check_match "... it makes ECDSA signatures only" \
    'ECDSA key makes ECDSA signatures only' "$out"
out=$(gen -B tpm2 -t ecdsa -N '' -f kdef 2>&1)
check_match "without -b an ECDSA key is P-256, as ssh-keygen's" \
    '^256 .*\(ECDSA\)$' "$(ssh-keygen -l -f kdef.pub)"
tpm_clean "the default curve"

# --- A key with a password --------------------------------------------------
: >bus.bin
HWK_SPY_DUMP=$T_TMP/bus.bin check \
    "ECDSA P-384 keygen with a passphrase, the bus recorded" \
    gen -B tpm2 -o tcti="$SPY:$TCTI" -t ecdsa -b 384 -N 'Sesame-7f3a' -f kpw
asn1=$(openssl asn1parse -in kpw)
check_match "... emptyAuth is FALSE" 'cont \[ 0 \] .*BOOLEAN +:0 ' \
    "${asn1//$'\n'/ }"
pub_fields "$asn1"
check_eq "... and the TPM's lockout covers it (no noDA)" "00040072" \
    "$PUB_ATTRS"
tpm_clean "keygen with a passphrase"
pem_of kpw.pub >kpw.pem
check "tpm2-openssl signs with it given the password" \
    ossl_sign kpw sha384 opw 'Sesame-7f3a'
check "... verified by OpenSSL" verify sha384 kpw.pem opw
HWK_SPY_DUMP=$T_TMP/bus.bin check \
    "our backend signs with -P, the bus recorded" \
    "$SIGN" -o tcti="$SPY:$TCTI" -P 'Sesame-7f3a' -f kpw -i data -s spw
der_of spw spw.der
check "... verified by OpenSSL" verify sha384 kpw.pem spw.der
check "the password never crossed the bus in clear" \
    eval '! has_bytes bus.bin Sesame-7f3a'
check "... though the record holds the commands" test -s bus.bin
out=$("$SIGN" -P 'Sesame-7f3b' -f kpw -i data -s sx 2>&1)
check_eq "a wrong password: exit 5" 5 "$?"
check_match "... said as such" 'wrong passphrase for the TPM key' "$out"
tpm2_dictionarylockout -c >/dev/null 2>&1
tpm_clean "signing with a password"

# --- What the TPM cannot make -----------------------------------------------
: >spy.log
out=$(HWK_SPY_LOG="$T_TMP/spy.log" gen -B tpm2 -o tcti="$SPY:$TCTI" \
    -t ed25519 -N '' -f ked 2>&1)
check_eq "Ed25519 in the TPM is refused (exit 2)" 2 "$?"
check_match "... naming what this TPM makes and where Ed25519 goes" \
    'this TPM makes RSA 2048/3072 and ECDSA 256/384/521 keys; Ed25519 keys it cannot make: use --backend pkcs11 or software' \
    "$out"
check_no_match "... before the TPM made anything (no TPM2_Create)" \
    '0x00000153' "$(<spy.log)"
no_files ked
out=$(gen -B tpm2 -t ecdsa -b 224 -N '' -f k224 2>&1)
check_eq "ECDSA on 224 bits is refused (exit 2)" 2 "$?"
check_match "... in ssh-keygen's words" \
    'Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits' "$out"
no_files k224
# A TPM without P-521: the spy drops it from the TPM's list of curves.
: >spy.log
out=$(HWK_SPY_NO_P521=1 HWK_SPY_LOG="$T_TMP/spy.log" gen -B tpm2 \
    -o tcti="$SPY:$TCTI" -t ecdsa -b 521 -N '' -f k521x 2>&1)
check_eq "a curve the TPM lacks is refused (exit 2)" 2 "$?"
check_match "... naming the curve and what the TPM makes" \
    'cannot make ECDSA-521 keys \(its curve P-521 is missing\); this TPM makes RSA 2048/3072 and ECDSA 256/384 keys' \
    "$out"
check_no_match "... before the TPM made anything (no TPM2_Create)" \
    '0x00000153' "$(<spy.log)"
no_files k521x
HWK_SPY_NO_P521=1 check "... while P-384 is made on that TPM" gen \
    -B tpm2 -o tcti="$SPY:$TCTI" -t ecdsa -b 384 -N '' -f k384x
tpm_clean "refusals"

# --- --backends -------------------------------------------------------------
# One python3 reads both JSON answers: the TPM's, and one without P-521.
json=$("$HWK" --backends --json --tcti "$TCTI")
json2=$(HWK_SPY_NO_P521=1 "$HWK" --backends --json --tcti "$SPY:$TCTI")
bits=$($PY -c 'import json, sys
for doc, key in ((1, "ecdsa_bits"), (1, "rsa_bits"), (2, "ecdsa_bits")):
    print(json.loads(sys.argv[doc])["tpm2"][key])' "$json" "$json2")
check_eq "--backends --json lists the TPM's curves" "[256, 384, 521]" \
    "${bits%%$'\n'*}"
bits=${bits#*$'\n'}
check_eq "... beside the RSA sizes hwkeygen makes there (not 1024)" \
    "[2048, 3072]" \
    "${bits%%$'\n'*}"
check_eq "... and of a TPM without P-521, the two it has" "[256, 384]" \
    "${bits#*$'\n'}"
text=$("$HWK" --backends --tcti "$TCTI")
check_match "--backends in text names them" 'ecdsa_bits:.*- 256.*- 521' \
    "${text//$'\n'/ }"

# --- Commands on the bus ----------------------------------------------------
: >spy.log
HWK_SPY_LOG="$T_TMP/spy.log" gen -B tpm2 -o tcti="$SPY:$TCTI" -t ecdsa \
    -b 256 -N '' -f kcount >/dev/null 2>&1
log=$(<spy.log)
check_eq "an ECDSA keygen sends 4 TPM commands, as RSA's (GetCapability, \
CreatePrimary, Create, FlushContext)" \
    "0x0000017a 0x00000131 0x00000153 0x00000165" "${log//$'\n'/ }"
for n in 1 2 3 4; do
	out=$(HWK_SPY_FAIL_AT=$n gen -B tpm2 -o tcti="$SPY:$TCTI" \
	    -t ecdsa -N 'pw' -f kf$n 2>&1)
	check_eq "ECDSA keygen losing command $n of 5: exit 4" 4 "$?"
	no_files kf$n
	tpm_clean "ECDSA keygen losing command $n"
done

for n in 1 2 3 4 5; do
	HWK_SPY_FAIL_AT=$n check_rc 4 \
	    "ECDSA signing losing command $n of 5: exit 4" \
	    "$SIGN" -o tcti="$SPY:$TCTI" -P 'Sesame-7f3a' -f kpw -i data -s sx
	tpm_clean "ECDSA signing losing command $n"
done
# A key kept loaded (as the agent keeps it) is loaded again once lost.
# (Commands: CreatePrimary, Load, FlushContext, Sign, Sign.)
HWK_SPY_LOSE_AT=5 check "a kept ECDSA key lost from the TPM is loaded again" \
    "$SIGN" -o tcti="$SPY:$TCTI" -n 2 -f k521 -i data -s sl521
der_of sl521 sl521.der
check "... and the signature verifies" verify sha512 k521.pem sl521.der
tpm_clean "reloading a lost ECDSA key"

# --- Keys made by tpm2-tools with a fixed scheme ----------------------------
attrs='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign'
tools_stub kt256 ecc256:ecdsa-sha256 "$attrs"
"$HWK" -y -f kt256 >kt256.pub && pem_of kt256.pub >kt256.pem
check "a key bound to ECDSA with SHA-256 on P-256 signs" "$SIGN" -P '' \
    -f kt256 -i data -s st256
der_of st256 st256.der
check "... verified by OpenSSL" verify sha256 kt256.pem st256.der
tools_stub kt384 ecc384:ecdsa-sha256 "$attrs"
out=$("$SIGN" -P '' -f kt384 -i data -s sx 2>&1)
check_eq "a P-384 key bound to SHA-256 is refused (exit 1)" 1 "$?"
check_match "... as bound to another hash than SSH's for its curve" \
    'bound to ECDSA signatures with SHA-256, so it cannot sign with SHA-384' \
    "$out"
tpm_clean "tpm2-tools keys"

done_testing
