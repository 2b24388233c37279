# Software ECDSA and Ed25519 keys judged by ssh-keygen 9.2: the transcript
# of -t ecdsa/ed25519 byte for byte (random parts aside), -y, -l, -lv,
# passphrases both ways, --list, and bad -t and -b refused with no file.
. "$(dirname "$0")/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh" ours theirs

# The transcript without what is random: fingerprints and the art's rows.
normalise() {
	sed -e 's/SHA256:[A-Za-z0-9+/]\{43\}/SHA256:FP/' \
	    -e 's/^|.\{17\}|$/|ART|/'
}

# NAME:OPTIONS:LABEL; NAME is the key's file, LABEL a regex of the art's top.
while IFS=: read -r name opts label <&3; do
	# shellcheck disable=SC2086 # opts are words
	theirs=$(cd theirs && ssh-keygen $opts -N '' -C c -f "$name" 2>&1)
	# shellcheck disable=SC2086
	ours=$(cd ours && "$HWK" --backend software $opts -N '' -C c \
	    -f "$name" 2>&1)
	check_eq "$name: the transcript of ssh-keygen $opts" \
	    "$(printf '%s\n' "$theirs" | normalise)" \
	    "$(printf '%s\n' "$ours" | normalise)"
	check_match "$name: the art's label" "^$label\$" \
	    "$(printf '%s\n' "$ours" | sed -n 7p)"
	for k in ours/$name theirs/$name; do
		check_eq "$k: -lv equals ssh-keygen -lv" \
		    "$(ssh-keygen -lv -f $k.pub)" "$("$HWK" -lv -f $k.pub)"
		check_eq "$k: -l on the private file equals ssh-keygen" \
		    "$(ssh-keygen -l -f $k)" "$("$HWK" -l -f $k)"
		check_eq "$k: -y equals ssh-keygen -y" "$(ssh-keygen -y -f $k)" \
		    "$("$HWK" -y -f $k)"
	done
	check_eq "$name: ssh-keygen -y derives our .pub" \
	    "$(cat ours/$name.pub)" "$(ssh-keygen -y -f ours/$name)"

	# Passphrases: each opens the other's encrypted file.
	# shellcheck disable=SC2086
	"$HWK" -q --backend software $opts -N 'pw pw' -C e -f ours/$name-enc
	# shellcheck disable=SC2086
	ssh-keygen -q $opts -N 'pw pw' -a 4 -C e -f theirs/$name-enc
	check_eq "$name: ssh-keygen -y -P opens our encrypted key" \
	    "$(cut -d' ' -f1,2 ours/$name-enc.pub)" \
	    "$(ssh-keygen -y -P 'pw pw' -f ours/$name-enc | cut -d' ' -f1,2)"
	check_rc 255 "$name: ssh-keygen refuses the wrong passphrase" \
	    ssh-keygen -y -P wrong -f ours/$name-enc
	check_eq "$name: our -y opens ssh-keygen's encrypted key" \
	    "$(cat theirs/$name-enc.pub)" \
	    "$("$HWK" -y -P 'pw pw' -f theirs/$name-enc)"
	check_rc 5 "$name: our -y refuses the wrong passphrase" \
	    "$HWK" -y -P wrong -f theirs/$name-enc
done 3<<'EOF'
ecdsa256:-t ecdsa:\+---\[ECDSA 256\]---\+
ecdsa384:-t ecdsa -b 384:\+---\[ECDSA 384\]---\+
ecdsa521:-t ecdsa -b 521:\+---\[ECDSA 521\]---\+
ed25519:-t ed25519:\+--\[ED25519 256\]--\+
EOF

# Ed25519 ignores -b, as ssh-keygen does.
check "-t ed25519 -b 4096 makes an Ed25519 key" \
    "$HWK" -q --backend software -t ed25519 -b 4096 -N '' -f ed-b
check_match "the key is Ed25519 256" '^256 SHA256:.* \(ED25519\)$' \
    "$(ssh-keygen -l -f ed-b)"

# The default file follows the type, as ssh-keygen's.
out=$(printf '\n' | "$HWK" --backend software -t ecdsa -N '' 2>&1)
check_line "the file prompt offers ~/.ssh/id_ecdsa" \
    "Enter file in which to save the key ($HOME/.ssh/id_ecdsa): " \
    "$(printf '%s\n' "$out" | sed -n 2p | sed 's/Your ident.*//')"
check_match "~/.ssh/id_ecdsa is an ECDSA key" ' \(ECDSA\)$' \
    "$(ssh-keygen -l -f "$HOME/.ssh/id_ecdsa")"
"$HWK" -q --backend software -t ed25519 -N '' -C listed \
    -f "$HOME/.ssh/id_ed25519"
list=$("$HWK" --list)
check_match "--list shows the ECDSA key" \
    "^$HOME/.ssh/id_ecdsa +ECDSA +256 +SHA256:" "$list"
check_match "--list shows the Ed25519 key" \
    "^$HOME/.ssh/id_ed25519 +ED25519 +256 +SHA256:.* +listed\$" "$list"

# Sizes and types ssh-keygen has not: exit 2 before any prompt, no file.
for b in 255 300 512 1024 2048; do
	out=$("$HWK" --backend software -t ecdsa -b $b -N '' -f bad </dev/null \
	    2>&1)
	check_eq "-t ecdsa -b $b: exit 2" 2 $?
	check_line "-t ecdsa -b $b: ssh-keygen's words" "hwkeygen: Invalid \
ECDSA key length: valid lengths are 256, 384 or 521 bits" "$out"
done
out=$("$HWK" -t dsa -N '' -f bad </dev/null 2>&1)
check_eq "-t dsa: exit 2" 2 $?
check_line "-t dsa: says what is made" "hwkeygen: key type 'dsa' is not \
supported: hwkeygen makes rsa, ecdsa and ed25519 keys" "$out"
check_eq "nothing was written" "" "$(ls bad bad.pub 2>/dev/null)"

done_testing
