# Keys the TPM loses (through a TCTI spy): a kept key, its parent or its
# session flushed or lost on the way, loaded again without a second
# question for the password.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
A_TCTI=$SWTPM_TCTI
# Loading again is the same for every type: k2 stays RSA, k1 is ECDSA, at
# a tenth of the swtpm's work.
tpm2_key k1 '' -t ecdsa && tpm2_key k2 'correct horse' || exit 1

# After a lost command ESYS refuses every later one; the key must not stay
# tied to it.  Kept loaded since an earlier signature, it is loaded again on
# a new connection at once; lost on a connection made just now, that
# signature fails and the next one works.  The password is asked once.
# (Commands: CreatePrimary, Load, StartAuthSession, FlushContext, Sign.)
out=$(HWK_SPY_FAIL_AT=6 setsid -w "$SIGN" -o tcti="$SPY:$A_TCTI" -n 2 \
    -f k2 -i data -s slost <<<'correct horse' 2>&1)
check_eq "a kept key whose second TPM2_Sign is lost still signs (exit 0)" \
    0 "$?"
count "$out" 'Enter passphrase'
check_eq "... asking for the password once" 1 "$N"
check "... and the signature verifies" verify sha256 k2.pem slost
tpm_clean "a kept key losing a command"
out=$(HWK_SPY_FAIL_AT=5 setsid -w "$SIGN" -k -o tcti="$SPY:$A_TCTI" -n 2 \
    -f k2 -i data -s slost2 <<<'correct horse' 2>&1)
check_eq "a key whose first TPM2_Sign is lost signs the next time (exit 0)" \
    0 "$?"
check_match "... the first signature failed as lost" \
    'lost the TPM at .* during the signature' "$out"
check_no_match "... the second was not refused by a dead ESYS" \
    'wrong order' "$out"
count "$out" 'Enter passphrase'
check_eq "... asking for the password once" 1 "$N"
check "... and the signature verifies" verify sha256 k2.pem slost2
tpm_clean "a fresh key losing a command"
# The TPM loses its objects while the key loads: loaded again at once.
HWK_SPY_LOSE_AT=2 check "the parent lost before TPM2_Load: loaded again" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -f k1 -i data -s sll1
der_of sll1 sll1.der
check "... and the signature verifies" verify sha256 k1.pem sll1.der
HWK_SPY_LOSE_AT=3 check \
    "the parent lost before the key's session: loaded again" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'correct horse' -f k2 -i data -s sll2
check "... and the signature verifies" verify sha256 k2.pem sll2
tpm_clean "objects lost while loading"

# A key kept loaded (as the agent keeps it) is loaded again once lost.
HWK_SPY_LOSE_AT=5 check \
    "a kept key lost from the TPM is loaded again (no password)" \
    "$SIGN" -o tcti="$SPY:$A_TCTI" -n 2 -f k1 -i data -s sl1
der_of sl1 sl1.der
check "... and the signature verifies" verify sha256 k1.pem sl1.der
check "a kept key and its session lost are loaded again, the password \
not asked twice" eval "HWK_SPY_LOSE_AT=6 setsid -w '$SIGN' \
    -o tcti='$SPY:$A_TCTI' -n 2 -f k2 -i data -s sl2 <<<'correct horse'"
check "... and the signature verifies" verify sha256 k2.pem sl2
tpm_clean "reloading a lost key"

done_testing
