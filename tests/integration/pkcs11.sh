# Keys born on a PKCS#11 token (SoftHSM2), judged by OpenSSH and OpenSC:
# ssh-keygen -D, pkcs11-tool, a log-in with PKCS11Provider; and every way
# it can go wrong leaves no file and no object behind.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/softhsm.sh"
. "$(dirname "$0")/../lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
softhsm_setup || exit 1
M=$SOFTHSM_MODULE
FAULT=$B/tests/pkcs11_fault.so
STRICT=$B/tests/pkcs11_strict.so
PIN=246810
SOPIN=13579135
MGMKEY=010203040506070801020304050607080102030405060708
softhsm_token hwk-test "$PIN" "$SOPIN" || exit 1
SERIAL=$(softhsm_serial hwk-test)
printf '%s\n' "$PIN" >pin
printf 'wrong-pin\n' >badpin
printf '%s\n' "$MGMKEY" >mgmkey
chmod 600 pin badpin mgmkey
export HWK_FAKE_REAL=$M HWK_STRICT_USER_PIN=$PIN

# hwkeygen on our token, PIN from the file unless told otherwise.
gen() { "$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin "$@"; }
objects() { softhsm_objects hwk-test "$PIN"; }
# The id= of a stub, percent-encoded as p11-kit writes it.
stub_id() { sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' "$1"; }
# alone STUB: a copy without its .pub, so that -y must ask the token.
alone() { cp "$1" "$1-alone" && echo "$1-alone"; }
# The fake modules live in build/tests/, which stubs may not name unless
# allowed (the default is /usr/lib*/*,/usr/local/lib*/*).
ALLOW=(--module-allow "$B/tests/*")

# --- A key on the token, as ssh-keygen and pkcs11-tool see it.
check "generate RSA-2048 on the token" gen -C me@example.com -f k1
check_eq "the stub is 0600" 600 "$(mode_of k1)"
check_eq "the public key is 0644" 644 "$(mode_of k1.pub)"
check_eq "the stub is one line" 1 "$(wc -l <k1)"
stub=$(cat k1)
check_match "the stub is a pkcs11: URI" '^pkcs11:' "$stub"
check_match "it names the token by label" '[:;]token=hwk-test(;|\?|$)' "$stub"
check_match "and by serial" "[:;]serial=$SERIAL(;|\\?|\$)" "$stub"
check_match "it names the private key" ';type=private' "$stub"
check_match "with its label" ';object=me%40example.com' "$stub"
check_match "and the module" "module-path=$(printf %s "$M" | sed 's|/|%2F|g')" \
    "$stub"
check_no_match "it holds no PIN" "pin|$PIN" "$stub"
check_no_match "no PIN in the .pub either" "$PIN" "$(cat k1.pub)"
check_line "ssh-keygen -D lists our key, equal to our .pub" "$(cat k1.pub)" \
    "$(ssh-keygen -D "$M" 2>/dev/null)"
id1=$(stub_id k1)
obj=$(pkcs11-tool --module "$M" --token-label hwk-test --login --pin "$PIN" \
    --list-objects --type privkey --id "$(printf %s "$id1" | tr -d %)" 2>&1)
check_match "pkcs11-tool: sensitive, never extractable, made on the token" \
    'Access: +sensitive, always sensitive, never extractable, local' "$obj"
check_match "pkcs11-tool: the private key can sign" 'Usage: .*sign' "$obj"
check_eq "-y reads the key back from the token" "$(cut -d' ' -f1,2 k1.pub)" \
    "$("$HWK" -y -f "$(alone k1)" | cut -d' ' -f1,2)"
check_eq "-y with the .pub beside the stub prints the .pub" "$(cat k1.pub)" \
    "$("$HWK" -y -f k1)"
check_eq "-l from the .pub matches ssh-keygen -l" "$(ssh-keygen -l -f k1.pub)" \
    "$("$HWK" -l -f k1.pub)"
check_eq "-l on the stub matches ssh-keygen -l" "$(ssh-keygen -l -f k1.pub)" \
    "$("$HWK" -l -f k1)"
cp k1 lone
check_eq "-l on a stub without .pub asks the token" \
    "$(ssh-keygen -l -f k1.pub | cut -d' ' -f1,2)" \
    "$("$HWK" -l -f lone | cut -d' ' -f1,2)"
mkdir -p "$HOME/.ssh" && cp k1 k1.pub "$HOME/.ssh/"
check_match "--list says the key is on a token" \
    'k1 +RSA +2048 .* pkcs11 +token PIN +me@example.com' \
    "$("$HWK" --list)"

# --- Stock ssh logs in with the key, through the module and an askpass.
cat >askpass <<EOF
#!/bin/sh
echo "\$*" >>"$T_TMP/askpass.log"
echo $PIN
EOF
chmod 700 askpass
cp k1.pub authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
# ssh_p11 PUB CMD...: ssh offers only the token's key that PUB names.
# BatchMode would stop ssh from asking for the PIN: no ssh_cmd here.
ssh_p11() {
	local pub=$1
	shift
	SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	    ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 \
	    -o LogLevel=ERROR -o IdentityAgent=none -o IdentitiesOnly=yes \
	    -o IdentityFile="$pub" -o PasswordAuthentication=no \
	    -o KbdInteractiveAuthentication=no -o PKCS11Provider="$M" \
	    "$(id -un)@127.0.0.1" "$@" </dev/null
}
check_eq "ssh logs in with PKCS11Provider and the key" "hello" \
    "$(ssh_p11 "$T_TMP/k1.pub" echo hello 2>&1)"
check_match "ssh asked for the PIN through SSH_ASKPASS" \
    "Enter PIN for 'hwk-test'" "$(cat askpass.log 2>/dev/null)"

# --- A second key: another id, and it works on its own.
check "a second key on the same token" gen -C second@example.com -f k2
id2=$(stub_id k2)
check_match "the two keys have different ids" '.' \
    "$([ -n "$id1" ] && [ -n "$id2" ] && [ "$id1" != "$id2" ] && echo y)"
check_line "ssh-keygen -D lists the second key too" "$(cat k2.pub)" \
    "$(ssh-keygen -D "$M" 2>/dev/null)"
cp k2.pub authorized_keys
check_eq "ssh logs in with the second key alone" "hello" \
    "$(ssh_p11 "$T_TMP/k2.pub" echo hello 2>&1)"
check_match "the first key no longer gets in" 'Permission denied' \
    "$(ssh_p11 "$T_TMP/k1.pub" echo hello 2>&1)"
check "--id picks the id" gen --id 7a7b -C third -f k3
check_eq "the stub has that id" "%7A%7B" "$(stub_id k3)"
n=$(objects)
out=$(gen --id 7a7b -f k4 2>&1)
check_match "an id that is taken is refused" 'id 7a7b is already used' "$out"
check_eq "and nothing is made" "$n" "$(objects)"
# A module that keeps only the first byte of an id (as ykcs11 does): the
# stub names the id the key has, not the one asked for.
out=$(HWK_FAKE_ID_FIRST_BYTE=1 "$HWK" --module "$FAULT" --pin-source file:pin \
    --id 5a5b -C fb -f kfb 2>&1)
check_eq "a module that cuts the id short: the key is made" 0 "$?"
check_eq "the stub has the id the token gave" "%5A" "$(stub_id kfb)"
check_match "and the user is told" "stored the key under id 5a, not 5a5b" \
    "$out"
check_eq "-y finds it by that id" "$(cut -d' ' -f1,2 kfb.pub)" \
    "$("$HWK" -y "${ALLOW[@]}" -f "$(alone kfb)" | cut -d' ' -f1,2)"
check "every one-byte id in use: a longer one is made" \
    env HWK_FAKE_ONE_BYTE_IDS_TAKEN=1 "$HWK" -q --module "$FAULT" \
    --pin-source file:pin -C long-id -f klid
check_eq "(16 bytes)" 32 "$(stub_id klid | tr -d % | tr -d '\n' | wc -c)"
check_rc 2 "--id that is not hex is a usage error" gen --id 0g -f k4
check_rc 2 "-b 32768 is refused before anything" gen -b 32768 -f k4
printf '%s\n' "$SOPIN" >sopin
chmod 600 sopin
out=$(gen --login so --pin-source file:sopin -f k4 2>&1)
check_match "SoftHSM2 makes keys for its user: --login so is told to go" \
    'leave out --login so' "$out"
check_eq "(and nothing was made)" "" "$(ls k4* 2>/dev/null)"

# A comment that, percent-encoded, would not fit in a stub: the key is
# named by its id alone, the token keeps the whole label.
long=$(printf '%%%.0s' $(seq 1500))
check "a comment of 1500 '%' still makes a key" gen -C "$long" -f klong
check_eq "its stub reads back: -y gives the key" "$(cut -d' ' -f1,2 klong.pub)" \
    "$("$HWK" -y -f "$(alone klong)" | cut -d' ' -f1,2)"
check_no_match "the stub leaves the label out" 'object=' "$(cat klong)"
check_eq "the .pub keeps the whole comment" "$long" "$(cut -d' ' -f3 klong.pub)"
check_eq "the token keeps the whole label" 1 \
    "$(pkcs11-tool --module "$M" --token-label hwk-test --login --pin "$PIN" \
    --list-objects --type privkey --id "$(stub_id klong | tr -d %)" 2>&1 |
    grep -c "label: *$long\$")"
# A stub too long to read back at all (a module path of many '%'): rolled back.
pdir=$T_TMP
for i in 1 2 3 4 5 6; do pdir=$pdir/$(printf '%%%.0s' $(seq 250)); done
mkdir -p "$pdir" && cp "$FAULT" "$pdir/f.so"
n=$(objects)
out=$("$HWK" -q --module "$pdir/f.so" --pin-source file:pin -f kpath 2>&1)
check_eq "a stub too long to read back: exit 1" 1 "$?"
check_match "it says the URI is too long" \
    "could not encode the private key: the key's URI would be [0-9]+ bytes" "$out"
check_eq "no files, no new objects" "$n" "$(ls kpath* 2>/dev/null; objects)"

# --- PINs: wrong, empty, prompted, low, final, locked, keypad.
n=$(objects)
check_rc 5 "a wrong PIN fails with exit 5" \
    env HWK_FAKE_LOG="$T_TMP/wrong.log" "$HWK" -q --module "$FAULT" \
    --pin-source file:badpin -f kw
check_eq "the wrong PIN was tried once, never again" 1 \
    "$(grep -c '^C_Login' wrong.log)"
check_eq "nothing was written" "" "$(ls kw kw.pub 2>/dev/null)"
check_eq "no object was made" "$n" "$(objects)"
out=$(gen --pin-source file:badpin -f kw 2>&1)
check_match "it says the PIN was wrong and what the token says of tries" \
    "incorrect PIN for token 'hwk-test'.*(tries|lock)" "$out"
# setsid: no terminal, so the prompt reads stdin even under a tty.
out=$(printf '%s\n' "$PIN" | setsid -w "$HWK" --module "$M" -C prompted -f kp \
    2>&1)
check_match "the PIN prompt names the token" "Enter PIN for 'hwk-test': " "$out"
check_match "after wrong PINs the token's count-low flag is a warning" \
    'Warning: a wrong PIN was given' "$out"
check_eq "a PIN typed at the prompt works" "$(cut -d' ' -f1,2 kp.pub)" \
    "$("$HWK" -y -f kp | cut -d' ' -f1,2)"
n=$(objects)
: >empty.log
check_rc 3 "an empty PIN is not sent to the token" \
    env HWK_FAKE_LOG="$T_TMP/empty.log" setsid -w sh -c \
    "echo | '$HWK' -q --module '$FAULT' -f ke"
check_eq "C_Login was not called for it" 0 "$(grep -c '^C_Login' empty.log)"
: >locked.log
out=$(HWK_FAKE_TOKEN_FLAGS=0x40000 HWK_FAKE_LOG=$T_TMP/locked.log \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -f kl 2>&1)
check_eq "a locked PIN is refused with exit 5" 5 "$?"
check_match "it says the PIN is locked" "PIN of token 'hwk-test'.* is locked" \
    "$out"
check_eq "the token was not even asked" 0 "$(grep -c '^C_Login' locked.log)"
# One try left: a PIN from a file (nobody watching) is not spent on it.
: >final.log
out=$(HWK_FAKE_TOKEN_FLAGS=0x20000 HWK_FAKE_LOG=$T_TMP/final.log "$HWK" \
    --module "$FAULT" --pin-source file:pin -f kf 2>&1)
check_eq "final try: a PIN from a file is refused with exit 5" 5 "$?"
check_match "it says the token is one try from locking" \
    "token 'hwk-test'.* says one more wrong PIN locks it: the PIN from file:pin is not tried unattended" \
    "$out"
check_match "and to type the PIN instead" 'Type the PIN instead' "$out"
check_eq "the token was not asked" 0 "$(grep -c '^C_Login' final.log)"
check_eq "nothing was written" "" "$(ls kf kf.pub 2>/dev/null)"
out=$(printf 'wrong-pin\n' | HWK_FAKE_TOKEN_FLAGS=0x20000 setsid -w "$HWK" \
    --module "$FAULT" -f kf 2>&1)
check_match "final try: a warning before a typed PIN is used" \
    'Warning: one more wrong PIN locks' "$out"
check_eq "no object was made by any of these" "$n" "$(objects)"
out=$(HWK_FAKE_TOKEN_FLAGS=0x10000 "$HWK" --module "$FAULT" \
    --pin-source file:pin -C low -f klow 2>&1)
check_eq "count low: a PIN from a file is still used" 0 "$?"
check_match "after a warning" 'Warning: a wrong PIN was given' "$out"
out=$(HWK_FAKE_FAIL=C_Login HWK_FAKE_FAIL_RV=0xa3 "$HWK" --module "$FAULT" \
    --pin-source file:pin -f kx 2>&1)
check_eq "an expired PIN: exit 5" 5 "$?"
check_match "it says the PIN has expired and must be changed" \
    "PIN of token 'hwk-test'.* has expired and must be changed" "$out"
check_no_match "and not that it is locked" 'locked' "$out"
check_eq "(nothing written)" "" "$(ls kx kx.pub 2>/dev/null)"
out=$(HWK_FAKE_KEYPAD_PIN=$PIN "$HWK" --module "$FAULT" -f kk </dev/null 2>&1)
check_eq "a keypad reader logs in without a PIN from us" 0 "$?"
check_match "and the user is told to use the keypad" "reader's keypad" "$out"

# A signal at the PIN prompt ends us there, before anything is made.
n=$(objects)
mkfifo pinfifo
sleep 60 >pinfifo &
writer=$!
at_exit "kill_wait $writer"
setsid "$HWK" -q --module "$M" -f ksig <pinfifo >sig.out 2>&1 &
pid=$!
for i in $(seq 50); do
	grep -q 'Enter PIN' sig.out 2>/dev/null && break
	sleep 0.1
done
kill -TERM "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	kill -9 "$pid"
	not_ok "a signal at the PIN prompt ends hwkeygen" "it kept waiting"
else
	wait "$pid"
	check_eq "a signal at the PIN prompt ends hwkeygen" 143 "$?"
fi
kill_wait "$writer"
check_eq "nothing was made" "$n" "$(ls ksig* 2>/dev/null; objects)"

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
HWK_FAKE_DELAY_MS=3000 "$HWK" -q --module "$FAULT" --pin-source file:pin \
    -f kint >int.out 2>&1 &
pid=$!
sleep 1.2
# SIGTERM: a script's background jobs ignore SIGINT; both take this path.
kill -TERM "$pid"
wait "$pid"
check_eq "a signal during keygen: exit 130" 130 "$?"
check_match "the key made meanwhile is removed" \
    'interrupted; the new key was removed' "$(cat int.out)"
check_eq "no files, no objects" "$n" "$(ls kint* 2>/dev/null; objects)"

# Any call failing at any of its first three uses: either a whole key
# (both files, two objects) or nothing at all, and never silence.
n=$(objects)
for call in C_GetSlotList C_GetTokenInfo C_GetMechanismInfo C_OpenSession \
    C_Login C_FindObjectsInit C_FindObjects C_GenerateKeyPair \
    C_GetAttributeValue; do
	for nth in 1 2 3; do
		out=$(HWK_FAKE_FAIL=$call HWK_FAKE_FAIL_NTH=$nth "$HWK" -q \
		    --module "$FAULT" --pin-source file:pin -f kany 2>&1)
		rc=$?
		now=$(objects)
		if [ "$rc" -eq 0 ] && [ -f kany ] && [ -f kany.pub ] &&
		    [ "$now" -eq $((n + 2)) ]; then
			ok "$call failing at its use $nth: a whole key"
			kid=$(stub_id kany | tr -d %)
			for t in privkey pubkey; do
				pkcs11-tool --module "$M" --token-label hwk-test \
				    --login --pin "$PIN" --delete-object \
				    --type "$t" --id "$kid" >/dev/null 2>&1
			done
			rm -f kany kany.pub
		elif [ "$rc" -ne 0 ] && [ "$nth" -ge 1 ] &&
		    [ -z "$(ls kany* 2>/dev/null)" ] && [ "$now" -eq "$n" ] &&
		    printf '%s\n' "$out" | grep -q 'hwkeygen: .*CKR_'; then
			ok "$call failing at its use $nth: nothing, and says why"
		else
			not_ok "$call failing at its use $nth" "exit $rc," \
			    "objects $n -> $now, files: $(ls kany* 2>/dev/null)" \
			    "$out"
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
	out=$(HWK_FAKE_FAIL=$call "$HWK" -y "${ALLOW[@]}" -f "$kk" 2>&1)
	rc=$?
	check_match "-y with $call failing: non-zero exit, and it says why" \
	    '^hwkeygen: .*CKR_DEVICE_ERROR' "$([ "$rc" -ne 0 ] && echo "$out")"
done

# Modules that list many slots, or say they listed more than they did,
# or say a value is longer than what they wrote.
out=$(HWK_FAKE_EXTRA_SLOTS=100 "$HWK" -y "${ALLOW[@]}" -f "$kk" 2>&1)
check_eq "a module with over 100 slots: -y still finds the token" \
    "$(cut -d' ' -f1,2 kk.pub)" "$(printf '%s\n' "$out" | cut -d' ' -f1,2)"
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
sed "s/token=hwk-test/token=gone-token/; s/serial=$SERIAL/serial=0/" k1 >gone
out=$("$HWK" -y -f gone 2>&1)
check_eq "-y on a stub whose token is missing: exit 4" 4 "$?"
check_match "it names the missing token" \
    "token that holds this key, 'gone-token' \\(serial 0\\), is not present" \
    "$out"
check_eq "no files were made by any of this" "" "$(ls km* 2>/dev/null)"

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
check_rc 2 "ykcs11-like: -b 3072 is refused before any login" \
    env HWK_FAKE_LOG="$T_TMP/strict.log" "$HWK" -q --module "$STRICT" \
    --token pkcs11:token=hwk-yk --login so --pin-source file:mgmkey \
    -b 3072 -f ky
check_eq "(no login was tried for it)" 1 "$(grep -c '^C_Login' strict.log)"
check_rc 1 "ykcs11-like: an id that is no PIV slot is refused" \
    yk --login so --pin-source file:mgmkey --id 05 -f ky
check_rc 5 "ykcs11-like: the user PIN is not the management key" \
    yk --login so --pin-source file:pin --id 02 -f ky
: >strict.log
check "ykcs11-like: --login so (management key) --id 02 works" \
    env HWK_FAKE_LOG="$T_TMP/strict.log" "$HWK" -q --module "$STRICT" \
    --token pkcs11:token=hwk-yk --login so --pin-source file:mgmkey \
    --id 02 -C yk@example.com -f ky
check_eq "the stub names slot 9c's id" "%02" "$(stub_id ky)"
check_match "and the label the module gave it" \
    ';object=Private%20key%20for%20Digital%20Signature' "$(cat ky)"
check_eq "the template was retried without CKA_EXTRACTABLE" \
    "C_GenerateKeyPair 0x12 C_GenerateKeyPair 0x0" \
    "$(grep '^C_GenerateKeyPair' strict.log | tr '\n' ' ' | sed 's/ $//')"
check_eq "-y reads it through the strict module" "$(cut -d' ' -f1,2 ky.pub)" \
    "$("$HWK" -y "${ALLOW[@]}" -f "$(alone ky)" | cut -d' ' -f1,2)"
obj=$(pkcs11-tool --module "$M" --token-label hwk-yk --login --pin "$PIN" \
    --list-objects --type privkey --id 02 2>&1)
check_match "the key is sensitive and never extractable" \
    'sensitive, always sensitive, never extractable, local' "$obj"
check "without --id, the first free PIV slot is taken" \
    yk --login so --pin-source file:mgmkey -f ky2
check_eq "(slot 9a: id 01)" "%01" "$(stub_id ky2)"
# ykcs11 reads the first byte of a longer id: such an id would replace
# the key of another slot, and is refused before anything is asked.
: >strict.log
out=$(HWK_FAKE_LOG=$T_TMP/strict.log yk --login so --pin-source file:mgmkey \
    --id 0201 -f kyl 2>&1)
check_eq "ykcs11-like: a two-byte --id is a usage error" 2 "$?"
check_match "it says the token takes one-byte ids" \
    "token 'hwk-yk'.* takes one-byte key ids only" "$out"
check_eq "(no login was tried for it)" 0 "$(grep -c '^C_Login' strict.log)"
: >strict.log
out=$(HWK_FAKE_ONE_BYTE_IDS_TAKEN=1 HWK_FAKE_LOG=$T_TMP/strict.log \
    yk --login so --pin-source file:mgmkey -f kyl 2>&1)
check_eq "ykcs11-like: every one-byte id in use: exit 1" 1 "$?"
check_match "no longer id is made up for it" \
    "every one-byte key id on token 'hwk-yk'.* is in use" "$out"
check_eq "(no key was generated)" 0 "$(grep -c '^C_GenerateKeyPair' strict.log)"
check_eq "(no files)" "" "$(ls kyl* 2>/dev/null)"
# ykcs11 says CKR_OK to C_DestroyObject on a key, and the key stays in
# its slot: a rollback must not claim it removed the key.
n=$(softhsm_objects hwk-yk "$PIN")
out=$(LD_PRELOAD=$B/tests/faultfs.so HWK_FAULT=rename=all \
    yk --login so --pin-source file:mgmkey --id 03 -f kyr 2>&1)
check_eq "ykcs11-like: the files cannot be written: exit 1" 1 "$?"
check_match "it says the key is still in its slot, not that it was removed" \
    "could not remove the new key from the pkcs11 device: token 'hwk-yk'.* still holds the new key's private key \(id 03\)" \
    "$out"
check_match "and what can remove it" 'ykman piv keys delete 9d' "$out"
check_eq "(the key is indeed still there)" "$((n + 2))" \
    "$(softhsm_objects hwk-yk "$PIN")"
HWK_FAKE_DELAY_MS=3000 "$HWK" -q --module "$STRICT" \
    --token pkcs11:token=hwk-yk --login so --pin-source file:mgmkey --id 04 \
    -f kyint >kyint.out 2>&1 &
pid=$!
sleep 1.2
kill -TERM "$pid"
wait "$pid"
check_eq "ykcs11-like: a signal during keygen: exit 130" 130 "$?"
check_match "it does not say the key was removed" \
    'interrupted; the new key could not be removed \(see above\)' \
    "$(cat kyint.out)"
check_match "it names the slot the key stays in" \
    "still holds the new key's private key \(id 04\).*ykman piv keys delete 9e" \
    "$(tr '\n' ' ' <kyint.out)"
softhsm2-util --delete-token --token hwk-yk >/dev/null 2>&1

# --- Modules registered with p11-kit (in the test's own configuration).
p11kit_register softhsm2 "$M"
out=$("$HWK" --pin-source file:pin -C reg -f kreg </dev/null 2>&1)
check_eq "no --module: p11-kit's registered modules are used" 0 "$?"
check_match "auto chooses the token" 'using pkcs11' "$out"
check_match "the stub names the registered module's file" \
    'module-path=%2F.*libsofthsm2.so' "$(cat kreg)"
check_eq "-y works from it" "$(cut -d' ' -f1,2 kreg.pub)" \
    "$("$HWK" -y -f "$(alone kreg)" | cut -d' ' -f1,2)"
p11kit_unregister softhsm2

# --- Two tokens: a choice to make.
softhsm_token hwk-two "$PIN" "$SOPIN" || exit 1
out=$(gen -f kamb 2>&1)
check_eq "two tokens and no --token: exit 1" 1 "$?"
check_match "both are listed" "2 tokens could hold the new key: .*'hwk-test'.*'hwk-two'|2 tokens could hold the new key: .*'hwk-two'.*'hwk-test'" "$out"
check_match "and --token is suggested" "--token 'pkcs11:" "$out"
check "--token by label picks one" gen --token 'pkcs11:token=hwk-two' -f k2t
check_match "its stub names that token" 'token=hwk-two' "$(cat k2t)"
check_eq "-y finds it among two tokens" "$(cut -d' ' -f1,2 k2t.pub)" \
    "$("$HWK" -y -f "$(alone k2t)" | cut -d' ' -f1,2)"
check "--token by serial picks the other" \
    gen --token "pkcs11:serial=$SERIAL" -f kser
check_match "its stub names the first token" 'token=hwk-test' "$(cat kser)"
softhsm2-util --delete-token --token hwk-two >/dev/null 2>&1
out=$("$HWK" -y -f k2t-alone 2>&1)
check_eq "-y when that token was removed: exit 4" 4 "$?"
check_match "it says the token is not present" \
    "'hwk-two' \\(serial [0-9a-f]+\\), is not present" "$out"

done_testing
