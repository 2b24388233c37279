# -l, -lv, -y and --list compared with ssh-keygen on many keys and files.
. "$(dirname "$0")/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"

# Keys whose walks pile up (every randomart symbol), in one multi-key file.
check_eq "-lv on a file of 24 keys equals ssh-keygen -lv" \
    "$(ssh-keygen -lv -f "$FIXTURES/randomart.pub")" \
    "$("$HWK" -lv -f "$FIXTURES/randomart.pub")"
for k in ed25519 ecdsa384 sk-ed25519; do
	check_eq "-lv on a $k key equals ssh-keygen" \
	    "$(ssh-keygen -lv -f "$FIXTURES/$k.key.pub")" \
	    "$("$HWK" -lv -f "$FIXTURES/$k.key.pub")"
done

# Fresh keys of several sizes, ours and ssh-keygen's.  At 4096 bits, whose
# primes take seconds to find, ssh-keygen writes our new key anew (-c)
# rather than make one: the file it writes is its own all the same.
for bits in 2048 3072 4096; do
	"$HWK" -q -b $bits -N '' -C "ours $bits" -f ours$bits
	if [ $bits -eq 4096 ]; then
		cp ours$bits theirs$bits && ssh-keygen -q -c -C "theirs $bits" \
		    -P '' -f theirs$bits >/dev/null
	else
		ssh-keygen -q -t rsa -b $bits -N '' -C "theirs $bits" \
		    -f theirs$bits
	fi
	for k in ours$bits theirs$bits; do
		check_eq "$k: -lv equals ssh-keygen" "$(ssh-keygen -lv -f $k.pub)" \
		    "$("$HWK" -lv -f $k.pub)"
		check_eq "$k: -l on the private file equals ssh-keygen" \
		    "$(ssh-keygen -l -f $k)" "$("$HWK" -l -f $k)"
		check_eq "$k: -y equals ssh-keygen -y" "$(ssh-keygen -y -f $k)" \
		    "$("$HWK" -y -f $k)"
	done
done
# Without its .pub the private file still gives the fingerprint.
cp ours2048 lonely
check_eq "-l on a private file without .pub" \
    "$(ssh-keygen -l -f lonely)" "$("$HWK" -l -f lonely)"
"$HWK" -q -b 2048 -N 'x' -a 1 -C 'hidden' -f enc && rm enc.pub
check_eq "-l on an encrypted file without .pub: no comment, as ssh-keygen" \
    "$(ssh-keygen -l -f enc)" "$("$HWK" -l -f enc)"

# Damaged files: a clear message and exit 1, never a crash.
head -c 300 ours2048 >trunc
chmod 600 trunc
out=$("$HWK" -y -f trunc 2>&1)
check_eq "-y on a truncated key: exit 1" 1 $?
check_match "-y on a truncated key: says so" 'Load key "trunc": (invalid format|data is truncated)' "$out"
out=$("$HWK" -l -f trunc 2>&1)
check_eq "-l on a truncated key: exit 1" 1 $?
check_match "-l on a truncated key: says so" "damaged or truncated" "$out"
head -c 100 /dev/urandom >junk
out=$("$HWK" -l -f junk 2>&1)
check_eq "-l on junk: exit 1" 1 $?
check_match "-l on junk: says so" "is not a key file" "$out"
check_rc 1 "-y on a missing file: exit 1" "$HWK" -y -f nonexistent

# --list: every pair in ~/.ssh, with backend and protection.
S=$HOME/.ssh
"$HWK" -q -b 2048 -N '' -C 'plain@list' -f "$S/id_rsa"
"$HWK" -q -b 2048 -N 'pw' -a 2 -C 'locked@list' -f "$S/id_locked"
ssh-keygen -q -t ed25519 -N '' -C 'ed@list' -f "$S/id_ed25519"
ssh-keygen -q -t rsa -b 2048 -N '' -C 'nopub@list' -f "$S/id_nopub"
rm "$S/id_nopub.pub"
cp "$S/id_rsa.pub" "$S/id_mismatch.pub"
cp "$S/id_locked" "$S/id_mismatch"
echo "github.com ssh-ed25519 AAAA" >"$S/known_hosts"
echo "Host *" >"$S/config"
list=$("$HWK" --list)
row() { printf '%s\n' "$list" | grep -F "$S/$1 "; }
fp() { ssh-keygen -l -f "$1" | cut -d' ' -f2; }
check_match "--list: header" '^PATH +TYPE +BITS +FINGERPRINT +BACKEND +PROTECTION +COMMENT$' "$list"
check_match "--list: plain key" "^$S/id_rsa +RSA +2048 +SHA256:.* +software +none +plain@list\$" "$(row id_rsa)"
check_match "--list: fingerprint right" "$(fp "$S/id_rsa.pub" | sed 's/[+/]/./g')" "$(row id_rsa)"
check_match "--list: passphrase key" "^$S/id_locked +RSA +2048 .* software +passphrase +locked@list\$" "$(row id_locked)"
check_match "--list: ssh-keygen's ed25519 key" "^$S/id_ed25519 +ED25519 +256 .* software +none +ed@list\$" "$(row id_ed25519)"
check_match "--list: private key without .pub" "^$S/id_nopub +RSA +2048 +SHA256:" "$(row id_nopub)"
check_match "--list: warns of a .pub that does not match" "warning: $S/id_mismatch.pub does not match" "$list"
check_no_match "--list: skips known_hosts and config" "known_hosts|/config " "$list"
check_eq "--list: 5 pairs" 5 "$(printf '%s\n' "$list" | grep -c "^$S/")"
rm -rf "$S"
check_match "--list without ~/.ssh" "does not exist" "$("$HWK" --list)"

done_testing
