# Stock ssh logs in to an sshd of our own on 127.0.0.1 with keys we made.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
user=$(id -un)

# RSA for the RSA signature algorithms; the passphrase key is Ed25519 with
# 2 KDF rounds, as ssh opens the file whatever its type and cost.
"$HWK" -q -b 2048 -N '' -C plain -f plain || exit 1
"$HWK" -q -t ed25519 -a 2 -N 'open sesame' -C locked -f locked || exit 1
printf '%s\n' "$(<plain.pub)" "$(<locked.pub)" >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || { not_ok "sshd starts"; done_testing; }

check_eq "log in with a new key (rsa-sha2-512)" "hwk-login-ok" \
    "$(ssh_cmd -o IdentitiesOnly=yes -i plain "$user@127.0.0.1" \
    echo hwk-login-ok 2>&1)"
check_eq "log in with rsa-sha2-256" "hwk-login-ok" \
    "$(ssh_cmd -o IdentitiesOnly=yes -o PubkeyAcceptedAlgorithms=rsa-sha2-256 \
    -i plain "$user@127.0.0.1" echo hwk-login-ok 2>&1)"

# A passphrase key, the passphrase given through SSH_ASKPASS.
printf '#!/bin/sh\necho "open sesame"\n' >askpass
chmod 700 askpass
check_eq "log in with a passphrase-protected key" "hwk-login-ok" \
    "$(SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    setsid ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o LogLevel=ERROR \
    -o IdentitiesOnly=yes -i locked "$user@127.0.0.1" echo hwk-login-ok \
    </dev/null 2>&1)"
check_match "the server saw our key" "Accepted publickey for $user" \
    "$(<"$T_TMP/sshd/sshd.log")"

# A key the server does not know is refused: the test can fail.
"$HWK" -q -t ed25519 -N '' -f stranger || exit 1
check_rc 255 "an unknown key is refused" \
    ssh_cmd -o IdentitiesOnly=yes -i stranger "$user@127.0.0.1" true

done_testing
