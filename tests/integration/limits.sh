# Limits before keys: a passphrase, a token label, a TPM password that is
# too long is refused before anything is made (no file, no token object, no
# TPM handle); what -N accepts, -P and the prompt accept too.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
FAULT=$B/tests/pkcs11_fault.so
# A string of n times c.
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
nothing_written() {
	[ ! -e "$1" ] && [ ! -e "$1.pub" ] && [ -z "$(temp_files .)" ]
}

# --- Passphrases: one limit for -N, -P and the prompt ------------------------
max=$(rep p 1023)
over=$(rep p 1024)
sw() { "$HWK" -q --backend software -b 2048 "$@"; }
out=$(sw -N "$over" -f kover 2>&1)
check_eq "-N of 1024 characters: exit 2" 2 "$?"
check_match "... says the limit" "-N: the passphrase is longer than 1023" "$out"
check "... and nothing is written" nothing_written kover
check "-N of 1023 characters makes a key" sw -N "$max" -f kmax
check_eq "... that -P reads back" "$(cut -d' ' -f1,2 kmax.pub)" \
    "$("$HWK" -y -P "$max" -f kmax | cut -d' ' -f1,2)"
check_eq "... and ssh-keygen -P too" "$(cut -d' ' -f1,2 kmax.pub)" \
    "$(ssh-keygen -y -P "$max" -f kmax | cut -d' ' -f1,2)"
# Without a terminal the prompt reads standard input, as ssh-keygen's.
check_eq "... and the prompt" "$(cut -d' ' -f1,2 kmax.pub)" \
    "$(printf '%s\n' "$max" | setsid -w "$HWK" -y -f kmax 2>/dev/null |
    cut -d' ' -f1,2)"
out=$("$HWK" -y -P "$over" -f kmax 2>&1)
check_eq "-P of 1024 characters: exit 2" 2 "$?"
check_match "... says the limit" "-P: the passphrase is longer than 1023" "$out"
out=$(printf '%s\n%s\n' "$max" "$max" | setsid -w "$HWK" -q \
    --backend software -b 2048 -f kprompt 2>&1)
check_eq "a 1023-character passphrase typed at the prompt: exit 0" 0 "$?"
check_eq "... which -N's limit and -P take" "$(cut -d' ' -f1,2 kprompt.pub)" \
    "$("$HWK" -y -P "$max" -f kprompt | cut -d' ' -f1,2)"

# --- A token key's label -----------------------------------------------------
softhsm_setup || exit 1
softhsm_token hwk-lim 123456 654321 || exit 1
printf '123456\n' >pin
chmod 600 pin
export HWK_FAKE_REAL=$SOFTHSM_MODULE
tok() {
	HWK_FAKE_LOG=$T_TMP/p11.log "$HWK" -q --backend pkcs11 \
	    --module "$FAULT" --pin-source file:pin "$@"
}
n0=$(softhsm_objects hwk-lim 123456)
: >p11.log
out=$(tok --label "$(rep l 4097)" -f klabel 2>&1)
check_eq "--label of 4097 bytes: exit 2" 2 "$?"
check_match "... says the limit" "--label is 4097 bytes.*at most 4096" "$out"
check_eq "... no object on the token" "$n0" "$(softhsm_objects hwk-lim 123456)"
check_no_match "... no key pair was even generated" "C_GenerateKeyPair" \
    "$(<p11.log)"
check "... nothing written" nothing_written klabel
: >p11.log
out=$(tok -C "$(rep c 5000)" -f kcomment 2>&1)
check_eq "a 5000-byte comment as the label: exit 2" 2 "$?"
check_match "... says to give a shorter --label" "shorter --label" "$out"
check_no_match "... no key pair generated" "C_GenerateKeyPair" "$(<p11.log)"
check "... nothing written" nothing_written kcomment
check "a long comment with a short --label is fine" \
    tok -C "$(rep c 5000)" --label short -f klong
check_eq "... the .pub keeps the comment" 5000 \
    "$(cut -d' ' -f3 klong.pub | tr -d '\n' | wc -c)"
check "a 4096-byte --label is taken" tok --label "$(rep l 4096)" -f k4096
check_eq "... both keys made" "$((n0 + 4))" "$(softhsm_objects hwk-lim 123456)"
unset HWK_FAKE_REAL

# --- A TPM key's password ----------------------------------------------------
start_swtpm || exit 1
out=$("$HWK" --backend tpm2 -N "$(rep t 33)" -f ktpm 2>&1)
check_eq "a 33-byte TPM password: exit 1" 1 "$?"
check_match "... says the limit" "at most 32" "$out"
check_no_match "... before anything starts" "Generating" "$out"
check_eq "... no handle left in the TPM" "" "$(transient_handles)"
check "... nothing written" nothing_written ktpm
out=$(printf '%s\n%s\n' "$(rep t 40)" "$(rep t 40)" | setsid -w "$HWK" \
    --backend tpm2 -f ktpm2 2>&1)
check_eq "a 40-byte TPM password at the prompt: exit 1" 1 "$?"
check_match "... says the limit" "at most 32" "$out"
check_match "... and that nothing was made" "nothing was made" "$out"
check_no_match "... not as a failed keygen" "could not generate" "$out"
check "... nothing written" nothing_written ktpm2
check "a 32-byte TPM password is taken" "$HWK" -q --backend tpm2 \
    -N "$(rep t 32)" -f ktpm3

done_testing
