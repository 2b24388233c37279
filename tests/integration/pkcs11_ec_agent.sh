# ECDSA (P-256, P-384, P-521) and Ed25519 keys on a PKCS#11 token
# (SoftHSM2) served by hwkey-agent: stock ssh-add lists them, stock ssh
# logs in to an sshd of our own with each, and ssh-keygen -Y signatures
# made through the agent verify; a PIN asked once for the token.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
AGENT=$B/hwkey-agent
user=$(id -un)
PIN=135790


softhsm_setup || exit 1
softhsm_token agent-ec "$PIN" 24681357 || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
# Through the forwarding module, which logs the calls the agent makes.
export HWK_FAKE_REAL=$SOFTHSM_MODULE HWK_FAKE_LOG=$T_TMP/calls.log
KEYS="p256 p384 p521 ed25519"
for k in $KEYS; do
	case $k in
	ed25519) opt=(-t ed25519) ;;
	*) opt=(-t ecdsa -b "${k#p}") ;;
	esac
	"$HWK" -q --backend pkcs11 --module "$FAULT" --pin-source file:pin \
	    "${opt[@]}" -C "$k@agent" -f "$k" || exit 1
done

mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
: >calls.log
# -P: the stubs name the fault module, outside /usr/lib.
"$AGENT" -d -a "$SOCK" -P "$B/tests/*" --pin-source file:pin $KEYS \
    >agent.out 2>>agent.log &
AGENT_PID=$!
at_exit "kill_wait $AGENT_PID"
for ((i = 0; i < 250; i++)); do [ -S "$SOCK" ] && break; nap 0.02; done
export SSH_AUTH_SOCK=$SOCK

# The .pub lines, and ssh-keygen -l of them all (one run, one line a key).
pubs=
for k in $KEYS; do pubs+=$(<"$k.pub")$'\n'; done
pubs=${pubs%$'\n'}
fps=$(ssh-keygen -l -f - <<<"$pubs")
check_eq "ssh-add -L gives the four .pub lines" "$pubs" "$(ssh-add -L)"
check_eq "ssh-add -l their fingerprints and types" "$fps" "$(ssh-add -l)"

# Stock ssh signs through the agent, with each key's own algorithm.  The
# key exchange is no part of the test: curve25519 rather than the default
# sntrup761x25519, whose lattice maths cost ssh ~75 ms of CPU a login.
printf '%s\n' "$pubs" >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
mapfile -t fp <<<"$fps"
i=0
for k in $KEYS; do
	read -r alg _ <"$k.pub"
	check_eq "ssh -i $k logs in through the agent ($alg)" "hwk-login-ok" \
	    "$(ssh_cmd -o KexAlgorithms=curve25519-sha256 -o IdentitiesOnly=yes \
	    -o PubkeyAcceptedAlgorithms="$alg" -i "$k.pub" "$user@127.0.0.1" \
	    echo hwk-login-ok 2>&1)"
	# The key's SHA256 fingerprint, its + and / as . for the regex.
	read -r _ sha _ <<<"${fp[i++]}"
	check_match "the server accepted the $k key" \
	    "Accepted publickey for $user .* ${sha//[+\/]/.}" \
	    "$(<"$T_TMP/sshd/sshd.log")"
done
check_eq "the token was logged in to once for all four keys" 1 \
    "$(count_lines '^C_Login' calls.log)"
# The mechanisms C_SignInit was given, each once, sorted (sort -u).
declare -A seen=()
mechs=()
while read -r w v; do
	[ "$w" = mechanism ] && [ -z "${seen[$v]:-}" ] && seen[$v]=1 && mechs+=("$v")
done <calls.log
for ((i = 1; i < ${#mechs[@]}; i++)); do
	for ((j = i; j > 0; j--)); do
		[[ ${mechs[j - 1]} > ${mechs[j]} ]] || break
		v=${mechs[j]} mechs[j]=${mechs[j - 1]} mechs[j - 1]=$v
	done
done
check_eq "ECDSA signs with CKM_ECDSA on our hash, Ed25519 with CKM_EDDSA" \
    "0x1041 0x1057" "${mechs[*]}"

# ssh-keygen -Y sign through the agent, verified by ssh-keygen -Y verify;
# a document of each key's own, so that no signature is left from another.
echo "another document" >doc2
for k in $KEYS; do
	echo "a document" >"doc-$k"
	ssh-keygen -q -Y sign -f "$k.pub" -n file "doc-$k" >/dev/null 2>&1
	printf 'signer %s\n' "$(<"$k.pub")" >allowed
	check "ssh-keygen -Y sign with the $k key verifies" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s "doc-$k.sig" \
	    <"doc-$k"
	check_rc 255 "and not for another document ($k)" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s "doc-$k.sig" \
	    <doc2
done

done_testing
