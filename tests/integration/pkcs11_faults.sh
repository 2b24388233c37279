# Every call of the module failing at each of its first uses: a whole key or
# nothing, and never silence; modules that list many slots or say more
# than they wrote.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1
# Keys already on the token, so that the search for a free id takes three
# calls, and a stub that names the fault module, for -y through it (RSA:
# its modulus is read below).
gen -t ecdsa -C k1 -f k1 && "$HWK" -q --module "$FAULT" --pin-source file:pin \
    -C kk -f kk || exit 1

# Any call failing at any of its first three uses: either a whole key
# (both files, two objects) or nothing at all, and never silence.  The
# calls whose uses follow the key's type (the mechanism asked about, the
# attributes read back) are swept with RSA, and so is C_GenerateKeyPair's
# one use, with RSA's template; the others come at the same uses, from
# the same places, for any type (as do C_GenerateKeyPair's uses 2 and 3:
# none), and make ECDSA P-256 keys, which the token makes in a
# millisecond rather than RSA's 0.3 s.
n=$(objects)
softhsm_mark hwk-test
for call in C_GetSlotList C_GetTokenInfo C_GetMechanismInfo C_OpenSession \
    C_Login C_FindObjectsInit C_FindObjects C_GenerateKeyPair \
    C_GetAttributeValue; do
	for nth in 1 2 3; do
		case $call:$nth in
		C_GetMechanismInfo:* | C_GenerateKeyPair:1 | C_GetAttributeValue:*)
			t=rsa ;;
		*) t=ecdsa ;;
		esac
		k=k-$call-$nth
		out=$(HWK_FAKE_FAIL=$call HWK_FAKE_FAIL_NTH=$nth "$HWK" -q \
		    --module "$FAULT" --pin-source file:pin -t "$t" -f "$k" 2>&1)
		rc=$?
		objects now
		present -v files "$k"*
		if [ "$rc" -eq 0 ] && [ -f "$k" ] && [ -f "$k.pub" ] &&
		    [ "$now" -eq $((n + 2)) ]; then
			ok "$call failing at its use $nth: a whole key"
			softhsm_drop_new hwk-test
		elif [ "$rc" -ne 0 ] && [ "$nth" -ge 1 ] && [ -z "$files" ] &&
		    [ "$now" -eq "$n" ] && matches 'hwkeygen: .*CKR_' "$out"; then
			ok "$call failing at its use $nth: nothing, and says why"
		else
			not_ok "$call failing at its use $nth" "exit $rc," \
			    "objects $n -> $now, files: $files" "$out"
		fi
		if [ "$nth" -eq 1 ] && [ "$rc" -eq 0 ]; then
			not_ok "$call is used, so its first failure must show"
		fi
	done
done
n=$(objects)
# kk's stub names the fault module: -y through it, each call failing once.
kk=$(alone kk)
for call in C_GetSlotList C_GetTokenInfo C_OpenSession C_FindObjectsInit \
    C_FindObjects C_GetAttributeValue; do
	# Only a failure may pass.
	if out=$(HWK_FAKE_FAIL=$call "$HWK" -y "${ALLOW[@]}" -f "$kk" 2>&1); then
		out=
	fi
	check_match "-y with $call failing: non-zero exit, and it says why" \
	    '^hwkeygen: .*CKR_DEVICE_ERROR' "$out"
done

# Modules that list many slots, or say they listed more than they did,
# or say a value is longer than what they wrote.
out=$(HWK_FAKE_EXTRA_SLOTS=100 "$HWK" -y "${ALLOW[@]}" -f "$kk" 2>&1)
check_eq "a module with over 100 slots: -y still finds the token" \
    "$(blob <kk.pub)" "$(blob <<<"$out")"
out=$(HWK_FAKE_EXTRA_SLOTS=100 "$HWK" --backends --json --module "$FAULT" 2>&1)
check_match "and --backends lists the token" '"label": *"hwk-test"' "$out"
out=$(HWK_FAKE_SLOT_COUNT_LIE=1000 "$HWK" -q --module "$FAULT" \
    --pin-source file:pin --token pkcs11:token=no-such -f km 2>&1)
check_match "a slot count larger than the list: the listed slots are read" \
    "no token matches.*token 'hwk-test'.* does not match" "$out"
check_no_match "and nothing past the list" 'cannot read its token' "$out"
out=$(HWK_FAKE_ATTR_GROW=8 "$HWK" -y "${ALLOW[@]}" -f "$kk" 2>&1)
check_eq "a modulus longer than the module wrote: -y fails" 1 "$?"
check_match "and says why" "gave an RSA public key longer than it said" "$out"

done_testing
