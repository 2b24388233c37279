# Files other tools wrote read as OpenSSH reads them: PuTTY's OpenSSH keys
# (padded past one block), an ECDSA key in a TPM stub (tpm2-openssl); and
# every error of -y and -l on a bad file says its reason once.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"

# --- PuTTY's keys in OpenSSH's format ----------------------------------------
if ! command -v puttygen >/dev/null; then
	echo "# puttygen is missing (apt-get install putty-tools)"
	exit 1
fi
printf 'putty pass\n' >pw
# On every start PuTTY mixes the output of ps and ls into what it reads from
# /dev/urandom; on a busy machine they cost more than the conversion.  Here
# they print nothing.
mkdir quiet && ln -s /bin/true quiet/ps && ln -s /bin/true quiet/ls
puttygen() { PATH=$T_TMP/quiet:$PATH command puttygen "$@"; }
# PuTTY reads an RSA key (ssh-keygen's fixture: PuTTY's own keygen costs
# more than all the rest) and writes it anew, in its own way.
P=$FIXTURES/rsa2048.key
# Comments of every length mod 16 give every length of padding: PuTTY pads
# to 16 bytes even when unencrypted, where OpenSSH's block is 8.
c=
for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	c+=c
	puttygen "$P" -C "$c" -O private-openssh-new -o "p$n" \
	    --new-passphrase /dev/null || exit 1
done
chmod 600 p{1..16}
for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
	check_eq "puttygen key, comment of $n: -y as ssh-keygen -y" \
	    "$(ssh-keygen -y -f "p$n" 2>&1)" "$("$HWK" -y -f "p$n" 2>&1)"
done
for n in 1 2 9; do
	check_eq "puttygen key, comment of $n: -l as ssh-keygen -l" \
	    "$(ssh-keygen -l -f "p$n" 2>&1)" "$("$HWK" -l -f "p$n" 2>&1)"
done
puttygen "$P" -C e -O private-openssh-new -o pe --new-passphrase pw &&
    chmod 600 pe || exit 1
check_eq "puttygen key with a passphrase: -y -P as ssh-keygen's" \
    "$(ssh-keygen -y -P 'putty pass' -f pe 2>&1)" \
    "$("$HWK" -y -P 'putty pass' -f pe 2>&1)"
check_eq "... -l as ssh-keygen's" "$(ssh-keygen -l -f pe 2>&1)" \
    "$("$HWK" -l -f pe 2>&1)"

# --- Each error said once -----------------------------------------------------
# Fails when a line repeats a part ("X: X"), or the output says the same
# reason (a part of 12 or more characters) twice.
said_once() {
	local line rest p a i seen=$'\n'
	local -a parts
	while IFS= read -r line; do
		line=${line/"hwkeygen: "/}
		parts=()
		rest=$line
		while :; do
			p=${rest%%": "*}
			p=${p#"${p%%[![:space:]]*}"}
			p=${p%"${p##*[![:space:]]}"}
			[ -n "$p" ] && parts+=("$p")
			[[ $rest == *": "* ]] || break
			rest=${rest#*": "}
		done
		for ((i = 1; i < ${#parts[@]}; i++)); do
			a=${parts[i - 1]} p=${parts[i]}
			if [[ $a == "$p" || $a == *" $p" ]]; then
				echo "said twice: $line"
				return 1
			fi
		done
		for p in "${parts[@]}"; do
			if [ "${#p}" -ge 12 ] && [[ $seen == *$'\n'"$p"$'\n'* ]]
			then
				echo "said twice: $p"
				return 1
			fi
			seen+=$p$'\n'
		done
	done <<<"$1"
	return 0
}
cp p1 good
chmod 600 good
# good with its padding (the last byte) counting wrong, and its armour cut.
$PY - good bad-pad <<'PYEOF'
import base64, sys
text = open(sys.argv[1]).read().splitlines()
body = bytearray(base64.b64decode("".join(text[1:-1])))
body[-1] ^= 0x40
b64 = base64.b64encode(bytes(body)).decode()
with open(sys.argv[2], "w") as f:
    f.write(text[0] + "\n")
    for i in range(0, len(b64), 70):
        f.write(b64[i:i + 70] + "\n")
    f.write(text[-1] + "\n")
PYEOF
head=
read -rN 300 head <good
printf '%s' "$head" >trunc
: >empty
echo garbage >garbage
printf -- '-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n-----END TSS2 PRIVATE KEY-----\n' \
    >badtpm
printf 'pkcs11:zzz\n' >badstub
printf 'ssh-rsa AAAA comment\n' >badpub
mkdir folder
cp "$FIXTURES/dsa.key" ed && chmod 600 ed	# a type hwkeygen refuses
chmod 600 bad-pad trunc empty garbage badtpm badstub badpub
# (-l reads the public half where there is one: ed and bad-pad pass.)
for f in bad-pad trunc empty garbage badtpm badstub badpub folder ed \
    missing; do
	out=$("$HWK" -y -f $f </dev/null 2>&1)
	rc=$?
	check "-y on $f: fails (exit $rc)" test "$rc" -ne 0
	check "-y on $f: each reason said once" said_once "$out"
	check "-l on $f: each reason said once" said_once \
	    "$("$HWK" -l -f $f </dev/null 2>&1)"
done
check_match "a bad padding is an invalid format" \
    'Load key "bad-pad": invalid format$' "$("$HWK" -y -f bad-pad 2>&1)"

# --- An ECDSA key in a TPM stub ---------------------------------------------
start_swtpm || exit 1
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 \
    -out ec.pem 2>/dev/null || exit 1
chmod 600 ec.pem
openssl pkey -provider tpm2 -provider default -in ec.pem -pubout \
    -out ec.pub.pem 2>/dev/null &&
    ssh-keygen -i -m PKCS8 -f ec.pub.pem >ec-ssh.pub || exit 1
out=$("$HWK" -l -f ec.pem 2>&1)
check_eq "-l on an ECDSA TPM stub, no .pub: exit 0" 0 "$?"
check_eq "... the fingerprint ssh-keygen gives its public key" \
    "$(ssh-keygen -l -f ec-ssh.pub)" "$out"
check_match "... named as ECDSA" '^256 SHA256:.* \(ECDSA\)$' "$out"
cp ec-ssh.pub ec.pem.pub
check_eq "... and with a .pub beside it" "$(ssh-keygen -l -f ec-ssh.pub)" \
    "$("$HWK" -l -f ec.pem 2>&1)"
check_match "--list names it ECDSA" "id_ec +ECDSA +256" \
    "$(cd "$T_TMP" && mkdir -p "$HOME/.ssh" && cp ec.pem "$HOME/.ssh/id_ec" &&
    "$HWK" --list 2>&1)"
rm ec.pem.pub
out=$("$HWK" -y -f ec.pem 2>&1)
check_eq "-y on it: exit 0" 0 "$?"
read -r t b _ <ec-ssh.pub
read -r t2 b2 _ <<<"$out"
check_eq "... gives the public key ssh-keygen reads from its PEM" \
    "$t $b" "$t2 $b2"

done_testing
