# The TSS and p11-kit are opened when their backend is first used, not at
# every start: neither binary links them, a software key never maps them,
# the TPM and the token still work; and where one cannot be loaded, its
# backend is unusable (exit 4) in words that name the library and its
# Debian package, --backends says so and auto passes it over.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

LAZY='libtss2|libp11-kit|libffi'

# --- Linked: libcrypto and libc, nothing of the TPM or the tokens ----------
for bin in "$HWK" "$B/hwkey-agent"; do
	out=$(ldd "$bin" 2>&1)
	check_match "ldd ${bin##*/}: libcrypto" 'libcrypto\.so' "$out"
	check_no_match "ldd ${bin##*/}: neither the TSS nor p11-kit" "$LAZY" \
	    "$out"
done

tpm2_setup || exit 1
pkcs11_setup || exit 1

# --- A software key maps neither ------------------------------------------
# LD_DEBUG=libs: the loader names each library it opens, before main too.
out=$(LD_DEBUG=libs "$HWK" --backend software -t ed25519 -N '' -q -f ksw 2>&1)
check_match "the loader names what it opens (LD_DEBUG=libs)" \
    'calling init: .*libcrypto\.so' "$out"
check_no_match "a software keygen opens neither the TSS nor p11-kit" \
    "$LAZY" "$out"
check_eq "... and makes the key" "ssh-ed25519" "$(cut -d' ' -f1 ksw.pub)"
out=$(LD_DEBUG=libs "$HWK" -y -f ksw 2>&1)
check_no_match "-y of a software key opens neither" "$LAZY" "$out"

# --- The TPM and the token open them, and work ------------------------------
# The TPM key is ECDSA P-256: which libraries open, not the key's type, is
# the subject, and an RSA key costs the swtpm ten times more.
LD_DEBUG=libs LD_DEBUG_OUTPUT=$T_TMP/ld-tpm "$HWK" --backend tpm2 -q \
    -t ecdsa -N '' -C tpm@test -f ktpm
check_eq "a TPM key on swtpm" 0 "$?"
check_match "... with the TSS opened on first use" \
    'calling init: .*libtss2-esys\.so\.0' "$(cat ld-tpm.*)"
check_eq "... its stub" "-----BEGIN TSS2 PRIVATE KEY-----" "$(head -n 1 ktpm)"
check "... and it signs" "$SIGN" -f ktpm -i data -s ktpm.sig
pem_of ktpm.pub >ktpm.pem
der_of ktpm.sig ktpm.der
check "... verified by openssl" verify sha256 ktpm.pem ktpm.der
cp ktpm ktpm-alone
out=$(LD_DEBUG=libs "$HWK" -y -f ktpm-alone 2>&1)
check_match "-y of a TPM stub opens the TSS's marshalling" \
    'calling init: .*libtss2-mu\.so\.0' "$out"
check_no_match "... and nothing that talks to a TPM" 'libtss2-(esys|tctildr)' \
    "$out"
check_eq "... for the key in the stub" "$(cut -d' ' -f1,2 ktpm.pub)" \
    "$("$HWK" -y -f ktpm-alone | cut -d' ' -f1,2)"

LD_DEBUG=libs LD_DEBUG_OUTPUT=$T_TMP/ld-p11 gen -C p11@test -f kp11
check_eq "a key on the SoftHSM2 token" 0 "$?"
check_match "... with p11-kit opened on first use" \
    'calling init: .*libp11-kit\.so\.0' "$(cat ld-p11.*)"
check_match "... its stub" '^pkcs11:' "$(<kp11)"
check "... and it signs" "$SIGN" -o pin-source=file:pin -f kp11 -i data \
    -s kp11.sig
pem_of kp11.pub >kp11.pem
check "... verified by openssl" verify sha256 kp11.pem kp11.sig
cp kp11 kp11-alone

# --- Libraries that cannot be loaded ----------------------------------------
# Empty files found first by the loader: "file too short".
mkdir broken broken-mu
: >broken/libtss2-esys.so.0
: >broken/libp11-kit.so.0
: >broken-mu/libtss2-mu.so.0
: >broken-mu/libp11-kit.so.0
NOLIB=(env LD_LIBRARY_PATH=$T_TMP/broken)
TSS_WORDS='cannot load libtss2-esys\.so\.0 \(.*file too short\), which the Debian package libtss2-esys-3\.0\.2-0 provides'
P11_WORDS='cannot load libp11-kit\.so\.0 \(.*file too short\), which the Debian package libp11-kit0 provides'

out=$("${NOLIB[@]}" "$HWK" --backend tpm2 -N '' -f knone 2>&1)
check_eq "--backend tpm2 without libtss2-esys: exit 4" 4 "$?"
check_match "... naming the library and its package" "$TSS_WORDS" "$out"
check_match "... and what to do" 'apt-get install libtss2-esys-3\.0\.2-0' \
    "$out"
no_files knone
out=$("${NOLIB[@]}" "$HWK" --backend pkcs11 --module "$M" \
    --pin-source file:pin -N '' -f knone 2>&1)
check_eq "--backend pkcs11 without libp11-kit: exit 4" 4 "$?"
check_match "... naming the library and its package" "$P11_WORDS" "$out"
no_files knone
check_eq "... and the token holds only the key made above" 2 "$(objects)"

out=$("${NOLIB[@]}" "$HWK" --backends 2>&1)
check_eq "--backends without them: exit 0" 0 "$?"
check_match "... tpm2 is not usable, and why" "^  reason: $TSS_WORDS" \
    "$(printf '%s\n' "$out" | sed -n '/^tpm2:/,/^software:/p')"
check_match "... nor pkcs11, and why" "^  reason: $P11_WORDS" \
    "$(printf '%s\n' "$out" | sed -n '/^pkcs11:/,/^tpm2:/p')"
check_match "... software is" '^  usable: yes' \
    "$(printf '%s\n' "$out" | sed -n '/^software:/,$p')"

out=$("${NOLIB[@]}" "$HWK" -t ecdsa -N '' -C auto@test -f kauto 2>&1)
check_eq "auto without them: exit 0" 0 "$?"
check_match "... passes over both, saying why, and uses software" \
    "$P11_WORDS, $TSS_WORDS: using software" "$out"
check_eq "... and makes a software key" \
    "-----BEGIN OPENSSH PRIVATE KEY-----" "$(head -n 1 kauto)"

# A stub without its .pub is read by the backend's library alone.
out=$(LD_LIBRARY_PATH=$T_TMP/broken-mu "$HWK" -y -f ktpm-alone 2>&1)
check_eq "-y of a TPM stub without libtss2-mu: exit 4" 4 "$?"
check_match "... naming the library and its package" \
    'cannot load libtss2-mu\.so\.0 \(.*\), which the Debian package libtss2-mu0 provides' \
    "$out"
out=$(LD_LIBRARY_PATH=$T_TMP/broken-mu "$HWK" -y -f kp11-alone 2>&1)
check_eq "-y of a token stub without libp11-kit: exit 4" 4 "$?"
check_match "... naming the library and its package" "$P11_WORDS" "$out"
check_eq "-l of a TPM stub with its .pub needs no library" \
    "$(ssh-keygen -l -f ktpm.pub)" \
    "$(LD_LIBRARY_PATH=$T_TMP/broken-mu "$HWK" -l -f ktpm 2>&1)"

done_testing
