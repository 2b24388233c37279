# PINs: wrong, empty, prompted, low, final, locked, expired, on a keypad,
# and a signal at the prompt; none tried twice, nothing made without one.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"

pkcs11_setup || exit 1

# --- PINs: wrong, empty, prompted, low, final, locked, keypad.  The
# keys that are made are ECDSA P-256: logging in is the same for any type,
# and SoftHSM2 makes those in a millisecond (RSA-2048: 0.3 s).
n=$(objects)
# (VAR=value before a function: exported to what it runs, with no env.)
HWK_FAKE_LOG=$T_TMP/wrong.log check_rc 5 "a wrong PIN fails with exit 5" \
    "$HWK" -q --module "$FAULT" --pin-source file:badpin -f kw
check_eq "the wrong PIN was tried once, never again" 1 \
    "$(count_lines '^C_Login' wrong.log)"
check_eq "nothing was written" "" "$(present kw kw.pub)"
check_eq "no object was made" "$n" "$(objects)"
out=$(gen --pin-source file:badpin -f kw 2>&1)
check_match "it says the PIN was wrong and what the token says of tries" \
    "incorrect PIN for token 'hwk-test'.*(tries|lock)" "$out"
# setsid: no terminal, so the prompt reads stdin even under a tty.
out=$(setsid -w "$HWK" --module "$M" -t ecdsa -C prompted -f kp \
    <<<"$PIN" 2>&1)
check_match "the PIN prompt names the token" "Enter PIN for 'hwk-test': " "$out"
check_match "after wrong PINs the token's count-low flag is a warning" \
    'Warning: a wrong PIN was given' "$out"
check_eq "a PIN typed at the prompt works" "$(blob <kp.pub)" \
    "$("$HWK" -y -f kp | blob)"
n=$(objects)
: >empty.log
HWK_FAKE_LOG=$T_TMP/empty.log \
    check_rc 3 "an empty PIN is not sent to the token" \
    setsid -w "$HWK" -q --module "$FAULT" -f ke <<<""
check_eq "C_Login was not called for it" 0 "$(count_lines '^C_Login' empty.log)"
: >locked.log
out=$(HWK_FAKE_TOKEN_FLAGS=0x40000 HWK_FAKE_LOG=$T_TMP/locked.log \
    "$HWK" -q --module "$FAULT" --pin-source file:pin -f kl 2>&1)
check_eq "a locked PIN is refused with exit 5" 5 "$?"
check_match "it says the PIN is locked" "PIN of token 'hwk-test'.* is locked" \
    "$out"
check_eq "the token was not even asked" 0 "$(count_lines '^C_Login' locked.log)"
# One try left: a PIN from a file (nobody watching) is not spent on it.
: >final.log
out=$(HWK_FAKE_TOKEN_FLAGS=0x20000 HWK_FAKE_LOG=$T_TMP/final.log "$HWK" \
    --module "$FAULT" --pin-source file:pin -f kf 2>&1)
check_eq "final try: a PIN from a file is refused with exit 5" 5 "$?"
check_match "it says the token is one try from locking" \
    "token 'hwk-test'.* says one more wrong PIN locks it: the PIN from file:pin is not tried unattended" \
    "$out"
check_match "and to type the PIN instead" 'Type the PIN instead' "$out"
check_eq "the token was not asked" 0 "$(count_lines '^C_Login' final.log)"
check_eq "nothing was written" "" "$(present kf kf.pub)"
out=$(HWK_FAKE_TOKEN_FLAGS=0x20000 setsid -w "$HWK" --module "$FAULT" -f kf \
    <<<wrong-pin 2>&1)
check_match "final try: a warning before a typed PIN is used" \
    'Warning: one more wrong PIN locks' "$out"
check_eq "no object was made by any of these" "$n" "$(objects)"
out=$(HWK_FAKE_TOKEN_FLAGS=0x10000 "$HWK" --module "$FAULT" \
    --pin-source file:pin -t ecdsa -C low -f klow 2>&1)
check_eq "count low: a PIN from a file is still used" 0 "$?"
check_match "after a warning" 'Warning: a wrong PIN was given' "$out"
out=$(HWK_FAKE_FAIL=C_Login HWK_FAKE_FAIL_RV=0xa3 "$HWK" --module "$FAULT" \
    --pin-source file:pin -f kx 2>&1)
check_eq "an expired PIN: exit 5" 5 "$?"
check_match "it says the PIN has expired and must be changed" \
    "PIN of token 'hwk-test'.* has expired and must be changed" "$out"
check_no_match "and not that it is locked" 'locked' "$out"
check_eq "(nothing written)" "" "$(present kx kx.pub)"
out=$(HWK_FAKE_KEYPAD_PIN=$PIN "$HWK" --module "$FAULT" -t ecdsa -f kk \
    </dev/null 2>&1)
check_eq "a keypad reader logs in without a PIN from us" 0 "$?"
check_match "and the user is told to use the keypad" "reader's keypad" "$out"

# A signal at the PIN prompt ends us there, before anything is made.
n=$(objects)
# A FIFO that we hold open for writing: the prompt waits on it.
mkfifo pinfifo
exec {pinw}<>pinfifo
setsid "$HWK" -q --module "$M" -f ksig <pinfifo >sig.out 2>&1 &
pid=$!
for ((i = 0; i < 250; i++)); do
	in_file 'Enter PIN' sig.out && break
	nap 0.02
done
kill -TERM "$pid"
for ((i = 0; i < 250; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	nap 0.02
done
if kill -0 "$pid" 2>/dev/null; then
	kill -9 "$pid"
	not_ok "a signal at the PIN prompt ends hwkeygen" "it kept waiting"
else
	wait "$pid"
	check_eq "a signal at the PIN prompt ends hwkeygen" 143 "$?"
fi
exec {pinw}>&-
check_eq "nothing was made" "$n" "$(present ksig*; objects)"

done_testing
