# Keys born on a PKCS#11 token (SoftHSM2), as OpenSSH and OpenSC see them:
# the stub, ssh-keygen -D, pkcs11-tool, -y, -l and --list; comments and
# module paths too long for a stub.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1

# --- A key on the token, as ssh-keygen and pkcs11-tool see it.
check "generate RSA-2048 on the token" gen -C me@example.com -f k1
modes=$(stat -c %a k1 k1.pub)	# one stat for both
check_eq "the stub is 0600" 600 "${modes%%$'\n'*}"
check_eq "the public key is 0644" 644 "${modes#*$'\n'}"
IFS= read -r -d '' whole <k1
newlines=${whole//[!$'\n']/}
check_eq "the stub is one line" 1 "${#newlines}"
stub=$(<k1)
check_match "the stub is a pkcs11: URI" '^pkcs11:' "$stub"
check_match "it names the token by label" '[:;]token=hwk-test(;|\?|$)' "$stub"
check_match "and by serial" "[:;]serial=$SERIAL(;|\\?|\$)" "$stub"
check_eq "(that serial is the one pkcs11-tool lists)" "$SERIAL" \
    "$(softhsm_serial_tool hwk-test)"
check_match "it names the private key" ';type=private' "$stub"
check_match "with its label" ';object=me%40example.com' "$stub"
check_match "and the module" "module-path=${M//\//%2F}" "$stub"
check_no_match "it holds no PIN" "pin|$PIN" "$stub"
check_no_match "no PIN in the .pub either" "$PIN" "$(<k1.pub)"
check_line "ssh-keygen -D lists our key, equal to our .pub" "$(<k1.pub)" \
    "$(ssh-keygen -D "$M" 2>/dev/null)"
blob -v key1 <k1.pub
check_eq "-y reads the key back from the token" "$key1" \
    "$("$HWK" -y -f "$(alone k1)" | blob)"
check_eq "-y with the .pub beside the stub prints the .pub" "$(<k1.pub)" \
    "$("$HWK" -y -f k1)"
fp=$(ssh-keygen -l -f k1.pub)
check_eq "-l from the .pub matches ssh-keygen -l" "$fp" "$("$HWK" -l -f k1.pub)"
check_eq "-l on the stub matches ssh-keygen -l" "$fp" "$("$HWK" -l -f k1)"
blob -v fp2 <<<"$fp"
check_eq "-l on a stub without .pub asks the token" "$fp2" \
    "$("$HWK" -l -f k1-alone | blob)"
mkdir -p "$HOME/.ssh" && cp k1 k1.pub "$HOME/.ssh/"
check_match "--list says the key is on a token" \
    'k1 +RSA +2048 .* pkcs11 +token PIN +me@example.com' \
    "$("$HWK" --list)"

# A comment that, percent-encoded, would not fit in a stub: the key is
# named by its id alone, the token keeps the whole label (ECDSA: the
# label's length is at stake, not the key's type).
printf -v long '%%%.0s' {1..1500}
check "a comment of 1500 '%' still makes a key" gen -t ecdsa -C "$long" \
    -f klong
check_eq "its stub reads back: -y gives the key" "$(blob <klong.pub)" \
    "$("$HWK" -y -f "$(alone klong)" | blob)"
check_no_match "the stub leaves the label out" 'object=' "$(<klong)"
read -r _ _ comment <klong.pub
check_eq "the .pub keeps the whole comment" "$long" "$comment"
# A stub too long to read back at all (a module path of many '%'): rolled back.
printf -v pct '%%%.0s' {1..250}
pdir=$T_TMP/$pct/$pct/$pct/$pct/$pct/$pct
mkdir -p "$pdir" && cp "$FAULT" "$pdir/f.so"
n=$(objects)
out=$("$HWK" -q --module "$pdir/f.so" --pin-source file:pin -t ecdsa \
    -f kpath 2>&1)
check_eq "a stub too long to read back: exit 1" 1 "$?"
check_match "it says the URI is too long" \
    "could not encode the private key: the key's URI would be [0-9]+ bytes" "$out"
check_eq "no files, no new objects" "$n" "$(present kpath*; objects)"

# --- What pkcs11-tool lists of the token: one listing, for every check.
pkcs11-tool --module "$M" --token-label hwk-test --login --pin "$PIN" \
    --list-objects >listing 2>&1
listing=$(<listing)
stub_id -v id1 k1
pick_object obj privkey "${id1//%/}" "$listing"
check_match "pkcs11-tool: sensitive, never extractable, made on the token" \
    'Access: +sensitive, always sensitive, never extractable, local' "$obj"
check_match "pkcs11-tool: the private key can sign" 'Usage: .*sign' "$obj"
stub_id -v idl klong
pick_object obj privkey "${idl//%/}" "$listing"
printf '%s\n' "$obj" >klong.obj
check_eq "the token keeps the whole label" 1 \
    "$(count_lines "label: *$long\$" klong.obj)"
check_eq "(the objects counted are those pkcs11-tool lists)" "$n" \
    "$(count_lines ' Object;' listing)"

done_testing
