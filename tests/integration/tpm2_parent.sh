# Parents: a persistent key under which we make and sign, parents that are
# no storage key or not there, and a stub made in another TPM.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1

# --- A persistent parent ---------------------------------------------------
# The keys are ECDSA P-256: the parent is the subject, not the key's type,
# and an RSA key costs the swtpm ~0.25 s.
tpm2_createprimary -Q -C o -G ecc -c srk.ctx &&
    tpm2_evictcontrol -Q -C o -c srk.ctx 0x81000001
tpm_flush 80000000
check "keygen under persistent parent 0x81000001" "$HWK" --backend tpm2 \
    -q -t ecdsa -N 'pp' --parent 0x81000001 -f kp
check_match "... recorded as that handle" 'INTEGER +:81000001' \
    "$(openssl asn1parse -in kp)"
pem_of kp.pub >kp.pem
check "... signs in our backend" "$SIGN" -P pp -f kp -i data -s sp
der_of sp sp.der
check "... verified by openssl" verify sha256 kp.pem sp.der
check "... signs in tpm2-openssl" ossl_sign kp sha512 sp2 pp
check "... verified by openssl" verify sha512 kp.pem sp2
tpm_clean "persistent parent"
tpm2_createprimary -Q -C o -G ecc256:ecdsa-sha256 \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign' \
    -c sk.ctx && tpm2_evictcontrol -Q -C o -c sk.ctx 0x81000002
tpm_flush 80000000
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

# Another TPM's key: made in TPM B, tried in TPM A.
A_TCTI=$SWTPM_TCTI A_PID=$SWTPM_PID
swtpm_run "$T_TMP/tpmB" || exit 1
B_TCTI=$SWTPM_TCTI B_PID=$SWTPM_PID
check "keygen in a second TPM" "$HWK" --backend tpm2 --tcti "$B_TCTI" -q \
    -t ecdsa -N '' -f kB
out=$("$SIGN" -f kB -i data -s sx 2>&1)
check_eq "its stub does not sign in the first TPM (exit 1)" 1 "$?"
check_match "... as it belongs to another TPM" \
    'belongs to another TPM' "$out"
check "... while it signs in its own" "$SIGN" -o tcti="$B_TCTI" -f kB \
    -i data -s sB
TPM2TOOLS_TCTI=$B_TCTI transient_handles_of
check_eq "... and the second TPM is clean too" "" "$TPM_HANDLES"
kill_wait "$B_PID"
tpm_clean "another TPM's stub"

done_testing
