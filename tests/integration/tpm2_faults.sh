# A TPM that fails mid-operation (through a TCTI spy): every keygen and
# signature losing one command, Ctrl-C during TPM2_Create, and the TPM
# process dying; nothing written and no transient object left.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
A_TCTI=$SWTPM_TCTI A_PID=$SWTPM_PID
# k2, whose signatures lose their commands below, is RSA (tpm2_ecdsa.sh
# does the same with ECDSA); k1 need only sign after the TPM's restart,
# which an ECDSA key does at a tenth of the swtpm's work.
tpm2_key k1 '' -t ecdsa && tpm2_key k2 'correct horse' || exit 1

for n in 1 2 3 4; do
	out=$(HWK_SPY_FAIL_AT=$n "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" \
	    -q -N 'pw' -f kf$n 2>&1)
	check_eq "keygen losing command $n of 5: exit 4" 4 "$?"
	check_match "... says the TPM was lost" 'lost the TPM at' "$out"
	no_files kf$n
	tpm_clean "keygen losing command $n"
done
# Only this keygen makes its key: it loses a command after the one where
# the types differ (TestParms for RSA), so it makes ECDSA's cheaper one.
HWK_SPY_FAIL_AT=5 check "keygen losing only the final flush still succeeds" \
    "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" -q -t ecdsa -N 'pw' -f kf5
tpm_clean "keygen losing the final flush (flushed over a new connection)"
for n in 1 2 3 4 5; do
	HWK_SPY_FAIL_AT=$n check_rc 4 "signing losing command $n of 5: exit 4" \
	    "$SIGN" -o tcti="$SPY:$A_TCTI" -P 'correct horse' -f k2 -i data \
	    -s sx
	tpm_clean "signing losing command $n"
done

# Ctrl-C while the TPM makes the key: the key is dropped, nothing written.
out=$(HWK_SPY_SIGINT_AT=3 "$HWK" --backend tpm2 --tcti "$SPY:$A_TCTI" \
    -q -N '' -f kint 2>&1)
check_eq "Ctrl-C during TPM2_Create: exit 130" 130 "$?"
check_match "... says the new key was removed" 'interrupted' "$out"
no_files kint
tpm_clean "Ctrl-C"

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
der_of s4 s4.der
check "... verified by openssl" verify sha256 k1.pem s4.der
tpm_clean "the end"

done_testing
