# -l, -lv, -y and --list compared with ssh-keygen on many keys and files.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

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

# Fresh keys of two sizes, ours, and ssh-keygen's files of three.  RSA
# primes take long to find, so ssh-keygen writes anew (-c) keys already
# made rather than make more: its fixtures (the one of 3072 bits
# decrypted, -p).  The files it writes are its own all the same.  Our
# files are written the same way at every size, and a fresh RSA-4096
# key costs one to four seconds of prime search: at 4096 bits only
# ssh-keygen's file is read.
for bits in 2048 3072 4096; do
	ks=theirs$bits
	case $bits in
	2048) cp "$FIXTURES/rsa2048.key" theirs$bits ;;
	3072) cp "$FIXTURES/rsa3072-enc.key" theirs$bits && chmod 600 theirs$bits &&
	    ssh-keygen -q -p -P 'fixture passphrase' -N '' -f theirs$bits \
	    >/dev/null ;;
	4096) cp "$FIXTURES/rsa4096.key" theirs$bits ;;
	esac
	# 3072 bits: the default size, made without -b and without -q, its
	# transcript checked below.
	if [ $bits -eq 3072 ]; then
		made=$("$HWK" -N '' -C "ours $bits" -f ours$bits)
		ks="ours$bits $ks"
	elif [ $bits -lt 4096 ]; then
		"$HWK" -q -b $bits -N '' -C "ours $bits" -f ours$bits
		ks="ours$bits $ks"
	fi
	chmod 600 theirs$bits && ssh-keygen -q -c -C "theirs $bits" -P '' \
	    -f theirs$bits >/dev/null
	for k in $ks; do
		check_eq "$k: -lv equals ssh-keygen" "$(ssh-keygen -lv -f $k.pub)" \
		    "$("$HWK" -lv -f $k.pub)"
		check_eq "$k: -l on the private file equals ssh-keygen" \
		    "$(ssh-keygen -l -f $k)" "$("$HWK" -l -f $k)"
		check_eq "$k: -y equals ssh-keygen -y" "$(ssh-keygen -y -f $k)" \
		    "$("$HWK" -y -f $k)"
	done
done
# The key made at the default size: 3072 bits, and the generation
# transcript shows the fingerprint and art of the key written.
l=$(ssh-keygen -l -f ours3072.pub)
check_match "3072 bits is the default" '^3072 ' "$l"
read -r _ fp _ <<<"$l"
check_line "the transcript prints the fingerprint line" "$fp ours 3072" \
    "$made"
# last11 TEXT: sets LAST to its last 11 lines.
last11() {
	local -a lines
	mapfile -t lines <<<"$1"
	[ ${#lines[@]} -gt 11 ] && lines=("${lines[@]: -11}")
	printf -v LAST '%s\n' "${lines[@]}"
	LAST=${LAST%$'\n'}
}
last11 "$(ssh-keygen -lv -f ours3072.pub)"
art=$LAST
last11 "$made"
check_eq "the transcript prints ssh-keygen's randomart" "$art" "$LAST"
# Without its .pub the private file still gives the fingerprint.
cp ours2048 lonely
check_eq "-l on a private file without .pub" \
    "$(ssh-keygen -l -f lonely)" "$("$HWK" -l -f lonely)"
# (The key's type is not the subject: Ed25519 is made in a millisecond.)
"$HWK" -q -t ed25519 -N 'x' -a 1 -C 'hidden' -f enc && rm enc.pub
check_eq "-l on an encrypted file without .pub: no comment, as ssh-keygen" \
    "$(ssh-keygen -l -f enc)" "$("$HWK" -l -f enc)"

# Damaged files: a clear message and exit 1, never a crash.
head=
read -rN 300 head <ours2048
printf '%s' "$head" >trunc
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

# --list: every pair in ~/.ssh, with backend and protection.  One RSA pair
# (ours, made above) and one of ssh-keygen's without its .pub (a fixture);
# the passphrase and the mismatch are Ed25519, whose type is not the point.
S=$HOME/.ssh
cp ours2048 "$S/id_rsa" && cp ours2048.pub "$S/id_rsa.pub"
"$HWK" -q -t ed25519 -N 'pw' -a 2 -C 'locked@list' -f "$S/id_locked"
ssh-keygen -q -t ed25519 -N '' -C 'ed@list' -f "$S/id_ed25519"
cp "$FIXTURES/rsa2048.key" "$S/id_nopub" && chmod 600 "$S/id_nopub"
cp "$S/id_ed25519.pub" "$S/id_mismatch.pub"
cp "$S/id_locked" "$S/id_mismatch"
echo "github.com ssh-ed25519 AAAA" >"$S/known_hosts"
echo "Host *" >"$S/config"
list=$("$HWK" --list)
# row[NAME]: the line of ~/.ssh/NAME; n_rows: how many lines name a file.
declare -A row
n_rows=0
while IFS= read -r l; do
	[[ $l == "$S/"* ]] || continue
	n_rows=$((n_rows + 1))
	l_name=${l#"$S/"}
	row[${l_name%% *}]=$l
done <<<"$list"
read -r _ fp _ < <(ssh-keygen -l -f "$S/id_rsa.pub")
check_match "--list: header" '^PATH +TYPE +BITS +FINGERPRINT +BACKEND +PROTECTION +COMMENT$' "$list"
check_match "--list: plain key" "^$S/id_rsa +RSA +2048 +SHA256:.* +software +none +ours 2048\$" "${row[id_rsa]-}"
check_match "--list: fingerprint right" "${fp//[+\/]/.}" "${row[id_rsa]-}"
check_match "--list: passphrase key" "^$S/id_locked +ED25519 +256 .* software +passphrase +locked@list\$" "${row[id_locked]-}"
check_match "--list: ssh-keygen's ed25519 key" "^$S/id_ed25519 +ED25519 +256 .* software +none +ed@list\$" "${row[id_ed25519]-}"
check_match "--list: private key without .pub" "^$S/id_nopub +RSA +2048 +SHA256:" "${row[id_nopub]-}"
check_match "--list: warns of a .pub that does not match" "warning: $S/id_mismatch.pub does not match" "$list"
check_no_match "--list: skips known_hosts and config" "known_hosts|/config " "$list"
check_eq "--list: 5 pairs" 5 "$n_rows"
rm -rf "$S"
check_match "--list without ~/.ssh" "does not exist" "$("$HWK" --list)"

done_testing
