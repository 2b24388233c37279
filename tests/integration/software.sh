# Software keys judged by OpenSSH's own ssh-keygen: -y, -l, -lv, passphrases.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"

# A plain key: ssh-keygen reads our private file and agrees with our .pub.
check "generate RSA-2048 without passphrase" \
    "$HWK" -q -b 2048 -N '' -C 'me@example.com' -f k1
check_eq "private key is 0600" 600 "$(mode_of k1)"
check_eq "public key is 0644" 644 "$(mode_of k1.pub)"
# key_of TEXT: sets KEY to the type and base64 of the .pub line TEXT.
key_of() { local t b _; read -r t b _ <<<"$1"; KEY="$t $b"; }
t='' b='' comment=''
read -r t b comment <k1.pub
key_of "$(ssh-keygen -y -f k1)"
check_eq "ssh-keygen -y derives our .pub" "$t $b" "$KEY"
check_eq "comment in .pub" "me@example.com" "$comment"
check_eq "-l matches ssh-keygen -l" "$(ssh-keygen -l -f k1.pub)" \
    "$("$HWK" -l -f k1.pub)"
check_eq "-lv matches ssh-keygen -lv byte for byte" \
    "$(ssh-keygen -lv -f k1.pub)" "$("$HWK" -lv -f k1.pub)"
check_eq "-l on the private file matches ssh-keygen" \
    "$(ssh-keygen -l -f k1)" "$("$HWK" -l -f k1)"
check_eq "-y prints the same line as ssh-keygen -y" \
    "$(ssh-keygen -y -f k1)" "$("$HWK" -y -f k1)"
# (The key of the default type and size, 3072-bit RSA, and the transcript
# of its generation are checked in inspect.sh, whose -l/-lv/-y comparisons
# need one: its prime search costs ~0.5 s of CPU.)

# Passphrases: ssh-keygen opens the file with the right one only.  (An
# Ed25519 key with 2 KDF rounds: each check runs the KDF, and neither the
# type nor the cost is the subject.)
check "generate with a passphrase" \
    "$HWK" -q -t ed25519 -a 2 -N 'correct horse' -f kp
check "ssh-keygen -y -P opens it" ssh-keygen -y -P 'correct horse' -f kp
check_rc 255 "ssh-keygen refuses the wrong passphrase" \
    ssh-keygen -y -P 'wrong' -f kp
check_rc 255 "ssh-keygen refuses an empty passphrase" \
    ssh-keygen -y -P '' -f kp
key_of "$(<kp.pub)"
kp=$KEY
key_of "$("$HWK" -y -P 'correct horse' -f kp)"
check_eq "our -y opens it too" "$kp" "$KEY"
check_rc 5 "our -y refuses the wrong passphrase (exit 5)" \
    "$HWK" -y -P 'wrong' -f kp

# Keys that ssh-keygen wrote, read by us: its RSA fixtures, encrypted
# (4 rounds), and rewritten as PEM by ssh-keygen -p.
cp "$FIXTURES/rsa3072-enc.key" theirs && cp "$FIXTURES/rsa3072-enc.key.pub" \
    theirs.pub && chmod 600 theirs
check_eq "-y reads ssh-keygen's encrypted key" "$(<theirs.pub)" \
    "$("$HWK" -y -P 'fixture passphrase' -f theirs)"
cp "$FIXTURES/rsa2048.key" pem && chmod 600 pem &&
    ssh-keygen -q -p -m PEM -P '' -N '' -f pem >/dev/null
check_match "(the fixture is now PEM)" '^-----BEGIN RSA PRIVATE KEY-----$' \
    "$(<pem)"
key_of "$(<"$FIXTURES/rsa2048.key.pub")"
printf '%s\n' "$KEY" >pem.pub	# no comment, as PEM keeps none
check_eq "-y reads a PEM key" "$KEY" "$("$HWK" -y -f pem)"

# Input that ends at -y's passphrase prompt: says so, on a line of its own.
out=$("$HWK" -y -f theirs 2>&1 </dev/null)
check_eq "-y, input ended at the passphrase: exit 3" 3 $?
check_line "... says why" \
    'hwkeygen: Load key "theirs": no passphrase given (input ended)' "$out"

# ~/ typed at the file prompt is the home folder, as in a shell.
mkdir -p home/sub
out=$(HOME=$T_TMP/home "$HWK" --backend software -t ed25519 -N '' \
    <<<'~/sub/tilde' 2>&1)
check_eq "~/ at the file prompt: exit 0" 0 $?
check "... the key is in the home folder" test -s home/sub/tilde -a \
    -s home/sub/tilde.pub

done_testing
