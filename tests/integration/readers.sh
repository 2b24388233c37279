# Every reader ends and keeps secrets: key, .pub, PIN and stub files that
# are FIFOs, devices or folders are refused at once (each run under a
# timeout, so a hang fails); PIN and private key files others can read are
# refused; the .pub honours the umask as ssh-keygen's does.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
AGENT=$B/hwkey-agent
# A hang ends here as exit 124 instead of stalling the suite.
hwk() { timeout -k 2 10 "$HWK" "$@"; }

# Ed25519 keys throughout: what reads the files is the subject, not the
# key's type (ECDSA P-256 on the token).
"$HWK" -q --backend software -t ed25519 -N '' -C mine -f key || exit 1

# --- -l and -y on what is not a regular file -------------------------------
mkfifo fifo
mkdir folder
for f in fifo /dev/zero folder; do
	for m in -l -y; do
		out=$(hwk $m -f "$f" </dev/null 2>&1)
		rc=$?
		check_eq "$m on $f: ends with exit 1 (124: it hung)" 1 "$rc"
		check_match "$m on $f: says it is not a regular file" \
		    "$f: not a regular file but (a named pipe|a device|a directory)" \
		    "$out"
	done
done
# A private key whose .pub is a FIFO: -l reads the key itself instead.
cp key kp
mkfifo kp.pub
out=$(hwk -l -f kp 2>&1)
check_eq "-l on a key whose .pub is a FIFO: exit 0" 0 "$?"
read -r bits fp _ < <(ssh-keygen -l -f key.pub)
read -r bits2 fp2 _ <<<"$out"
check_eq "... and gives ssh-keygen's fingerprint" "$bits $fp" "$bits2 $fp2"

# --- --list with FIFOs among the keys --------------------------------------
cp key key.pub "$HOME/.ssh/"
mv "$HOME/.ssh/key" "$HOME/.ssh/id_real"
mv "$HOME/.ssh/key.pub" "$HOME/.ssh/id_real.pub"
mkfifo "$HOME/.ssh/id_fifo" "$HOME/.ssh/id_half.pub"
cp key "$HOME/.ssh/id_half"
ln -s /dev/zero "$HOME/.ssh/id_dev"
out=$(hwk --list 2>&1)
check_eq "--list with FIFOs and a device in ~/.ssh: exit 0" 0 "$?"
check_match "... lists the real pair" "id_real .*ED25519" "$out"
check_match "... and the key whose .pub is a FIFO" "id_half " "$out"
check_no_match "... and not the FIFO" "id_fifo" "$out"
out=$(hwk --list --json 2>&1)
check_eq "--list --json with them: exit 0" 0 "$?"

# --- The agent's scan of ~/.ssh ---------------------------------------------
# A token stub (read only: no module is loaded before a signature) whose
# .pub is a FIFO, and one with a .pub: the agent starts and offers that one.
softhsm_setup || exit 1
M=$SOFTHSM_MODULE
stub="pkcs11:token=scan;id=%01;type=private?module-path=$M"
printf '%s\n' "$stub" >"$HOME/.ssh/id_tokfifo"
mkfifo "$HOME/.ssh/id_tokfifo.pub"
printf '%s\n' "${stub/\%01/%02}" >"$HOME/.ssh/id_tok"
cp "$HOME/.ssh/id_real.pub" "$HOME/.ssh/id_tok.pub"
mkdir -m 700 adir
SOCK=$T_TMP/adir/socket
"$AGENT" -d -a "$SOCK" >agent.out 2>agent.log &
apid=$!
at_exit "kill_wait $apid"
for ((i = 0; i < 250; i++)); do
	[ -S "$SOCK" ] && break
	nap 0.02
done
check "the agent's scan passes a FIFO .pub by and listens" test -S "$SOCK"
check_eq "... and offers the stub that has a .pub" \
    "$(ssh-keygen -l -f "$HOME/.ssh/id_tok.pub")" \
    "$(SSH_AUTH_SOCK=$SOCK timeout 10 ssh-add -l 2>&1)"
kill_wait "$apid"
rm -f "$HOME/.ssh/id_tokfifo" "$HOME/.ssh/id_tokfifo.pub" \
    "$HOME/.ssh/id_tok" "$HOME/.ssh/id_tok.pub"

# --- PIN files ---------------------------------------------------------------
softhsm_token hwk-read 123456 654321 || exit 1
gen() { timeout -k 2 20 "$HWK" -q --backend pkcs11 --module "$M" -t ecdsa "$@"; }
n0=$(softhsm_objects hwk-read 123456)
mkfifo pinfifo
for p in pinfifo /dev/zero folder; do
	out=$(gen --pin-source "file:$p" -f kpin </dev/null 2>&1)
	rc=$?
	check_eq "PIN from $p: exit 1 (124: it hung)" 1 "$rc"
	check_match "PIN from $p: says it is not a regular file" \
	    "cannot read the PIN from file:$p: .*not a regular file" "$out"
done
printf '123456\n' >pin
chmod 640 pin
out=$(gen --pin-source file:pin -f kpin 2>&1)
check_eq "a group-readable PIN file: exit 1" 1 "$?"
check_match "... says the permissions are too open" \
    "cannot read the PIN from file:pin: permissions 0640 are too open" "$out"
check_match "... and what to do" "chmod 600 pin" "$out"
chmod 602 pin
out=$(gen --pin-source file:pin -f kpin 2>&1)
check_match "a PIN file others can write: refused" "0602 are too open" "$out"
check_eq "... nothing made on the token" "$n0" "$(softhsm_objects hwk-read 123456)"
check_eq "... nor written" "absent" \
    "$([ -e kpin ] || [ -e kpin.pub ] && echo present || echo absent)"
chmod 600 pin
check "a PIN file of mode 0600 is taken" gen --pin-source file:pin -f kpin
check_eq "... and the key is made" "$((n0 + 2))" \
    "$(softhsm_objects hwk-read 123456)"

# --- Private key files others can read ---------------------------------------
# ssh-keygen -y refuses them with its warning, and so do we, word for word.
chmod 644 key
out=$(hwk -y -f key 2>&1)
check_eq "-y on a key of mode 0644: exit 1" 1 "$?"
# without PREFIX TEXT: the lines of TEXT that do not start with PREFIX.
without() {
	local l
	while IFS= read -r l; do
		[[ $l == "$1"* ]] || printf '%s\n' "$l"
	done <<<"$2"
}
# (ssh-keygen ends its lines with \r\n on stderr.)
want=$(ssh-keygen -y -f key 2>&1)
check_eq "... with ssh-keygen's warning" \
    "$(without 'Load key' "${want//$'\r'/}")" "$(without hwkeygen: "$out")"
check_match "... says how to fix it" "chmod 600 key" "$out"
check_no_match "... and prints no key" "^ssh-ed25519" "$out"
chmod 640 key
check_rc 1 "-y on a key of mode 0640: refused" "$HWK" -y -f key
chmod 600 key
check_eq "-y on a key of mode 0600: ssh-keygen's answer" \
    "$(ssh-keygen -y -f key)" "$(hwk -y -f key)"
# -l reads only the public half, as ssh-keygen -l does.
chmod 644 key
check_eq "-l on a key of mode 0644 still works (as ssh-keygen -l)" \
    "$(ssh-keygen -l -f key)" "$(hwk -l -f key 2>&1)"
chmod 600 key

# --- The .pub honours the umask ----------------------------------------------
sw() { "$HWK" -q --backend software -t ed25519 -N '' "$@"; }
(umask 077 && sw -f u077)
(umask 022 && sw -f u022)
(umask 027 && sw -f u027)
(umask 077 && exec ssh-keygen -q -t ed25519 -N '' -f s077)
# The five modes from one stat.
declare -A mode
for f in u077.pub s077.pub u022.pub u027.pub u077; do mode[$f]=missing; done
while read -r m f; do mode[$f]=$m; done < <(stat -c '%a %n' "${!mode[@]}")
check_eq "umask 077: the .pub is 0600" 600 "${mode[u077.pub]}"
check_eq "... as ssh-keygen's" "${mode[s077.pub]}" "${mode[u077.pub]}"
check_eq "umask 022: the .pub is 0644" 644 "${mode[u022.pub]}"
check_eq "umask 027: the .pub is 0640" 640 "${mode[u027.pub]}"
check_eq "umask 077: the key is 0600" 600 "${mode[u077]}"

done_testing
