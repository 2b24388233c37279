# Racing RSA keygen: one OpenSSL keygen per CPU (up to 4), the key valid
# RSA of the size asked; one CPU races nothing; all racers failing says
# what a lone keygen failing said.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
SHIM=$B/tests/keygentime.so
cpus=$(nproc)
want=$((cpus < 4 ? cpus : 4))
# keygens FILE: sets KEYGENS to the number of keygens the shim saw.
keygens() { local -a l; mapfile -t l <"$1"; KEYGENS=${#l[@]}; }

# An idle machine (only hwkeygen runnable): a racer per CPU.
export HWK_FAKE_LOADAVG="0.00 0.00 0.00 1/90 4242"
HWK_KEYGEN_TIME_FILE=$T_TMP/kt1 LD_PRELOAD=$SHIM \
	check "RSA-2048 made by racing" \
	"$HWK" -q --backend software -t rsa -b 2048 -N '' -C race -f r1
keygens kt1
check_eq "one OpenSSL keygen per CPU, at most 4 ($cpus CPUs)" "$want" \
    "$KEYGENS"
check_match "ssh-keygen -l reads a 2048-bit RSA key" '^2048 SHA256:.* race \(RSA\)$' \
    "$(ssh-keygen -l -f r1)"
# OpenSSL checks the whole private key (primes, CRT numbers, exponent).
cp r1 r1pem && ssh-keygen -q -p -m PEM -P '' -N '' -f r1pem >/dev/null
out=$(openssl pkey -in r1pem -check -text -noout 2>&1)
check_line "OpenSSL finds the key valid" "Key is valid" "$out"
check_line "OpenSSL: 2048 bits, 2 primes" "Private-Key: (2048 bit, 2 primes)" \
    "$out"
check_line "OpenSSL: exponent 65537" "publicExponent: 65537 (0x10001)" "$out"

# A busy machine: as many racers as CPUs are free; none free, one keygen.
HWK_FAKE_LOADAVG="9.00 9.00 9.00 $((cpus + 1))/90 4242" \
    HWK_KEYGEN_TIME_FILE=$T_TMP/kt3 LD_PRELOAD=$SHIM "$HWK" -q \
    --backend software -t rsa -b 2048 -N '' -C busy -f r3
keygens kt3
check_eq "every CPU busy: one keygen, no race" 1 "$KEYGENS"
if [ "$want" -gt 2 ]; then
	HWK_FAKE_LOADAVG="2.00 2.00 2.00 2/90 4242" \
	    HWK_KEYGEN_TIME_FILE=$T_TMP/kt4 LD_PRELOAD=$SHIM "$HWK" -q \
	    --backend software -t rsa -b 2048 -N '' -C busy -f r4
	keygens kt4
	check_eq "one CPU busy: one racer fewer" $((want - 1)) "$KEYGENS"
fi

# One CPU: one keygen, in the calling thread.
HWK_KEYGEN_TIME_FILE=$T_TMP/kt2 LD_PRELOAD=$SHIM \
	check "RSA-2048 on one CPU" taskset -c 0 \
	"$HWK" -q --backend software -t rsa -b 2048 -N '' -C one -f r2
keygens kt2
check_eq "one CPU: one keygen" 1 "$KEYGENS"
check_match "ssh-keygen -l reads it: 2048-bit RSA" '^2048 SHA256:.* one \(RSA\)$' \
    "$(ssh-keygen -l -f r2)"

# Every racer fails: the words and the exit code of a lone keygen failing.
msg="hwkeygen: could not generate the key: OpenSSL could not generate an RSA-2048 key"
for how in race one; do
	pre=()
	[ $how = one ] && pre=(taskset -c 0)
	out=$(HWK_KEYGEN_FAIL=1 LD_PRELOAD=$SHIM "${pre[@]}" "$HWK" -q \
	    --backend software -t rsa -b 2048 -N '' -f f$how 2>&1)
	check_eq "$how: all keygens failing exits 1" 1 $?
	check_eq "$how: and says so as before" "$msg" "$out"
	check_eq "$how: and writes nothing" "" "$(compgen -G "f$how*")"
done
done_testing
