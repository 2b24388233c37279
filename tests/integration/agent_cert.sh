# hwkey-agent with keys that change while it runs, all with stock OpenSSH
# tools: a TPM key made in ~/.ssh after the start is found; its
# NAME-cert.pub (ssh-keygen -s) is offered with it and stock ssh logs in
# to an sshd that trusts only the CA; a renewed certificate replaces the
# old one, and files that are not a certificate of the key are ignored;
# ssh-add -d / -D remove the key and `hwkey-agent add` brings it back.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
AGENT=$B/hwkey-agent
user=$(id -un)
mkdir -p -m 700 "$HOME/.ssh" adir
K=$HOME/.ssh/id_ecdsa

start_swtpm || exit 1
SOCK=$T_TMP/adir/socket
"$AGENT" -d -a "$SOCK" >agent.out 2>>agent.log &
AGENT_PID=$!
at_exit "kill_wait $AGENT_PID"
for ((i = 0; i < 250; i++)); do
	[ -S "$SOCK" ] && break
	nap 0.02
done
export SSH_AUTH_SOCK=$SOCK
check_eq "an agent started on an empty ~/.ssh has no keys" \
    "The agent has no identities." "$(ssh-add -L 2>&1)"

# A key made while the agent runs is served at the next listing.
"$HWK" -q --backend tpm2 -t ecdsa -N '' -C "cert@agent" -f "$K" </dev/null ||
    exit 1
check_eq "the TPM key made in ~/.ssh after the start is listed" \
    "$(<"$K.pub")" "$(ssh-add -L 2>&1)"
check_match "and logged as added" "added $K \(tpm2\)" "$(<agent.log)"

ssh-keygen -q -t ed25519 -N '' -C ca -f ca || exit 1
ssh-keygen -q -s ca -I first -n "$user" -z 1 "$K.pub" 2>/dev/null
read -r ctype cblob _ <"$K-cert.pub"
list=$(ssh-add -L 2>&1)
check_eq "ssh-add -L: the key, then its certificate" \
    "$(<"$K.pub")"$'\n'"$ctype $cblob cert@agent" "$list"

# sshd trusts the CA only: no authorized_keys at all.
start_sshd "$T_TMP/sshd" none "TrustedUserCAKeys $T_TMP/ca.pub" || exit 1
login() {
	ssh_cmd -o IdentitiesOnly=yes -i "$K" "$user@127.0.0.1" \
	    echo hwk-login-ok 2>&1
}
check_eq "ssh logs in with the certificate, signed in the TPM" \
    "hwk-login-ok" "$(login)"
check_match "sshd took the certificate of serial 1" \
    "Accepted publickey for $user .*ECDSA-CERT.* ID first \(serial 1\)" \
    "$(<"$T_TMP/sshd/sshd.log")"

# Renewed in place (another serial and principals): listed at once.
ssh-keygen -q -s ca -I second -n "$user,other" -z 2 "$K.pub" 2>/dev/null
read -r _ cblob2 _ <"$K-cert.pub"
list=$(ssh-add -L 2>&1)
check_eq "the renewed certificate replaces the old one" \
    "$(<"$K.pub")"$'\n'"$ctype $cblob2 cert@agent" "$list"
check_match "ssh-keygen -L reads serial 2 from ssh-add -L" \
    "Serial: 2" "$(ssh-keygen -L -f <(sed -n 2p <<<"$list"))"

# Files that are not a certificate of this key: ignored and logged.
ssh-keygen -q -t ecdsa -N '' -C other -f other || exit 1
ssh-keygen -q -s ca -I other -n "$user" -z 3 other.pub 2>/dev/null
cp other-cert.pub "$K-cert.pub"
check_eq "another key's certificate is not offered" "$(<"$K.pub")" \
    "$(ssh-add -L 2>&1)"
echo "not a certificate" >"$K-cert.pub"
check_eq "nor a file that is no certificate" "$(<"$K.pub")" \
    "$(ssh-add -L 2>&1)"
log=$(<agent.log)
check_match "the other key's certificate was logged" \
    "id_ecdsa-cert.pub: ignored: it certifies another key" "$log"
check_match "and so was the file that is no certificate" \
    "id_ecdsa-cert.pub: ignored: not a certificate line" "$log"
rm "$K-cert.pub"
check_rc 255 "without the certificate, the CA-only sshd refuses" login

# ssh-add -d and -D remove ours; a change in ~/.ssh does not bring them back.
# ssh-add -d STUB removes the key, then its certificate, which went with it.
ssh-keygen -q -s ca -I fourth -n "$user" -z 4 "$K.pub" 2>/dev/null
out=$(ssh-add -d "$K" 2>&1)
check_eq "ssh-add -d removes the key and its certificate" \
    "Identity removed: $K ECDSA (cert@agent)"$'\n'"Identity removed: $K-cert.pub ECDSA-CERT (cert@agent)" \
    "$out"
out=$("$AGENT" add "$K" 2>&1)
check_eq "hwkey-agent add brings it back" "Stub added: $K" "$out"
check_eq "with its certificate" 2 "$(ssh-add -L | wc -l)"
rm "$K-cert.pub"
check "ssh-add -d STUB.pub removes the key" ssh-add -d "$K.pub"
touch "$HOME/.ssh/known_hosts"
check_eq "and it stays removed" "The agent has no identities." \
    "$(ssh-add -L 2>&1)"
check "hwkey-agent add brings it back again" "$AGENT" add "$K"
check_eq "listed again" "$(<"$K.pub")" "$(ssh-add -L 2>&1)"
check "ssh-add -D removes every key" ssh-add -D
check_eq "none left" "The agent has no identities." "$(ssh-add -L 2>&1)"

check_no_match "no signature failed" "signature failed" "$(<agent.log)"
kill_wait "$AGENT_PID"
done_testing
