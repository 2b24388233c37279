# --backend auto with -t ed25519 beside a TPM (swtpm): no TPM makes
# Ed25519, so auto passes it over and says why, --require-hardware fails
# with that reason and writes nothing, and the TPM is left without a handle.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
softhsm_setup || exit 1		# an empty token folder: no token
p11kit_register softhsm2 "$SOFTHSM_MODULE"
start_swtpm || exit 1

out=$("$HWK" -t ed25519 -N '' -C ed -f "$HOME/.ssh/id_ed25519" 2>&1)
check_eq "-t ed25519 beside a TPM: exit 0" 0 $?
check_match "the line passes the TPM over, saying why" \
    '^no token.*, tpm2: cannot make ed25519 keys: using software$' \
    "${out%%$'\n'*}"
check_line "then ssh-keygen's words for the type" \
    "Generating public/private ed25519 key pair." "$out"
check_match "the key is an OpenSSH Ed25519 key" \
    '^256 SHA256:.* ed \(ED25519\)$' \
    "$(ssh-keygen -l -f "$HOME/.ssh/id_ed25519")"

out=$("$HWK" --require-hardware -t ed25519 -N '' -f hw 2>&1)
check_eq "--require-hardware -t ed25519: exit 4" 4 $?
check_match "--require-hardware -t ed25519: says why" \
    '^hwkeygen: no hardware backend is usable: no token.*, tpm2: cannot make ed25519 keys$' \
    "$out"
check_eq "--require-hardware -t ed25519: nothing written" "" \
    "$(for f in hw hw.pub; do [ -e $f ] && echo $f; done)"
check_no_match "--require-hardware -t ed25519: no prompt" 'passphrase' "$out"

# RSA still goes to the TPM, as before.
out=$("$HWK" -N '' -C tpm -f "$HOME/.ssh/id_tpm" 2>&1)
check_match "-t rsa (the default) still uses the TPM" ': using tpm2$' \
    "${out%%$'\n'*}"
check_eq "no transient handle is left in the TPM" "" "$(transient_handles)"

# The token folder holds no token: SoftHSM2 shows one slot with a token
# that is not initialised; naming the backend says how to initialise it.
out=$("$HWK" --backend pkcs11 -t ecdsa -N '' -f uninit 2>&1)
check_eq "--backend pkcs11, the token not initialised: exit 4" 4 $?
check_match "... says it is not initialised" \
    "token in slot [0-9]+ of libsofthsm2.so is not initialised" "$out"
check_line "... and how to initialise it" \
    "hwkeygen: Initialise the token first: softhsm2-util --init-token --free --label NAME (it asks for the SO PIN and the user PIN)." \
    "$out"

done_testing
