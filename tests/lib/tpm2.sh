# Sourced after common.sh and swtpm.sh by the tpm2_*.sh tests: a swtpm of
# the test's own, the data to sign, and the ways tpm2-openssl, tpm2-tools,
# OpenSSL and OpenSSH judge our keys.
# shellcheck shell=bash

SIGN=$B/tests/tools/hwk-sign
SPY=$B/tests/tcti_spy.so
OSSL_TPM=(-provider tpm2 -provider default -propquery '?provider=tpm2')

# tpm2_setup: into the temp dir, with a HOME of its own, the data an SSH
# server would have us sign, and a fresh TPM.
tpm2_setup() {
	cd "$T_TMP" || return 1
	export HOME=$T_TMP/home
	echo "the data an SSH server would have us sign" >data
	start_swtpm
}

# tpm2_key NAME PASSWORD [ARG...]: a key for a test to work with, made
# unchecked (tpm2_keygen.sh and tpm2_password.sh check how keys are made),
# and the PEM of its public key in NAME.pem; ARGs go to hwkeygen (-t ecdsa
# where the key's type is no part of the test: an RSA key costs the swtpm
# ~0.25 s of CPU, an ECDSA key ~10 ms).  A key with a password signs once:
# the TPM answers the first password it checks after it starts with
# TPM_RC_RETRY (it notes in NV that its lockout counter is in use), and
# ESYS sends that command again, which tests that count commands must not
# see.
tpm2_key() {
	local name=$1 pass=$2
	shift 2
	"$HWK" --backend tpm2 -q -N "$pass" -C "$name@test" "$@" -f "$name" &&
	    pem_of "$name.pub" >"$name.pem" &&
	    { [ -z "$pass" ] ||
	    "$SIGN" -P "$pass" -f "$name" -i data -s "$name.first"; }
}

# tpm_clean WHAT: no transient object and no session left in the TPM.
tpm_clean() {
	tpm_handles_of 80000000 02000000
	check_eq "$1: no objects or sessions left in the TPM" "" "$TPM_HANDLES"
}
# The SubjectPublicKeyInfo PEM of an ssh .pub.
pem_of() { ssh-keygen -e -m PKCS8 -f "$1"; }
# verify HASH PUBPEM SIG: openssl checks a signature of data (PKCS#1, or
# for ECDSA the DER of der_of).
verify() { openssl dgst "-$1" -verify "$2" -signature "$3" data; }
# ossl_sign KEY HASH SIG [PASS]: tpm2-openssl signs data with a TPM key.
ossl_sign() {
	local pass=()
	[ $# -ge 4 ] && pass=(-passin "pass:$4")
	openssl dgst "-$2" -binary data >"$3.in" &&
	    openssl pkeyutl "${OSSL_TPM[@]}" -sign -inkey "$1" "${pass[@]}" \
	    -in "$3.in" -pkeyopt "digest:$2" -out "$3"
}
# der_of RAW DER: an ECDSA signature in the sign op's raw form (r || s) as
# the DER ECDSA-Sig-Value openssl verifies; RAW_LEN, the raw form's length.
# bash does the bytes, where a python3 would cost 50 ms.
der_of() {
	local v raw r s k
	bytes_of "$1"
	raw=("${BYTES[@]}")
	RAW_LEN=${#raw[@]}
	k=$((RAW_LEN / 2))
	_der_int "${raw[@]:0:k}"
	r=("${_der[@]}")
	_der_int "${raw[@]:k}"
	s=("${r[@]}" "${_der[@]}")
	if ((${#s[@]} < 0x80)); then s=(48 ${#s[@]} "${s[@]}")
	else s=(48 0x81 ${#s[@]} "${s[@]}"); fi
	printf -v v '\\x%02x' "${s[@]}"
	printf %b "$v" >"$2"
}
# bytes_of FILE: BYTES, the file's bytes as numbers.
bytes_of() {
	local LC_ALL=C c v
	BYTES=()
	while IFS= read -r -d '' -n 1 c; do	# a NUL byte reads as ""
		printf -v v %d "'$c"
		BYTES+=("$v")
	done <"$1"
}
# _der_int BYTE...: the DER INTEGER of a big-endian number, in _der (at
# most 127 bytes long, as r and s of the curves SSH uses are).
_der_int() {
	while (($# > 1 && ${1-1} == 0)); do shift; done
	((${1-128} & 0x80)) && set -- 0 "$@"
	_der=(2 $# "$@")
}
# pub_fields ASN1: from openssl asn1parse's view of a stub, its public area
# (the first OCTET STRING, a TPM2B_PUBLIC): PUB_ATTRS, its objectAttributes,
# and PUB_FIELDS, those, its signing scheme and its curve (an ECC key's),
# in hex as "attrs scheme curve".
pub_fields() {
	local l p='' j
	PUB_ATTRS='' PUB_FIELDS=''
	while IFS= read -r l; do
		[[ $l == *'OCTET STRING'*'[HEX DUMP]:'* ]] || continue
		p=${l##*:}
		p=${p,,}
		break
	done <<<"$1"
	[[ $p =~ ^[0-9a-f]{24,}$ ]] || return 1
	# size, type, nameAlg, then the attributes and the authPolicy.
	PUB_ATTRS=${p:12:8}
	j=$((24 + 2 * 0x${p:20:4}))
	# The symmetric definition: 2 bytes if TPM_ALG_NULL, else 6.
	[ "${p:j:4}" = 0010 ] && j=$((j + 4)) || j=$((j + 12))
	PUB_FIELDS="$PUB_ATTRS ${p:j:4}"
	# The scheme: 2 bytes if TPM_ALG_NULL, else 4.
	[ "${p:j:4}" = 0010 ] && j=$((j + 4)) || j=$((j + 8))
	PUB_FIELDS+=" ${p:j:4}"
}
# has_bytes FILE TEXT: FILE, binary, holds TEXT (without NULs), as
# grep -aqF would say.
has_bytes() {
	local LC_ALL=C c
	while IFS= read -r -d '' c || [ -n "$c" ]; do
		[[ $c == *"$2"* ]] && return 0
	done <"$1"
	return 1
}
# count TEXT WORDS: N, how many times WORDS occur in TEXT (grep -o | grep -c).
count() {
	local t=$1
	N=0
	while [[ $t == *"$2"* ]]; do
		t=${t#*"$2"}
		N=$((N + 1))
	done
}
# no_files NAME: neither NAME nor NAME.pub nor a temp file (as temp_files
# finds them) was written.
no_files() {
	local f found=
	for f in "$1" "$1.pub" ./.*.hwk-*; do
		if [ -e "$f" ] || [ -L "$f" ]; then found+=$f$'\n'; fi
	done
	check_eq "$1: nothing written" "" "${found%$'\n'}"
}
# empty_auth IN OUT: a TSS2 PRIVATE KEY stub (PEM) rewritten with
# emptyAuth TRUE, private.  Only the stub's encoding changes, never what
# the TPM checks.
empty_auth() {
	$PY - "$@" <<'PYEOF'
import base64, os, sys

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
    elems.append((tag, der[i:e]))
    i = e
elems = [x for x in elems if x[0] != 0xa0]
elems.insert(1, (0xa0, bytes.fromhex("a0030101ff")))
body = b"".join(raw for _, raw in elems)
out = b"\x30" + der_len(len(body)) + body
b = base64.b64encode(out).decode()
open(sys.argv[2], "w").write("-----BEGIN TSS2 PRIVATE KEY-----\n" +
    "\n".join(b[j:j + 64] for j in range(0, len(b), 64)) +
    "\n-----END TSS2 PRIVATE KEY-----\n")
os.chmod(sys.argv[2], 0o600)  # a key file, which -y wants private
PYEOF
}
# tools_stub OUT ALG ATTRS: a key made by tpm2-tools under the same SRK, as
# the stub they write (emptyAuth FALSE), mode 0600 (-y wants key files
# private).
tools_stub() { _tools_make "$@" && chmod 600 "$1"; }
# tools_key OUT ALG ATTRS: a tools_stub with emptyAuth TRUE.
tools_key() { _tools_make "$1.tools" "$2" "$3" && empty_auth "$1.tools" "$1"; }
# The SRK is made once and its context kept; tpm2-tools leave what they
# load in the TPM (three slots in swtpm), so each key ends with a flush.
_tools_make() {
	local d=$T_TMP/tools
	if [ ! -e "$d.srk" ]; then
		tpm2_createprimary -Q -C o -G ecc256:aes128cfb -c "$d.srk" \
		    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' &&
		    tpm_flush 80000000 || return 1
	fi
	tpm2_create -Q -C "$d.srk" -G "$2" -a "$3" -u "$d-$1.pub" \
	    -r "$d-$1.priv" &&
	    tpm2_encodeobject -C "$d.srk" -u "$d-$1.pub" -r "$d-$1.priv" \
	    -o "$1" && tpm_flush 80000000 02000000
}
