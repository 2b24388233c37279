# Software keys judged by OpenSSH's own ssh-keygen: -y, -l, -lv, passphrases.
. "$(dirname "$0")/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"

# A plain key: ssh-keygen reads our private file and agrees with our .pub.
check "generate RSA-2048 without passphrase" \
    "$HWK" -q -b 2048 -N '' -C 'me@example.com' -f k1
check_eq "private key is 0600" 600 "$(mode_of k1)"
check_eq "public key is 0644" 644 "$(mode_of k1.pub)"
check_eq "ssh-keygen -y derives our .pub" \
    "$(cut -d' ' -f1,2 k1.pub)" "$(ssh-keygen -y -f k1 | cut -d' ' -f1,2)"
check_eq "comment in .pub" "me@example.com" "$(cut -d' ' -f3- k1.pub)"
check_eq "-l matches ssh-keygen -l" "$(ssh-keygen -l -f k1.pub)" \
    "$("$HWK" -l -f k1.pub)"
check_eq "-lv matches ssh-keygen -lv byte for byte" \
    "$(ssh-keygen -lv -f k1.pub)" "$("$HWK" -lv -f k1.pub)"
check_eq "-l on the private file matches ssh-keygen" \
    "$(ssh-keygen -l -f k1)" "$("$HWK" -l -f k1)"
check_eq "-y prints the same line as ssh-keygen -y" \
    "$(ssh-keygen -y -f k1)" "$("$HWK" -y -f k1)"
check_match "3072 bits is the default" '^3072 ' \
    "$("$HWK" -q -N '' -f k3072 && ssh-keygen -l -f k3072)"

# The generation transcript shows the fingerprint and art of the key written.
out=$("$HWK" -N '' -b 2048 -C art@test -f k2)
fp=$(ssh-keygen -l -f k2.pub | cut -d' ' -f2)
check_line "prints the fingerprint line" "$fp art@test" "$out"
check_eq "prints ssh-keygen's randomart" \
    "$(ssh-keygen -lv -f k2.pub | tail -n 11)" \
    "$(printf '%s\n' "$out" | tail -n 11)"

# Passphrases: ssh-keygen opens the file with the right one only.
check "generate with a passphrase" \
    "$HWK" -q -b 2048 -N 'correct horse' -f kp
check "ssh-keygen -y -P opens it" ssh-keygen -y -P 'correct horse' -f kp
check_rc 255 "ssh-keygen refuses the wrong passphrase" \
    ssh-keygen -y -P 'wrong' -f kp
check_rc 255 "ssh-keygen refuses an empty passphrase" \
    ssh-keygen -y -P '' -f kp
check_eq "our -y opens it too" "$(cut -d' ' -f1,2 kp.pub)" \
    "$("$HWK" -y -P 'correct horse' -f kp | cut -d' ' -f1,2)"
check_rc 5 "our -y refuses the wrong passphrase (exit 5)" \
    "$HWK" -y -P 'wrong' -f kp

# Keys that ssh-keygen wrote, read by us.
ssh-keygen -q -t rsa -b 2048 -N 'pw pw' -a 5 -C theirs -f theirs
check_eq "-y reads ssh-keygen's encrypted key" "$(<theirs.pub)" \
    "$("$HWK" -y -P 'pw pw' -f theirs)"
ssh-keygen -q -t rsa -b 2048 -N '' -m PEM -C '' -f pem
check_eq "-y reads a PEM key" "$(cut -d' ' -f1,2 pem.pub)" \
    "$("$HWK" -y -f pem)"

done_testing
