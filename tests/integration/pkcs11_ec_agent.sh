# ECDSA (P-256, P-384, P-521) and Ed25519 keys on a PKCS#11 token
# (SoftHSM2) served by hwkey-agent: stock ssh-add lists them, stock ssh
# logs in to an sshd of our own with each, and ssh-keygen -Y signatures
# made through the agent verify; a PIN asked once for the token.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
AGENT=$B/hwkey-agent
FAULT=$B/tests/pkcs11_fault.so
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
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
export SSH_AUTH_SOCK=$SOCK

pubs() { for k in $KEYS; do cat "$k.pub"; done; }
check_eq "ssh-add -L gives the four .pub lines" "$(pubs)" "$(ssh-add -L)"
check_eq "ssh-add -l their fingerprints and types" \
    "$(pubs | ssh-keygen -l -f -)" "$(ssh-add -l)"

# Stock ssh signs through the agent, with each key's own algorithm.
pubs >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
for k in $KEYS; do
	alg=$(cut -d' ' -f1 "$k.pub")
	check_eq "ssh -i $k logs in through the agent ($alg)" "hwk-login-ok" \
	    "$(ssh_cmd -o IdentitiesOnly=yes -o PubkeyAcceptedAlgorithms="$alg" \
	    -i "$k.pub" "$user@127.0.0.1" echo hwk-login-ok 2>&1)"
	check_match "the server accepted the $k key" \
	    "Accepted publickey for $user .* $(ssh-keygen -l -f "$k.pub" |
	    cut -d' ' -f2 | sed 's/[+/]/./g')" "$(cat "$T_TMP/sshd/sshd.log")"
done
check_eq "the token was logged in to once for all four keys" 1 \
    "$(grep -c '^C_Login' calls.log)"
check_eq "ECDSA signs with CKM_ECDSA on our hash, Ed25519 with CKM_EDDSA" \
    "0x1041 0x1057" "$(sed -n 's/^mechanism //p' calls.log | sort -u |
    tr '\n' ' ' | sed 's/ $//')"

# ssh-keygen -Y sign through the agent, verified by ssh-keygen -Y verify.
echo "a document" >doc
for k in $KEYS; do
	rm -f doc.sig
	ssh-keygen -q -Y sign -f "$k.pub" -n file doc >/dev/null 2>&1
	echo "signer $(cat "$k.pub")" >allowed
	check "ssh-keygen -Y sign with the $k key verifies" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s doc.sig <doc
	echo "another document" >doc2
	check_rc 255 "and not for another document ($k)" \
	    ssh-keygen -Y verify -f allowed -I signer -n file -s doc.sig <doc2
done

done_testing
