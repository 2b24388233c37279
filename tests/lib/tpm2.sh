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

# tpm2_key NAME PASSWORD: a key for a test to work with, made unchecked
# (tpm2_keygen.sh and tpm2_password.sh check how keys are made), and the
# PEM of its public key in NAME.pem.  A key with a password signs once: the
# TPM answers the first password it checks after it starts with
# TPM_RC_RETRY (it notes in NV that its lockout counter is in use), and
# ESYS sends that command again, which tests that count commands must not
# see.
tpm2_key() {
	"$HWK" --backend tpm2 -q -N "$2" -C "$1@test" -f "$1" &&
	    pem_of "$1.pub" >"$1.pem" &&
	    { [ -z "$2" ] || "$SIGN" -P "$2" -f "$1" -i data -s "$1.first"; }
}

# tpm_clean WHAT: no transient object and no session left in the TPM.
tpm_clean() {
	check_eq "$1: no objects or sessions left in the TPM" "" \
	    "$(tpm_handles 80000000 02000000)"
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
