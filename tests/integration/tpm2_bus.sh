# What crosses the bus to the TPM (seen through a TCTI spy): the commands of
# a keygen, a password never in clear, and a signature from a raw RSA
# decrypt where the TPM has no SHA-512.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
A_TCTI=$SWTPM_TCTI

# The RSA key counted here signs with SHA-512 below: an RSA key costs the
# swtpm ~0.25 s.
: >spy.log
HWK_SPY_LOG="$T_TMP/spy.log" "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" -q \
    -N '' -f kcount
log=$(<spy.log)
check_eq "a keygen sends 4 TPM commands (TestParms, CreatePrimary, Create, \
FlushContext)" "0x0000018a 0x00000131 0x00000153 0x00000165" \
    "${log//$'\n'/ }"
pem_of kcount.pub >kcount.pem

# The password on the bus: ours never in clear; tpm2-openssl's, sent
# without a session, shows that the dump would show it.  The key is ECDSA
# P-256: the password travels in the same TPM2_Create and TPM2_Sign
# sessions for every type, and an RSA key costs the swtpm ten times more.
: >bus.bin
HWK_SPY_DUMP=$T_TMP/bus.bin check \
    "keygen with a passphrase, every command recorded" \
    "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" -q -t ecdsa \
    -N 'Sesame-7f3a' -f kbus
HWK_SPY_DUMP=$T_TMP/bus.bin check "... and a signature with it" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'Sesame-7f3a' -f kbus -i data -s sbus
check "the password never crossed the bus in clear" \
    eval '! has_bytes bus.bin Sesame-7f3a'
# tpm2-openssl's key is ECDSA P-256: its type plays no part in what the
# record shows.
: >bus.bin
HWK_SPY_DUMP="$T_TMP/bus.bin" TPM2OPENSSL_TCTI="$SPY:$A_TCTI" openssl genpkey \
    -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt user-auth:Sesame-7f3a -out obus.pem 2>/dev/null
check "(a password sent without a session is seen in the same record)" \
    has_bytes bus.bin Sesame-7f3a
tpm_clean "the password on the bus"

# A TPM without SHA-512: the signature comes from a raw RSA decrypt.
: >spy.log
HWK_SPY_NO_SHA512=1 HWK_SPY_LOG=$T_TMP/spy.log check \
    "a TPM without SHA-512 still signs rsa-sha2-512" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -a sha512 -f kcount -i data -s s512
check "... and the signature verifies" verify sha512 kcount.pem s512
check_match "... made by TPM2_RSA_Decrypt" '^0x00000159$' "$(<spy.log)"
tpm_clean "SHA-512 fallback"
out=$(HWK_SPY_NO_SHA512=1 HWK_SPY_FAIL_AT=5 "$SIGN" -o tcti="$SPY:$A_TCTI" \
    -a sha512 -f kcount -i data -s sx 2>&1)
check_eq "the fallback's TPM2_RSA_Decrypt lost: exit 4" 4 "$?"
check_match "... named as the command that failed" \
    'during the signature \(TPM2_RSA_Decrypt\)' "$out"
tpm_clean "the SHA-512 fallback failing"

done_testing
