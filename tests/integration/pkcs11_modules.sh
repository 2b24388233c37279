# Modules that cannot be loaded and tokens that are not there; modules
# p11-kit registered; two tokens, and --token to choose.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1
# Finding modules and tokens is the same for any type of key: the keys
# here are ECDSA P-256, which SoftHSM2 makes in a millisecond (RSA: 0.3 s).
gen -t ecdsa -C me@example.com -f k1 || exit 1

# --- Bad modules and tokens that are not there.
out=$("$HWK" -q --backend pkcs11 --module /nonexistent/p11.so -f km 2>&1)
check_eq "a missing module: exit 4" 4 "$?"
check_match "it says the module cannot be loaded" \
    'cannot load PKCS#11 module /nonexistent/p11.so' "$out"
out=$("$HWK" --module /nonexistent/p11.so -f km 2>&1)
check_eq "without --backend too: a named module is never swapped for software" \
    4 "$?"
check_no_match "(no software key was made)" 'using software|saved' "$out"
out=$("$HWK" -q --backend pkcs11 --module "$B/tests/faultfs.so" -f km 2>&1)
check_eq "a library that is no PKCS#11 module: exit 4" 4 "$?"
check_match "it says so" 'cannot load PKCS#11 module' "$out"
out=$(gen --token 'pkcs11:token=no-such-token' -f km 2>&1)
check_eq "--token that matches nothing: exit 4" 4 "$?"
check_match "it says what it found instead" \
    "no token matches --token 'pkcs11:token=no-such-token'.*'hwk-test'" "$out"
check_rc 2 "--token that is not a URI is a usage error" \
    gen --token 'token=hwk-test' -f km
out=$(gen --token 'pkcs11:token=hwk-test?pin-value=97531&x=%zz' -f km 2>&1)
check_eq "--token that does not parse, with a PIN in it: exit 2" 2 "$?"
check_match "it shows the URI up to the PIN" "'pkcs11:token=hwk-test\\?\\.\\.\\.'" \
    "$out"
check_no_match "and never the PIN" '97531' "$out"
stub=$(<k1)
stub=${stub/token=hwk-test/token=gone-token}
printf '%s\n' "${stub/"serial=$SERIAL"/serial=0}" >gone
out=$("$HWK" -y -f gone 2>&1)
check_eq "-y on a stub whose token is missing: exit 4" 4 "$?"
check_match "it names the missing token" \
    "token that holds this key, 'gone-token' \\(serial 0\\), is not present" \
    "$out"
check_eq "no files were made by any of this" "" "$(present km*)"

# --- Modules registered with p11-kit (in the test's own configuration).
p11kit_register softhsm2 "$M"
out=$("$HWK" --pin-source file:pin -t ecdsa -C reg -f kreg </dev/null 2>&1)
check_eq "no --module: p11-kit's registered modules are used" 0 "$?"
check_match "auto chooses the token" 'using pkcs11' "$out"
check_match "the stub names the registered module's file" \
    'module-path=%2F.*libsofthsm2.so' "$(<kreg)"
check_eq "-y works from it" "$(blob <kreg.pub)" \
    "$("$HWK" -y -f "$(alone kreg)" | blob)"
# --module by the registered module's name, or by its file's name.
for name in softhsm2 libsofthsm2.so; do
	out=$("$HWK" -q --backend pkcs11 --module "$name" --pin-source file:pin \
	    -t ecdsa -f "kname-$name" </dev/null 2>&1)
	check_eq "--module $name (registered): exit 0" 0 "$?"
	check_match "... the stub names the module's file" \
	    'module-path=%2F.*libsofthsm2.so' "$(<"kname-$name")"
done
out=$("$HWK" -q --backend pkcs11 --module no-such-module -t ecdsa \
    -f kname-none 2>&1)
check_eq "--module of no file and no registered name: exit 4" 4 "$?"
check_match "... says what --module takes" "list-modules" "$out"
p11kit_unregister softhsm2

# --- Two tokens: a choice to make.
softhsm_token hwk-two "$PIN" "$SOPIN" || exit 1
out=$(gen -f kamb 2>&1)
check_eq "two tokens and no --token: exit 1" 1 "$?"
check_match "both are listed" "2 tokens could hold the new key: .*'hwk-test'.*'hwk-two'|2 tokens could hold the new key: .*'hwk-two'.*'hwk-test'" "$out"
check_match "and --token is suggested" "--token 'pkcs11:" "$out"
check "--token by label picks one" gen --token 'pkcs11:token=hwk-two' \
    -t ecdsa -f k2t
check_match "its stub names that token" 'token=hwk-two' "$(<k2t)"
check_eq "-y finds it among two tokens" "$(blob <k2t.pub)" \
    "$("$HWK" -y -f "$(alone k2t)" | blob)"
check "--token by serial picks the other" \
    gen --token "pkcs11:serial=$SERIAL" -t ecdsa -f kser
check_match "its stub names the first token" 'token=hwk-test' "$(<kser)"
softhsm2-util --delete-token --token hwk-two >/dev/null 2>&1
out=$("$HWK" -y -f k2t-alone 2>&1)
check_eq "-y when that token was removed: exit 4" 4 "$?"
check_match "it says the token is not present" \
    "'hwk-two' \\(serial [0-9a-f]+\\), is not present" "$out"

done_testing
