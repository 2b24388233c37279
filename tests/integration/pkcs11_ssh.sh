# Stock ssh logs in with keys on a token (PKCS11Provider, the PIN through
# SSH_ASKPASS), each key on its own.
# dirname without its process (~10 ms, and the script starts twice).
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"
. "$TOP/tests/lib/sshd.sh"

pkcs11_setup || exit 1
gen -C me@example.com -f k1 || exit 1
stub_id -v id1 k1

# --- Stock ssh logs in with the key, through the module and an askpass.
cat >askpass <<EOF
#!/bin/sh
echo "\$*" >>"$T_TMP/askpass.log"
echo $PIN
EOF
chmod 700 askpass
cp k1.pub authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
# ssh_p11 PUB CMD...: ssh offers only the token's key that PUB names.
# BatchMode would stop ssh from asking for the PIN: no ssh_cmd here.  The
# key exchange is no part of the test: curve25519 rather than the default
# sntrup761x25519, whose lattice maths cost ssh ~75 ms of CPU a login.
user=$(id -un)
ssh_p11() {
	local pub=$1
	shift
	SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	    ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 \
	    -o KexAlgorithms=curve25519-sha256 \
	    -o LogLevel=ERROR -o IdentityAgent=none -o IdentitiesOnly=yes \
	    -o IdentityFile="$pub" -o PasswordAuthentication=no \
	    -o KbdInteractiveAuthentication=no -o PKCS11Provider="$M" \
	    "$user@127.0.0.1" "$@" </dev/null
}
check_eq "ssh logs in with PKCS11Provider and the key" "hello" \
    "$(ssh_p11 "$T_TMP/k1.pub" echo hello 2>&1)"
check_match "ssh asked for the PIN through SSH_ASKPASS" \
    "Enter PIN for 'hwk-test'" "$(<askpass.log)"

# --- A second key: another id, and it works on its own.  The first is
# RSA, hwkeygen's default; this one is ECDSA P-256, which SoftHSM2 makes
# in a millisecond (RSA-2048: 0.3 s), and ssh signs with it through the
# module as well.
check "a second key on the same token" gen -t ecdsa -C second@example.com \
    -f k2
stub_id -v id2 k2
check_match "the two keys have different ids" '.' \
    "$([ -n "$id1" ] && [ -n "$id2" ] && [ "$id1" != "$id2" ] && echo y)"
check_line "ssh-keygen -D lists the second key too" "$(<k2.pub)" \
    "$(ssh-keygen -D "$M" 2>/dev/null)"
cp k2.pub authorized_keys
check_eq "ssh logs in with the second key alone" "hello" \
    "$(ssh_p11 "$T_TMP/k2.pub" echo hello 2>&1)"
check_match "the first key no longer gets in" 'Permission denied' \
    "$(ssh_p11 "$T_TMP/k1.pub" echo hello 2>&1)"

done_testing
