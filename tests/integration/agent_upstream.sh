# hwkey-agent --upstream: a real ssh-agent behind it holding software
# keys, hwkey-agent holding a SoftHSM2 ECDSA key; stock ssh-add and ssh
# through hwkey-agent alone reach both (list, sign, log in, add, remove,
# lock).  Then the upstream goes away, comes back, and is replaced by a
# fake one that talks nonsense or hangs: our key keeps working and the
# agent keeps answering.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
. "$TOP/tests/lib/softhsm.sh"
. "$TOP/tests/lib/pkcs11.sh"
. "$TOP/tests/lib/sshd.sh"

cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
user=$(id -un)
PIN=246810

softhsm_setup || exit 1
softhsm_token upstream "$PIN" 13579086 || exit 1
printf '%s\n' "$PIN" >pin
chmod 600 pin
# Ours: a token key and a software key the upstream will hold as well;
# the upstream's own: up.
"$HWK" -q --backend pkcs11 --module "$SOFTHSM_MODULE" --pin-source file:pin \
    -t ecdsa -C tok@ours -f tok || exit 1
"$HWK" -q --backend software -t ed25519 -N '' -C both@test -f both || exit 1
ssh-keygen -q -t ed25519 -N '' -C up@upstream -f up || exit 1
printf '#!/bin/sh\necho lock-pass\n' >askpass
chmod 700 askpass

mkdir -m 700 s
UP=$T_TMP/s/upstream
SOCK=$T_TMP/s/ours
start_upstream() {
	ssh-agent -D -a "$UP" >/dev/null 2>>upstream.log &
	UP_PID=$!
	at_exit "kill_wait $UP_PID"
	for ((i = 0; i < 250; i++)); do [ -S "$UP" ] && break; nap 0.02; done
}
start_upstream
# start_agent LOG: hwkey-agent on SOCK, passing on to UP.
start_agent() {
	"$B/hwkey-agent" -d -a "$SOCK" --upstream "$UP" --pin-source file:pin \
	    tok both >/dev/null 2>"$1" &
	AGENT_PID=$!
	at_exit "kill_wait $AGENT_PID"
	for ((i = 0; i < 250; i++)); do [ -S "$SOCK" ] && break; nap 0.02; done
}
start_agent agent.log
export SSH_AUTH_SOCK=$SOCK
echo "a document" >doc
# sign KEY: ssh-keygen -Y sign of doc with KEY through the agent.
sign() { ssh-keygen -q -Y sign -f "$1.pub" -n file <doc >/dev/null; }
# upstream CMD...: a command on the upstream agent directly.
upstream() { SSH_AUTH_SOCK=$UP "$@"; }

check "ssh-add KEY through hwkey-agent adds to the upstream" \
    ssh-add up both
check_eq "the upstream holds them" "$(<both.pub)"$'\n'"$(<up.pub)" \
    "$(upstream ssh-add -L | sort -k3)"
ours=$(<tok.pub)$'\n'$(<both.pub)
check_eq "ssh-add -L: ours first, then the upstream's, none twice" \
    "$ours"$'\n'"$(<up.pub)" "$(ssh-add -L)"
# ssh-add -T asks for a signature without looking at the list first.
check "a signature with the upstream's key comes back (ssh-add -T)" \
    ssh-add -T up.pub

# Stock ssh logs in with each, through hwkey-agent alone.
cat tok.pub up.pub >authorized_keys
start_sshd "$T_TMP/sshd" "$T_TMP/authorized_keys" || exit 1
for k in tok up; do
	check_eq "ssh -i $k.pub logs in through hwkey-agent" "hwk-login-ok" \
	    "$(ssh_cmd -o IdentitiesOnly=yes -i "$k.pub" "$user@127.0.0.1" \
	    echo hwk-login-ok 2>&1)"
done
check_match "the server took the upstream's key" \
    "Accepted publickey for $user .* ED25519" "$(<"$T_TMP/sshd/sshd.log")"
# A key the upstream may use only towards this server (ssh-add -h): it
# signs only on a connection that ssh bound to a session with this host,
# so the binding ssh sends us must reach it on that client's connection.
printf '127.0.0.1 %s\n' "$(<"$T_TMP/sshd/hostkey.pub")" >known_hosts
ssh-keygen -q -t ed25519 -N '' -C dest@upstream -f dest || exit 1
cat dest.pub >>authorized_keys
check "ssh-add -h: a key bound to this server, added upstream" \
    ssh-add -H known_hosts -h 127.0.0.1 dest
check_eq "ssh logs in with it: the session binding went upstream" \
    "hwk-login-ok" "$(ssh_cmd -o IdentitiesOnly=yes -i dest.pub \
    "$user@127.0.0.1" echo hwk-login-ok 2>&1)"
check "and ssh-add -d takes it away" ssh-add -d dest.pub

# Lock and unlock apply to both agents.
export SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force
check "ssh-add -x locks" ssh-add -x </dev/null
check_rc 1 "locked: hwkey-agent lists nothing" ssh-add -l
check_rc 1 "and the upstream is locked too" upstream ssh-add -l
check_rc 255 "locked: no signature with our key" sign tok
check "ssh-add -X unlocks" ssh-add -X </dev/null
check_eq "unlocked: both agents' keys listed again" \
    "$ours"$'\n'"$(<up.pub)" "$(ssh-add -L)"
unset SSH_ASKPASS SSH_ASKPASS_REQUIRE

check "ssh-add -d of the upstream's key" ssh-add -d up.pub
check_eq "is removed from the upstream" "$(<both.pub)" \
    "$(upstream ssh-add -L)"
# ssh-add -s: ssh-agent opens the token, and offers its key, which we
# hold ourselves: listed once, as ours.  ssh-add -e closes it there.
printf '#!/bin/sh\necho %s\n' "$PIN" >askpin
chmod 700 askpin
add_token() {
	SSH_ASKPASS=$T_TMP/askpin SSH_ASKPASS_REQUIRE=force \
	    ssh-add -s "$SOFTHSM_MODULE" </dev/null
}
check "ssh-add -s reaches the upstream" add_token
read -r _ tokblob _ <tok.pub
check_match "which offers the token's key" "${tokblob//[+\/]/.}" \
    "$(upstream ssh-add -L)"
check_eq "listed once, as ours" "$ours" "$(ssh-add -L)"
check "ssh-add -e reaches the upstream" ssh-add -e "$SOFTHSM_MODULE"
check_eq "which no longer offers it" "$(<both.pub)" "$(upstream ssh-add -L)"
check "ssh-add -D through hwkey-agent" ssh-add -D
check_rc 1 "empties the upstream" upstream ssh-add -l
check_rc 1 "and removes ours" ssh-add -l
check "hwkey-agent add brings ours back" "$B/hwkey-agent" add tok both
check_eq "ours are listed again" "$ours" "$(ssh-add -L)"

# The upstream goes away: ours keep working, the loss is logged once.
kill_wait "$UP_PID"
check_eq "no upstream: ssh-add -L lists ours" "$ours" "$(ssh-add -L)"
check "no upstream: our key still signs" \
    sign tok
check_rc 1 "no upstream: ssh-add KEY fails" ssh-add up
check_eq "the lost upstream was logged once" 1 \
    "$(count_lines "upstream agent $UP: cannot connect" agent.log)"
# It comes back on the same socket: the next request reaches it.
rm -f "$UP"
start_upstream
check "the upstream back: ssh-add KEY reaches it" ssh-add up
check_eq "and it lists the key" "$ours"$'\n'"$(<up.pub)" "$(ssh-add -L)"
check_match "its return was logged" "upstream agent $UP answers again" \
    "$(<agent.log)"
kill_wait "$UP_PID"
rm -f "$UP"

# Another agent, for which a hung upstream is one that takes a second;
# the first kept the default (ssh-agent opening a token on a loaded
# machine may take a while).
kill_wait "$AGENT_PID"
HWK_AGENT_UPSTREAM_TIMEOUT=1 start_agent agent2.log

# A fake upstream, answering each request as the file mode says.
"$PY" - "$UP" mode <<'EOF' 2>fake.log &
import socket, struct, sys, threading
path, modef = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)


def serve(c):
    with c:
        while True:
            head = c.recv(4, socket.MSG_WAITALL)
            if len(head) < 4:
                return
            c.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL)
            mode = open(modef).read().strip()
            if mode == "wrong-type":	# an answer no request has
                c.sendall(b"\0\0\0\5\x63junk")
            elif mode == "noise":	# not the agent protocol at all
                c.sendall(b"this is not an agent\n")
            elif mode == "oversize":
                c.sendall(struct.pack(">I", 0x7fffffff) + b"\x0c")
            elif mode == "short":	# dies in the middle of an answer
                c.sendall(struct.pack(">I", 100) + b"\x0c\0\0")
                return
            elif mode == "bad-list":	# five keys promised, none sent
                c.sendall(b"\0\0\0\5\x0c\0\0\0\5")
            elif mode == "hang":
                threading.Event().wait()


while True:
    threading.Thread(target=serve, args=(srv.accept()[0],),
                     daemon=True).start()
EOF
FAKE_PID=$!
at_exit "kill_wait $FAKE_PID"
for ((i = 0; i < 250; i++)); do [ -S "$UP" ] && break; nap 0.02; done
for mode in wrong-type noise oversize short bad-list hang; do
	echo "$mode" >mode
	t0=$EPOCHREALTIME
	check_eq "upstream sends $mode: ssh-add -L lists ours" "$ours" \
	    "$(ssh-add -L)"
	ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
	if [ "$ms" -lt 5000 ]; then ok "and answers in time ($ms ms)"
	else not_ok "and answers in time" "took $ms ms"; fi
	check_rc 1 "upstream sends $mode: its key's signature fails cleanly" \
	    ssh-add -T up.pub
done
check_eq "the fake upstream's nonsense was logged once" 1 \
    "$(count_lines "upstream agent $UP: " agent2.log)"
check "our key signs all along" sign tok
check "the agent is still running" kill -0 "$AGENT_PID"

done_testing
