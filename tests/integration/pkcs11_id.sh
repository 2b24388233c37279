# Key ids on a token: --id, an id in use, modules that keep one byte of an
# id or have every one-byte id in use; usage errors and --login so.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1
# The ids are the same for any type of key: ECDSA P-256, which SoftHSM2
# makes in a millisecond (RSA-2048: 0.3 s).

check "--id picks the id" gen -t ecdsa --id 7a7b -C third -f k3
stub_id -v id k3
check_eq "the stub has that id" "%7A%7B" "$id"
n=$(objects)
out=$(gen --id 7a7b -f k4 2>&1)
check_match "an id that is taken is refused" 'id 7a7b is already used' "$out"
check_eq "and nothing is made" "$n" "$(objects)"
# A module that keeps only the first byte of an id (as ykcs11 does): the
# stub names the id the key has, not the one asked for.
out=$(HWK_FAKE_ID_FIRST_BYTE=1 "$HWK" --module "$FAULT" --pin-source file:pin \
    -t ecdsa --id 5a5b -C fb -f kfb 2>&1)
check_eq "a module that cuts the id short: the key is made" 0 "$?"
stub_id -v id kfb
check_eq "the stub has the id the token gave" "%5A" "$id"
check_match "and the user is told" "stored the key under id 5a, not 5a5b" \
    "$out"
check_eq "-y finds it by that id" "$(blob <kfb.pub)" \
    "$("$HWK" -y "${ALLOW[@]}" -f "$(alone kfb)" | blob)"
# (VAR=value before a function: exported to what it runs, with no env.)
HWK_FAKE_ONE_BYTE_IDS_TAKEN=1 \
    check "every one-byte id in use: a longer one is made" \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -t ecdsa -C long-id \
    -f klid
stub_id -v idl klid
idl=${idl//%/}
idl=${idl//$'\n'/}
check_eq "(16 bytes)" 32 "${#idl}"
check_rc 2 "--id that is not hex is a usage error" gen --id 0g -f k4
check_rc 2 "-b 32768 is refused before anything" gen -b 32768 -f k4
printf '%s\n' "$SOPIN" >sopin
chmod 600 sopin
out=$(gen --login so --pin-source file:sopin -f k4 2>&1)
check_match "SoftHSM2 makes keys for its user: --login so is told to go" \
    'leave out --login so' "$out"
check_eq "(and nothing was made)" "" "$(present k4*)"

done_testing
