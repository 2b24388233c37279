# Faults after the key exists on the token (a full token, an unreadable or
# extractable key, files that cannot be written, a signal): the key is
# removed again, or named with the way to remove it.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1

# --- Faults after the key exists: it is removed again.  Reading an RSA
# key back is RSA's own path (pkcs11_ec.sh has ECDSA's and Ed25519's); the
# other faults come after any keygen alike, so their keys are ECDSA P-256,
# which the token makes in a millisecond rather than RSA's 0.3 s.
n=$(objects)
out=$(HWK_FAKE_FAIL=C_GenerateKeyPair HWK_FAKE_FAIL_RV=0x31 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -f kfull 2>&1)
check_eq "a full token: exit 1" 1 "$?"
check_match "it says the token is full" 'no room for another key' "$out"
check_eq "a full token: no files" "" "$(present kfull*)"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -f kr 2>&1)
check_eq "reading the new public key fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
check_eq "no files" "" "$(present kr*)"
check_eq "no object is left on the token" "$n" "$(objects)"
out=$(HWK_FAKE_EXTRACTABLE=1 "$HWK" -q --module "$FAULT" \
    --pin-source file:pin -t ecdsa -f kxt 2>&1)
check_eq "a private key that can be read out: exit 1" 1 "$?"
check_match "it says what was checked, and that the key was removed" \
    "made a private key that can be read out: CKA_EXTRACTABLE is true; the new key was removed from the token" \
    "$out"
rest=${out//removed/}
check_eq "and says \"removed\" once" 1 "$(((${#out} - ${#rest}) / 7))"
check_eq "no files, no objects" "$n" "$(present kxt*; objects)"
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all gen -t ecdsa \
    -f kwr 2>&1)
check_eq "writing the files fails: exit 1" 1 "$?"
check_match "it says nothing was written" 'nothing was written' "$out"
check_eq "no files" "" "$(present kwr*)"
check_eq "the key was destroyed on the token" "$n" "$(objects)"
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all \
    HWK_FAKE_FAIL=C_DestroyObject HWK_FAKE_FAIL_NTH=0 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -t ecdsa -f kd 2>&1)
check_match "a key that cannot be removed is named, with the way to do it" \
    'cannot remove the new key \(id [0-9a-f]+\).*delete-object' \
    "${out//$'\n'/ }"
check_eq "those two objects are on the token" "$((n + 2))" "$(objects)"
re='cannot remove the new key \(id ([0-9a-f]*)\)'
did=
[[ $out =~ $re ]] && did=${BASH_REMATCH[1]}
for t in privkey pubkey; do
	pkcs11-tool --module "$M" --token-label hwk-test --login --pin "$PIN" \
	    --delete-object --type "$t" --id "$did" >/dev/null 2>&1
done
check_eq "(removed by hand, as the message says)" "$n" "$(objects)"
: >int.log
HWK_FAKE_LOG=$T_TMP/int.log HWK_FAKE_DELAY_MS=3000 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -t ecdsa -f kint >int.out 2>&1 &
pid=$!
# The signal once the token made the key (the fake logs how long it took),
# while the fake holds C_GenerateKeyPair 3 s more.
for ((i = 0; i < 1000; i++)); do
	in_file '^keygen_ms ' int.log && break
	nap 0.02
done
# SIGTERM: a script's background jobs ignore SIGINT; both take this path.
kill -TERM "$pid"
wait "$pid"
check_eq "a signal during keygen: exit 130" 130 "$?"
check_match "the key made meanwhile is removed" \
    'interrupted; the new key was removed' "$(<int.out)"
check_eq "no files, no objects" "$n" "$(present kint*; objects)"

done_testing
