# Limits before keys: a passphrase, a token label, a TPM password that is
# too long is refused before anything is made (no file, no token object, no
# TPM handle); what -N accepts, -P and the prompt accept too.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
FAULT=$B/tests/pkcs11_fault.so
# rep C N: sets REP to N times the character C.
rep() { printf -v REP '%*s' "$2" ''; REP=${REP// /$1}; }
# key_of TEXT: sets KEY to the type and base64 of the .pub line TEXT.
key_of() { local t b _; read -r t b _ <<<"$1"; KEY="$t $b"; }
nothing_written() {
	[ ! -e "$1" ] && [ ! -e "$1.pub" ] && [ -z "$(temp_files .)" ]
}

# --- Passphrases: one limit for -N, -P and the prompt ------------------------
rep p 1023
max=$REP
rep p 1024
over=$REP
# Ed25519 and 2 KDF rounds: the passphrase's length is the subject, not the
# key's type or the KDF's cost.
sw() { "$HWK" -q --backend software -t ed25519 -a 2 "$@"; }
out=$(sw -N "$over" -f kover 2>&1)
check_eq "-N of 1024 characters: exit 2" 2 "$?"
check_match "... says the limit" "-N: the passphrase is longer than 1023" "$out"
check "... and nothing is written" nothing_written kover
check "-N of 1023 characters makes a key" sw -N "$max" -f kmax
key_of "$(<kmax.pub)"
kmax=$KEY
key_of "$("$HWK" -y -P "$max" -f kmax)"
check_eq "... that -P reads back" "$kmax" "$KEY"
key_of "$(ssh-keygen -y -P "$max" -f kmax)"
check_eq "... and ssh-keygen -P too" "$kmax" "$KEY"
# Without a terminal the prompt reads standard input, as ssh-keygen's.
key_of "$(printf '%s\n' "$max" | setsid -w "$HWK" -y -f kmax 2>/dev/null)"
check_eq "... and the prompt" "$kmax" "$KEY"
out=$("$HWK" -y -P "$over" -f kmax 2>&1)
check_eq "-P of 1024 characters: exit 2" 2 "$?"
check_match "... says the limit" "-P: the passphrase is longer than 1023" "$out"
out=$(printf '%s\n%s\n' "$max" "$max" | setsid -w "$HWK" -q \
    --backend software -t ed25519 -a 2 -f kprompt 2>&1)
check_eq "a 1023-character passphrase typed at the prompt: exit 0" 0 "$?"
key_of "$(<kprompt.pub)"
kprompt=$KEY
key_of "$("$HWK" -y -P "$max" -f kprompt)"
check_eq "... which -N's limit and -P take" "$kprompt" "$KEY"

# --- A token key's label -----------------------------------------------------
softhsm_setup || exit 1
softhsm_token hwk-lim 123456 654321 || exit 1
printf '123456\n' >pin
chmod 600 pin
export HWK_FAKE_REAL=$SOFTHSM_MODULE
# ECDSA P-256: the label's length is the subject, not the key's type.
tok() {
	HWK_FAKE_LOG=$T_TMP/p11.log "$HWK" -q --backend pkcs11 \
	    --module "$FAULT" --pin-source file:pin -t ecdsa "$@"
}
rep l 4096
l4096=$REP
rep l 4097
l4097=$REP
rep c 5000
c5000=$REP
n0=$(softhsm_objects hwk-lim 123456)
: >p11.log
out=$(tok --label "$l4097" -f klabel 2>&1)
check_eq "--label of 4097 bytes: exit 2" 2 "$?"
check_match "... says the limit" "--label is 4097 bytes.*at most 4096" "$out"
check_eq "... no object on the token" "$n0" "$(softhsm_objects hwk-lim 123456)"
check_no_match "... no key pair was even generated" "C_GenerateKeyPair" \
    "$(<p11.log)"
check "... nothing written" nothing_written klabel
: >p11.log
out=$(tok -C "$c5000" -f kcomment 2>&1)
check_eq "a 5000-byte comment as the label: exit 2" 2 "$?"
check_match "... says to give a shorter --label" "shorter --label" "$out"
check_no_match "... no key pair generated" "C_GenerateKeyPair" "$(<p11.log)"
check "... nothing written" nothing_written kcomment
check "a long comment with a short --label is fine" \
    tok -C "$c5000" --label short -f klong
comment=
read -r _ _ comment _ <klong.pub
check_eq "... the .pub keeps the comment" 5000 "${#comment}"
check "a 4096-byte --label is taken" tok --label "$l4096" -f k4096
check_eq "... both keys made" "$((n0 + 4))" "$(softhsm_objects hwk-lim 123456)"
unset HWK_FAKE_REAL

# --- A TPM key's password ----------------------------------------------------
start_swtpm || exit 1
rep t 32
t32=$REP
rep t 33
t33=$REP
rep t 40
t40=$REP
out=$("$HWK" --backend tpm2 -N "$t33" -f ktpm 2>&1)
check_eq "a 33-byte TPM password: exit 1" 1 "$?"
check_match "... says the limit" "at most 32" "$out"
check_no_match "... before anything starts" "Generating" "$out"
check_eq "... no handle left in the TPM" "" "$(transient_handles)"
check "... nothing written" nothing_written ktpm
# At the prompt, the first entry is refused with the limit and asked
# again (no confirmation is asked of it); then a good one is taken.
out=$(printf '%s\n%s\n%s\n' "$t40" "$t32" "$t32" | setsid -w "$HWK" \
    --backend tpm2 -t ecdsa -f ktpm2 2>&1)
check_eq "a 40-byte TPM password at the prompt, then a 32-byte one: exit 0" \
    0 "$?"
check_match "... the first is refused at once, with the limit" "at most 32" \
    "$out"
n=0
while IFS= read -r l; do
	[[ $l == *"Enter same passphrase again"* ]] && n=$((n + 1))
done <<<"$out"
check_eq "... and asked again: one confirmation in all" 1 "$n"
check_match "... said so" "^Try again\.$" "$out"
check "... the key is made" test -s ktpm2.pub
out=$(printf '%s\n' "$t40" | setsid -w "$HWK" --backend tpm2 -t ecdsa \
    -f ktpm4 2>&1)
check_eq "a 40-byte TPM password, then the input ends: exit 3" 3 "$?"
check_no_match "... not as a failed keygen" "could not generate" "$out"
check "... nothing written" nothing_written ktpm4
# (ECDSA P-256: the password's length is the subject, not the key's type.)
check "a 32-byte TPM password is taken" "$HWK" -q --backend tpm2 -t ecdsa \
    -N "$t32" -f ktpm3

done_testing
