# Without a TPM: -y and -l read a stub alone; no TPM at the TCTI, a missing
# device and an unknown TCTI each say what is wrong.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/tpm2.sh"

tpm2_setup || exit 1
# ECDSA: what reads a stub without the TPM reads every type alike, and an
# RSA key costs the swtpm ~0.25 s.
tpm2_key k1 '' -t ecdsa || exit 1
# two_fields TEXT: F, its first two words (cut -d' ' -f1,2).
two_fields() {
	local a b _
	read -r a b _ <<<"$1"
	F="$a $b"
}

# -y and -l read the stub alone: no TPM needed.
cp k1 k1-alone
two_fields "$(<k1.pub)"
want=$F
two_fields "$(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1 "$HWK" -y -f k1)"
check_eq "-y works with no TPM reachable" "$want" "$F"
two_fields "$(ssh-keygen -l -f k1.pub)"
want=$F
two_fields "$(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1 "$HWK" -l \
    -f k1-alone)"
check_eq "-l on a stub without its .pub, no TPM reachable" "$want" "$F"

# --- No TPM, or a TCTI that is wrong ---------------------------------------
dead=$(free_port)
# A size no backend makes is refused first, in the TPM's own default.
out=$("$HWK" --backend tpm2 --tcti "swtpm:host=127.0.0.1,port=$dead" \
    -b 1000 -N '' -f knone 2>&1)
check_eq "-b 1000 with no TPM: exit 2, before the TPM is looked for" 2 "$?"
check_match "... says the size, and the TPM's default" \
    'or more \(the default is 2048\)\.$' "$out"
check_no_match "... and nothing of the TPM" 'no TPM' "$out"
out=$("$HWK" --backend tpm2 --tcti "swtpm:host=127.0.0.1,port=$dead" \
    -N '' -f knone 2>&1)
check_eq "no TPM at the TCTI: exit 4" 4 "$?"
check_match "... naming the TCTI and why" \
    "no TPM at swtpm:host=127.0.0.1,port=$dead \(Connection refused\)" "$out"
no_files knone
out=$("$HWK" --backend tpm2 --tcti device:/dev/hwk-no-tpm -N '' -f knone 2>&1)
check_eq "a missing TPM device: exit 4" 4 "$?"
check_match "... with the device's error" \
    'no TPM at device:/dev/hwk-no-tpm \(No such file or directory\)' "$out"
out=$("$HWK" --backend tpm2 --tcti nosuchtcti:x -N '' -f knone 2>&1)
check_eq "an unknown TCTI: exit 4" 4 "$?"
check_match "... named as such" "no TCTI module 'nosuchtcti'" "$out"
no_files knone
check_rc 4 "signing with no TPM: exit 4" "$SIGN" \
    -o tcti="swtpm:host=127.0.0.1,port=$dead" -f k1 -i data -s sx

done_testing
