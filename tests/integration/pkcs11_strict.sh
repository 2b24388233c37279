# A module as strict as YubiKey's ykcs11 (pkcs11_strict.so) on a token of
# its own: keys made by the SO in PIV slots, one-byte ids, a rollback that
# cannot remove the key, and a signal during keygen.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1

# --- A module as strict as YubiKey's ykcs11, on a token of its own.
softhsm_token hwk-yk "$PIN" "$SOPIN" || exit 1
yk() {
	"$HWK" -q --backend pkcs11 --module "$STRICT" \
	    --token pkcs11:token=hwk-yk "$@"
}
: >strict.log
out=$(HWK_FAKE_LOG=$T_TMP/strict.log yk --pin-source file:pin -f ky 2>&1)
check_eq "ykcs11-like: a user may not generate" 1 "$?"
check_match "the message says to use --login so" '--login so' "$out"
# (VAR=value before a function: exported to what it runs, with no env.)
HWK_FAKE_LOG=$T_TMP/strict.log \
    check_rc 2 "ykcs11-like: -b 3072 is refused before any login" \
    "$HWK" -q --module "$STRICT" --token pkcs11:token=hwk-yk --login so \
    --pin-source file:mgmkey -b 3072 -f ky
check_eq "(no login was tried for it)" 1 "$(count_lines '^C_Login' strict.log)"
check_rc 1 "ykcs11-like: an id that is no PIV slot is refused" \
    yk --login so --pin-source file:mgmkey --id 05 -f ky
check_rc 5 "ykcs11-like: the user PIN is not the management key" \
    yk --login so --pin-source file:pin --id 02 -f ky
: >strict.log
HWK_FAKE_LOG=$T_TMP/strict.log \
    check "ykcs11-like: --login so (management key) --id 02 works" \
    "$HWK" -q --module "$STRICT" --token pkcs11:token=hwk-yk --login so \
    --pin-source file:mgmkey --id 02 -C yk@example.com -f ky
stub_id -v id ky
check_eq "the stub names slot 9c's id" "%02" "$id"
check_match "and the label the module gave it" \
    ';object=Private%20key%20for%20Digital%20Signature' "$(<ky)"
check_eq "the template was retried without CKA_EXTRACTABLE" \
    "C_GenerateKeyPair 0x12 C_GenerateKeyPair 0x0" \
    "$(join_lines '^C_GenerateKeyPair' strict.log)"
check_eq "-y reads it through the strict module" "$(blob <ky.pub)" \
    "$("$HWK" -y "${ALLOW[@]}" -f "$(alone ky)" | blob)"
obj=$(pkcs11-tool --module "$M" --token-label hwk-yk --login --pin "$PIN" \
    --list-objects --type privkey --id 02 2>&1)
check_match "the key is sensitive and never extractable" \
    'sensitive, always sensitive, never extractable, local' "$obj"
# ky above is RSA, the type whose template ykcs11 is strictest about; the
# slots, the rollback and the signal below are the same for any type, and
# take ECDSA P-256, which SoftHSM2 makes in a millisecond (RSA: 0.3 s).
check "without --id, the first free PIV slot is taken" \
    yk --login so --pin-source file:mgmkey -t ecdsa -f ky2
stub_id -v id ky2
check_eq "(slot 9a: id 01)" "%01" "$id"
# ykcs11 reads the first byte of a longer id: such an id would replace
# the key of another slot, and is refused before anything is asked.
: >strict.log
out=$(HWK_FAKE_LOG=$T_TMP/strict.log yk --login so --pin-source file:mgmkey \
    --id 0201 -f kyl 2>&1)
check_eq "ykcs11-like: a two-byte --id is a usage error" 2 "$?"
check_match "it says the token takes one-byte ids" \
    "token 'hwk-yk'.* takes one-byte key ids only" "$out"
check_eq "(no login was tried for it)" 0 "$(count_lines '^C_Login' strict.log)"
: >strict.log
out=$(HWK_FAKE_ONE_BYTE_IDS_TAKEN=1 HWK_FAKE_LOG=$T_TMP/strict.log \
    yk --login so --pin-source file:mgmkey -f kyl 2>&1)
check_eq "ykcs11-like: every one-byte id in use: exit 1" 1 "$?"
check_match "no longer id is made up for it" \
    "every one-byte key id on token 'hwk-yk'.* is in use" "$out"
check_eq "(no key was generated)" 0 \
    "$(count_lines '^C_GenerateKeyPair' strict.log)"
check_eq "(no files)" "" "$(present kyl*)"
# ykcs11 says CKR_OK to C_DestroyObject on a key, and the key stays in
# its slot: a rollback must not claim it removed the key.
n=$(softhsm_objects hwk-yk "$PIN")
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all \
    yk --login so --pin-source file:mgmkey -t ecdsa --id 03 -f kyr 2>&1)
check_eq "ykcs11-like: the files cannot be written: exit 1" 1 "$?"
check_match "it says the key is still in its slot, not that it was removed" \
    "could not remove the new key from the pkcs11 device: token 'hwk-yk'.* still holds the new key's private key \(id 03\)" \
    "$out"
check_match "and what can remove it" 'ykman piv keys delete 9d' "$out"
check_eq "(the key is indeed still there)" "$((n + 2))" \
    "$(softhsm_objects hwk-yk "$PIN")"
: >kyint.log
HWK_FAKE_LOG=$T_TMP/kyint.log HWK_FAKE_DELAY_MS=3000 "$HWK" -q \
    --module "$STRICT" --token pkcs11:token=hwk-yk --login so \
    --pin-source file:mgmkey -t ecdsa --id 04 -f kyint >kyint.out 2>&1 &
pid=$!
# The signal once the key is made, while the fake holds the call 3 s more.
for ((i = 0; i < 1000; i++)); do
	in_file '^delay ' kyint.log && break
	nap 0.02
done
kill -TERM "$pid"
wait "$pid"
check_eq "ykcs11-like: a signal during keygen: exit 130" 130 "$?"
kyint=$(<kyint.out)
check_match "it does not say the key was removed" \
    'interrupted; the new key could not be removed \(see above\)' "$kyint"
check_match "it names the slot the key stays in" \
    "still holds the new key's private key \(id 04\).*ykman piv keys delete 9e" \
    "${kyint//$'\n'/ }"

# --backends lists the sizes hwkeygen makes there: the token's RSA-1024 is
# below hwkeygen's floor.
js=$("$HWK" --backends --json --module "$STRICT" 2>/dev/null)
check_eq "--backends: the token's RSA sizes start at 2048, not its 1024" \
    "2048 2048" "$($PY -c 'import json, sys
d = json.loads(sys.argv[1])
t = [t for m in d["pkcs11"]["modules"] for t in m["tokens"]
    if t["label"] == "hwk-yk"][0]
print(t["rsa_bits_min"], t["rsa_bits_max"])' "$js" 2>&1)"

done_testing
