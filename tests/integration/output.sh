# Text from files and tokens (comments, labels, paths) never reaches the
# terminal raw, -l escapes it as ssh-keygen does, and every --json parses.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
unset LANG LANGUAGE LC_CTYPE LC_ALL

# ctl TEXT: how many raw control bytes (anything below 0x20 but newline,
# and DEL), counted in bash byte by byte.
ctl() {
	local LC_ALL=C s=${1//$'\n'/}
	s=${s//[!$'\001'-$'\037'$'\177']/}
	echo "${#s}"
}
# ctl_file FILE: the same for a file, whose NUL bytes count too.
ctl_file() {
	local n
	n=$(ctl "$(<"$1")" 2>/dev/null)
	IFS= read -rd '' _ <"$1" && n=$((n + 1))
	echo "$n"
}
# json TEXT EXPR...: sets the array v to what each Python expression gives,
# one line each, all in one Python: d is the JSON document TEXT, read
# strictly as UTF-8 (json.loads of bytes refuses anything else), and
# want(FILE) what a JSON reader must see for the raw bytes of FILE: invalid
# UTF-8 replaced as Unicode says, as Python's decoder does.
json() {
	printf '%s' "$1" >"$T_TMP/doc.json"
	mapfile -t v < <($PY - "$T_TMP/doc.json" "${@:2}" <<'PYEOF'
import json, sys
def want(f):
    return repr(open(f, "rb").read().decode("utf-8", "replace"))
try:
    d = json.loads(open(sys.argv[1], "rb").read())
except ValueError as e:
    d = e
for expr in sys.argv[2:]:
    try:
        print(eval(expr))
    except Exception as e:
        print("%s: %r (document: %r)" % (expr, e, d))
PYEOF
)
}

# A comment that sets the terminal title, with ill-formed UTF-8 (a stray
# byte, an overlong '/', a lone surrogate), valid UTF-8 and a truncated tail.
EVIL=$'a\e]0;pwned\a b\xff \xc0\xaf \xed\xa0\x80 Jos\xc3\xa9 \xe2\x82\xac end\xf0\x9f\x98'
printf '%s' "$EVIL" >evil.raw
ssh-keygen -q -t ed25519 -N '' -C "$EVIL" -f k
ssh-keygen -q -t ed25519 -N '' -C 'tab	here' -f tab

for loc in C.UTF-8 C; do
	check_eq "$loc: -l on the .pub equals ssh-keygen -l" \
	    "$(LC_ALL=$loc ssh-keygen -l -f k.pub | od -c)" \
	    "$(LC_ALL=$loc "$HWK" -l -f k.pub | od -c)"
	check_eq "$loc: -lv equals ssh-keygen -lv" \
	    "$(LC_ALL=$loc ssh-keygen -lv -f k.pub | od -c)" \
	    "$(LC_ALL=$loc "$HWK" -lv -f k.pub | od -c)"
	check_eq "$loc: -l on the private file equals ssh-keygen -l" \
	    "$(LC_ALL=$loc ssh-keygen -l -f k | od -c)" \
	    "$(LC_ALL=$loc "$HWK" -l -f k | od -c)"
	LC_ALL=$loc "$HWK" -l -f k.pub >l.out
	check_eq "$loc: -l prints no raw control byte" 0 "$(ctl_file l.out)"
done
check_match "C.UTF-8: the escape sequence shown as octal, UTF-8 kept" \
    $'a\\\\033]0;pwned\\\\007 b\\\\377 .* Jos\xc3\xa9 \xe2\x82\xac end\\\\360' \
    "$(LC_ALL=C.UTF-8 "$HWK" -l -f k.pub)"
check_match "C: every byte past ASCII as octal" 'Jos\\303\\251' \
    "$(LC_ALL=C "$HWK" -l -f k.pub)"
check_match "LANG=C.UTF-8 is taken as ssh-keygen takes it" $'Jos\xc3\xa9' \
    "$(LANG=C.UTF-8 "$HWK" -l -f k.pub)"
# ssh-keygen leaves tab and CR raw; a CR would let a comment overwrite the
# fingerprint shown before it, so hwkeygen escapes both.
check_match "-l escapes a tab too" 'tab\\011here \(ED25519\)$' \
    "$("$HWK" -l -f tab.pub)"

# -y: raw into a file (it makes a .pub), escaped on a terminal.
check_eq "-y into a pipe: the comment as it is, as ssh-keygen -y" \
    "$(ssh-keygen -y -f k | od -c)" "$("$HWK" -y -f k | od -c)"
out=$(script -qec "'$HWK' -y -f k" /dev/null </dev/null)
check_eq "-y on a terminal: no raw control byte" 0 "$(ctl "${out//$'\r'/}")"
check_match "-y on a terminal: the comment escaped" 'a\\033]0;pwned\\007' "$out"

# --list, for people and as JSON.
cp k k.pub "$HOME/.ssh/"
mv "$HOME/.ssh/k" "$HOME/.ssh/id_"$'\e[31m'
mv "$HOME/.ssh/k.pub" "$HOME/.ssh/id_"$'\e[31m'.pub
cp tab "$HOME/.ssh/id_nopub"
list=$(LC_ALL=C.UTF-8 "$HWK" --list)
check_eq "--list: no raw control byte" 0 "$(ctl "$list")"
check_match "--list: the file name escaped" 'id_\\033\[31m ' "$list"
check_match "--list: the comment escaped" 'a\\033]0;pwned\\007 b\\377' "$list"
lj=$("$HWK" --list --json)
json "$lj" 'len(d)' 'want("evil.raw")' \
    'repr([e["comment"] for e in d if e["path"].endswith("[31m")][0])' \
    'repr(sorted(e["path"] for e in d)[0].split("/")[-1])'
check_eq "--list --json: parses as UTF-8 JSON, 2 entries" 2 "${v[0]-}"
check_eq "--list --json: no raw control byte" 0 "$(ctl "$lj")"
check_eq "--list --json: the comment, ill-formed UTF-8 as U+FFFD" \
    "${v[1]-}" "${v[2]-}"
check_eq "--list --json: the file name as it is" "'id_\\x1b[31m'" "${v[3]-}"

# A new key: the --json result and the human lines (Ed25519: the comment is
# the subject, not the key's type).
res=$("$HWK" --backend software --json -t ed25519 -N '' -C "$EVIL" -f gen \
    2>/dev/null)
json "$res" 'want("evil.raw")' 'repr(d["comment"])'
check_eq "generation --json: parses, the comment with U+FFFD" "${v[0]-}" \
    "${v[1]-}"
check_eq "generation --json: no raw control byte" 0 "$(ctl "$res")"
out=$("$HWK" --backend software -t ed25519 -N '' -C "$EVIL" -f gen2 2>&1)
check_eq "generation: no raw control byte" 0 "$(ctl "$out")"
check_match "generation: the comment after the fingerprint, escaped" \
    '^SHA256:.* a\\033]0;pwned\\007' "$out"

# A token whose label drives the terminal: --backends and messages.
softhsm_setup || exit 1
LABEL=$'e\e]0;pwned\a\xff'
printf '%s' "$LABEL" >label.raw
softhsm_token "$LABEL" 1234 5678 || exit 1
M=$SOFTHSM_MODULE
b=$("$HWK" --backends --module "$M")
check_eq "--backends: no raw control byte" 0 "$(ctl "$b")"
check_match "--backends: the label escaped" 'label: e\\033]0;pwned\\007\\377$' \
    "$b"
bj=$("$HWK" --backends --json --module "$M")
json "$bj" 'want("label.raw")' \
    'repr([t["label"] for m in d["pkcs11"]["modules"] for t in m["tokens"] if t["label"].startswith("e")][0])'
check_eq "--backends --json: no raw control byte" 0 "$(ctl "$bj")"
check_eq "--backends --json: the label, parsed" "${v[0]-}" "${v[1]-}"
printf 'pkcs11:token=e%%1B%%5D0%%3Bpwned%%07%%FE;id=%%01;type=private\n' >stub
chmod 600 stub
out=$("$HWK" -y --module "$M" -f stub 2>&1)
check_eq "an error naming token labels: no raw control byte" 0 \
    "$(ctl "$out")"
check_match "an error naming token labels: escaped" \
    "'e\\\\033]0;pwned\\\\007\\\\376'" "$out"

# --json failures: the words of stderr as an object on stdout too, with
# the exit code; foreign text in them escaped there as well.
r1=$("$HWK" --json --backend software -t ecdsa -b 999 -N '' -f j1 2>/dev/null)
c1=$?
: >j2
r2=$("$HWK" --json --backend software -t ed25519 -N '' -f j2 2>/dev/null)
c2=$?
r3=$("$HWK" --json --backend pkcs11 --module "$M" \
    --token 'pkcs11:token=e%1B%5D0%3Bpwned%07%FE' -t ecdsa -N '' \
    -f j3 2>/dev/null)
c3=$?
r4=$("$HWK" --json --backend pkcs11 --module "$M" \
    --token "pkcs11:serial=$(softhsm_serial "$LABEL")" -t ecdsa -N '' \
    -f j4 2>/dev/null)
c4=$?
json "[$r1, $r2, $r3, $r4]" \
    '" ".join(str(e["error"]["exit"]) for e in d)' \
    'd[0]["error"]["message"]' 'd[1]["error"]["code"]' \
    'd[2]["error"]["message"]' 'd[3]["error"]["message"]'
check_eq "--json failures: each an object with its exit code" \
    "$c1 $c2 $c3 $c4" "${v[0]-}"
check_eq "... the same exit codes as without --json" "2 3 4 3" \
    "$c1 $c2 $c3 $c4"
check_match "... a token's PIN, not given: says to give it, first" \
    '^--json does not prompt: give the secret with -N, -P or --pin-source \(it would ask "Enter PIN for .*"\)$' \
    "${v[4]-}"
check_eq "... a usage error's message" \
    "Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits" \
    "${v[1]-}"
check_eq "... a file in the way: cancelled" "cancelled" "${v[2]-}"
check_match "... a token's label in a message, escaped" \
    "'e\\\\033]0;pwned\\\\007\\\\377'" "${v[3]-}"
check_eq "... no raw control byte" 0 "$(ctl "$r3")"
check_eq "... nothing written" "" "$(ls j1* j3* j4* 2>/dev/null)"

# hwkey-agent's log: a stub's name and a client's words, escaped.
printf '1234\n' >pin && chmod 600 pin
STUB=$'tok\e[2J'
"$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin \
    --token "pkcs11:serial=$(softhsm_serial "$LABEL")" -t ecdsa -C agent \
    -f "$STUB" || exit 1
mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
"$B/hwkey-agent" -d -a "$SOCK" --module "$M" --pin-source file:pin "$STUB" \
    >agent.out 2>agent.log &
AGENT_PID=$!
at_exit "kill_wait $AGENT_PID"
for ((i = 0; i < 250; i++)); do
	[ -S "$SOCK" ] && break
	nap 0.02
done
# An extension request (27) whose name rings the bell and clears the screen.
$PY - "$SOCK" <<'PYEOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
name = b"x\x07\x1b[2J\xff@example.com"
body = bytes([27]) + struct.pack(">I", len(name)) + name
s.sendall(struct.pack(">I", len(body)) + body)
n = struct.unpack(">I", s.recv(4))[0]
s.recv(n)
PYEOF
kill_wait "$AGENT_PID"
check_eq "agent log: no raw control byte" 0 "$(ctl_file agent.log)"
check_match "agent log: the stub's name escaped" 'tok\\033\[2J \(pkcs11\)' \
    "$(<agent.log)"
check_match "agent log: the client's extension name escaped" \
    'extension x\\007\\033\[2J\\377@example' "$(<agent.log)"

done_testing
