# Software ECDSA and Ed25519 keys judged by ssh-keygen 9.2: the transcript
# of -t ecdsa/ed25519 byte for byte (random parts aside), -y, -l, -lv,
# passphrases both ways, --list, and bad -t and -b refused with no file.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh" ours theirs

# normalise TEXT: sets NORM to the transcript without what is random:
# fingerprints and the art's rows (in bash: a sed per transcript costs more).
normalise() {
	local l out=
	while IFS= read -r l; do
		[[ $l =~ SHA256:[A-Za-z0-9+/]{43} ]] &&
		    l=${l/"${BASH_REMATCH[0]}"/SHA256:FP}
		[[ $l =~ ^\|.{17}\|$ ]] && l='|ART|'
		out+=$l$'\n'
	done <<<"$1"
	NORM=${out%$'\n'}
}
# key_of TEXT: sets KEY to the type and base64 of the .pub line TEXT.
key_of() { local t b _; read -r t b _ <<<"$1"; KEY="$t $b"; }

# NAME:OPTIONS:LABEL; NAME is the key's file, LABEL a regex of the art's top.
# The encrypted keys take 2 KDF rounds: what is tested is that each side
# opens the other's file, not the default cost.
while IFS=: read -r name opts label <&3; do
	# shellcheck disable=SC2086 # opts are words
	theirs=$(cd theirs && ssh-keygen $opts -N '' -C c -f "$name" 2>&1)
	# shellcheck disable=SC2086
	ours=$(cd ours && "$HWK" --backend software $opts -N '' -C c \
	    -f "$name" 2>&1)
	normalise "$theirs"
	theirs_norm=$NORM
	normalise "$ours"
	check_eq "$name: the transcript of ssh-keygen $opts" "$theirs_norm" \
	    "$NORM"
	mapfile -t lines <<<"$ours"
	check_match "$name: the art's label" "^$label\$" "${lines[6]-}"
	for k in ours/$name theirs/$name; do
		check_eq "$k: -lv equals ssh-keygen -lv" \
		    "$(ssh-keygen -lv -f $k.pub)" "$("$HWK" -lv -f $k.pub)"
		check_eq "$k: -l on the private file equals ssh-keygen" \
		    "$(ssh-keygen -l -f $k)" "$("$HWK" -l -f $k)"
		check_eq "$k: -y equals ssh-keygen -y" "$(ssh-keygen -y -f $k)" \
		    "$("$HWK" -y -f $k)"
	done
	check_eq "$name: ssh-keygen -y derives our .pub" \
	    "$(<ours/$name.pub)" "$(ssh-keygen -y -f ours/$name)"

	# Passphrases: each opens the other's encrypted file.
	# shellcheck disable=SC2086
	"$HWK" -q --backend software $opts -N 'pw pw' -a 2 -C e \
	    -f ours/$name-enc
	# shellcheck disable=SC2086
	ssh-keygen -q $opts -N 'pw pw' -a 2 -C e -f theirs/$name-enc
	key_of "$(ssh-keygen -y -P 'pw pw' -f ours/$name-enc)"
	opened=$KEY
	key_of "$(<ours/$name-enc.pub)"
	check_eq "$name: ssh-keygen -y -P opens our encrypted key" "$KEY" \
	    "$opened"
	check_rc 255 "$name: ssh-keygen refuses the wrong passphrase" \
	    ssh-keygen -y -P wrong -f ours/$name-enc
	check_eq "$name: our -y opens ssh-keygen's encrypted key" \
	    "$(<theirs/$name-enc.pub)" \
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
mapfile -t lines <<<"$out"
line=${lines[1]-}
check_line "the file prompt offers ~/.ssh/id_ecdsa" \
    "Enter file in which to save the key ($HOME/.ssh/id_ecdsa): " \
    "${line%%Your ident*}"
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
check_eq "nothing was written" "" \
    "$(for f in bad bad.pub; do [ -e $f ] && echo $f; done)"

done_testing
