# Faults after the key exists on the token (a full token, an unreadable or
# extractable key, files that cannot be written, a signal): the key is
# removed again, or named with the way to remove it.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1

# --- Faults after the key exists: it is removed again.
n=$(objects)
out=$(HWK_FAKE_FAIL=C_GenerateKeyPair HWK_FAKE_FAIL_RV=0x31 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -f kfull 2>&1)
check_eq "a full token: exit 1" 1 "$?"
check_match "it says the token is full" 'no room for another key' "$out"
check_eq "a full token: no files" "" "$(ls kfull* 2>/dev/null)"
out=$(HWK_FAKE_FAIL=C_GetAttributeValue HWK_FAKE_FAIL_AFTER=C_GenerateKeyPair \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -f kr 2>&1)
check_eq "reading the new public key fails: exit 1" 1 "$?"
check_match "it says the key was removed" 'the new key was removed' "$out"
check_eq "no files" "" "$(ls kr* 2>/dev/null)"
check_eq "no object is left on the token" "$n" "$(objects)"
out=$(HWK_FAKE_EXTRACTABLE=1 "$HWK" -q --module "$FAULT" \
    --pin-source file:pin -f kxt 2>&1)
check_eq "a private key that can be read out: exit 1" 1 "$?"
check_match "it says what was checked, and that the key was removed" \
    "made a private key that can be read out: CKA_EXTRACTABLE is true; the new key was removed from the token" \
    "$out"
check_eq "and says \"removed\" once" 1 "$(printf '%s\n' "$out" | grep -o removed | wc -l)"
check_eq "no files, no objects" "$n" "$(ls kxt* 2>/dev/null; objects)"
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all gen -f kwr 2>&1)
check_eq "writing the files fails: exit 1" 1 "$?"
check_match "it says nothing was written" 'nothing was written' "$out"
check_eq "no files" "" "$(ls kwr* 2>/dev/null)"
check_eq "the key was destroyed on the token" "$n" "$(objects)"
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all \
    HWK_FAKE_FAIL=C_DestroyObject HWK_FAKE_FAIL_NTH=0 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -f kd 2>&1)
check_match "a key that cannot be removed is named, with the way to do it" \
    'cannot remove the new key \(id [0-9a-f]+\).*delete-object' \
    "$(printf '%s\n' "$out" | tr '\n' ' ')"
check_eq "those two objects are on the token" "$((n + 2))" "$(objects)"
did=$(printf '%s\n' "$out" | sed -n 's/.*cannot remove the new key (id \([0-9a-f]*\)).*/\1/p')
for t in privkey pubkey; do
	pkcs11-tool --module "$M" --token-label hwk-test --login --pin "$PIN" \
	    --delete-object --type "$t" --id "$did" >/dev/null 2>&1
done
check_eq "(removed by hand, as the message says)" "$n" "$(objects)"
: >int.log
HWK_FAKE_LOG=$T_TMP/int.log HWK_FAKE_DELAY_MS=3000 "$HWK" -q \
    --module "$FAULT" --pin-source file:pin -f kint >int.out 2>&1 &
pid=$!
# The signal once the token made the key (the fake logs how long it took),
# while the fake holds C_GenerateKeyPair 3 s more.
for ((i = 0; i < 1000; i++)); do
	grep -q '^keygen_ms ' int.log && break
	nap 0.02
done
# SIGTERM: a script's background jobs ignore SIGINT; both take this path.
kill -TERM "$pid"
wait "$pid"
check_eq "a signal during keygen: exit 130" 130 "$?"
check_match "the key made meanwhile is removed" \
    'interrupted; the new key was removed' "$(<int.out)"
check_eq "no files, no objects" "$n" "$(ls kint* 2>/dev/null; objects)"

done_testing
