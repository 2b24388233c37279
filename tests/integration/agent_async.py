# hwkey-agent waits for a slow token and a slow upstream agent without
# holding up anyone else: while a token signature takes its time (the fault
# module's C_Sign slowed down, or hung until the helper's timeout) and the
# upstream agent takes its time over a request, other clients' software-key
# signatures and key lists are answered at once; a second token signature
# waits its turn; each delayed request gets its own right answer, in order
# on its connection.  Upstream keys are refused over a forwarded
# connection unless --allow-forwarded, and the upstream hears the bind.
# A token key is opened in the helper as it signs, the others served; one
# whose client left is kept open.  So is a --confirm question on the
# screen, or a token PIN asked through askpass: others are served,
# confirmations come one at a time.  A token PIN given by hwkey-agent add
# outlives a helper that crashed or was killed: the new one logs in with
# it, no askpass; ssh-add -x wipes it.
import base64
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pexpect  # noqa: E402
import pty_flow  # noqa: E402
import tap  # noqa: E402

SLOW = 1.5	# s a slowed C_Sign or upstream signature takes
PROMPT = 0.75	# s within which the others must be answered
TIMEOUT = 2.5	# s the helper and the upstream may stay silent

tmp = tap.tempdir()
env = {k: v for k, v in os.environ.items()
       if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS",
                    "SSH_ASKPASS_REQUIRE", "SSH_AGENT_PID", "SSH_AUTH_SOCK")}
env.update(HOME=tmp, LC_ALL="C")
mod = tap.softhsm_module()
tap.softhsm_token(env, tmp, "tok", "1234")
pin = os.path.join(tmp, "pin")
open(pin, "w").write("1234\n")
os.chmod(pin, 0o600)
fault = os.path.join(tap.BUILD, "tests", "pkcs11_fault.so")
env["HWK_FAKE_REAL"] = mod
tok = os.path.join(tmp, "tok")
tok2 = os.path.join(tmp, "tok2")
tok3 = os.path.join(tmp, "tok3")
soft = os.path.join(tmp, "soft")
for t in (tok, tok2, tok3):
    tap.run([tap.HWK, "-q", "-t", "ecdsa", "--backend", "pkcs11", "--module",
             fault, "--pin-source", "file:" + pin, "-C",
             os.path.basename(t) + "@t", "-f", t], env=env, check=True)
tap.run([tap.HWK, "-q", "-t", "ecdsa", "--backend", "software", "-N", "",
         "-C", "soft@t", "-f", soft], env=env, check=True)


def blob_of(path):
    return base64.b64decode(open(path + ".pub").read().split()[1])


def string(b):
    return struct.pack(">I", len(b)) + b


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise EOFError("closed")
        out += d
    return out


def send(s, msg):
    s.sendall(struct.pack(">I", len(msg)) + msg)


def recv(s):
    return recv_exact(s, struct.unpack(">I", recv_exact(s, 4))[0])


def sign_req(blob, data):
    return b"\x0d" + string(blob) + string(data) + struct.pack(">I", 0)


def strings(b):
    """The SSH strings b is made of."""
    out = []
    while b:
        n = struct.unpack(">I", b[:4])[0]
        out.append(b[4:4 + n])
        b = b[4 + n:]
    return out


TOK, TOK2, TOK3 = blob_of(tok), blob_of(tok2), blob_of(tok3)
SOFT = blob_of(soft)
UPKEY = string(b"ssh-ed25519") + string(b"\x42" * 32)

# The upstream agent: one key of its own; a signature of data beginning
# "slow" takes SLOW seconds, of "hang" never comes.  What it was asked,
# in order, in SEEN.
SEEN = []


def upstream_conn(s):
    with s:
        while True:
            try:
                m = recv(s)
            except (EOFError, OSError):
                return
            if m[:1] == b"\x0b":
                send(s, b"\x0c" + struct.pack(">I", 1) + string(UPKEY) +
                     string(b"up@fake"))
            elif m[:1] == b"\x0d":
                data = strings(m[1:-4])[1]
                SEEN.append(b"sign " + data)
                if data.startswith(b"hang"):
                    time.sleep(3600)
                if data.startswith(b"slow"):
                    time.sleep(SLOW)
                send(s, b"\x0e" + string(string(b"ssh-ed25519") +
                                         string(b"upsig:" + data)))
            elif m[:1] == b"\x1b":
                n = struct.unpack(">I", m[1:5])[0]
                SEEN.append(b"ext " + m[5:5 + n] + b" fwd=%d" % m[-1])
                send(s, b"\x06")
            else:
                send(s, b"\x05")


updir = os.path.join(tmp, "up")
os.mkdir(updir, 0o700)
upsock = socket.socket(socket.AF_UNIX)
upsock.bind(os.path.join(updir, "s"))
upsock.listen(16)
tap.at_exit(upsock.close)


def upstream_accept():
    while True:
        try:
            c, _ = upsock.accept()
        except OSError:
            return
        threading.Thread(target=upstream_conn, args=(c,), daemon=True).start()


threading.Thread(target=upstream_accept, daemon=True).start()

adir = os.path.join(tmp, "adir")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
calls = os.path.join(tmp, "calls.log")
aenv = dict(env, HWK_FAKE_SLOW_AT="C_Sign:%s/slow,C_FindObjectsInit:%s/"
            "slowopen" % (tmp, tmp),
            HWK_FAKE_SLOW_MS=str(int(SLOW * 1000)),
            HWK_FAKE_HANG_AT="C_Sign:" + tmp + "/hang", HWK_FAKE_LOG=calls,
            HWK_AGENT_HELPER_TIMEOUT=str(TIMEOUT),
            HWK_AGENT_UPSTREAM_TIMEOUT=str(TIMEOUT))
log = open(os.path.join(tmp, "agent.log"), "w+")
agent = tap.start([tap.AGENT, "-d", "-a", sock, "-P",
                   os.path.join(tap.BUILD, "tests", "*"), "--pin-source",
                   "file:" + pin, "--upstream", os.path.join(updir, "s"),
                   tok, tok2, tok3, soft], env=aenv,
                  stdout=subprocess.DEVNULL,
                  stderr=log)
tap.ok(tap.wait_for(lambda: os.path.exists(sock)), "the agent listens")


def conn(path=None):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path or sock)
    tap.at_exit(s.close)
    return s


def sig_of(answer):
    """The signature blob of a SIGN_RESPONSE, or None."""
    return strings(answer[1:])[0] if answer[:1] == b"\x0e" else None


def verifies(key, data, answer, path=None):
    """The agent checks the signature: as a session-bind's, unforwarded."""
    sig = sig_of(answer)
    if sig is None:
        return False
    s = conn(path)
    send(s, b"\x1b" + string(b"session-bind@openssh.com") + string(key) +
         string(data) + string(sig) + b"\x00")
    return recv(s) == b"\x06"


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def fired(what):
    return tap.wait_for(lambda: os.path.exists(calls) and
                        what in open(calls).read(), 10)


def listed():
    p = subprocess.run(["ssh-add", "-L"], env=dict(env, SSH_AUTH_SOCK=sock),
                       capture_output=True, text=True)
    return [line.split()[2] for line in p.stdout.splitlines()]


def ask(key, data, path=None):
    s = conn(path)
    send(s, sign_req(key, data))
    return recv(s)


# Warm up: the token key opened in the helper, which signs as it should.
a = ask(TOK, b"warm")
tap.ok(verifies(TOK, b"warm", a), "the token key signs through the helper",
       a)

# 1. A slow token: C_Sign takes SLOW s.  Client A asks a token signature
# and, on the same connection, the list of keys; D asks another token
# signature, which waits its turn.
open(os.path.join(tmp, "slow"), "w").close()
A, D = conn(), conn()
t0 = time.monotonic()
send(A, sign_req(TOK, b"a1"))
send(A, b"\x0b")
tap.ok(fired("C_Sign slow"), "the token's signature is under way, slowly")
send(D, sign_req(TOK, b"d1"))
b, dt = timed(lambda: ask(SOFT, b"b1"))
tap.ok(verifies(SOFT, b"b1", b) and dt < PROMPT,
       "meanwhile another client's software-key signature is answered at "
       "once (%.3f s)" % dt, b)
keys, dt = timed(listed)
tap.ok(keys == ["tok@t", "tok2@t", "tok3@t", "soft@t", "up@fake"] and
       dt < PROMPT,
       "and ssh-add -L lists every key at once (%.3f s)" % dt, keys)
tap.ok(select.select([D], [], [], 0)[0] == [],
       "the second token signature waits its turn: no answer yet")
a1 = recv(A)
ta = time.monotonic() - t0
tap.ok(verifies(TOK, b"a1", a1) and ta >= SLOW * 0.9,
       "the slow token signature comes, right, when the token is done "
       "(%.3f s)" % ta, a1)
a2 = recv(A)
tap.ok(a2[:1] == b"\x0c", "then, in order, the key list asked after it",
       a2[:1])
d1 = recv(D)
td = time.monotonic() - t0
tap.ok(verifies(TOK, b"d1", d1),
       "then it comes, right (%.3f s)" % td, d1)

# A token key opened in the helper at its first signature (the token's
# objects searched slowly, as a token logging in on a PIN pad would be):
# the others are served meanwhile too.
open(os.path.join(tmp, "slowopen"), "w").close()
T = conn()
t0 = time.monotonic()
send(T, sign_req(TOK2, b"o1"))
tap.ok(fired("C_FindObjectsInit slow"), "a token key is being opened, slowly")
b, dt = timed(lambda: ask(SOFT, b"b0"))
tap.ok(verifies(SOFT, b"b0", b) and dt < PROMPT,
       "meanwhile a software-key signature is answered at once (%.3f s)" % dt,
       b)
o1 = recv(T)
to = time.monotonic() - t0
tap.ok(verifies(TOK2, b"o1", o1) and to >= SLOW * 0.9,
       "the key opened, its signature comes, right (%.3f s)" % to, o1)

# A client that leaves while its key is being opened: the key is kept
# open all the same, and the next signature needs no opening.
open(os.path.join(tmp, "slowopen"), "w").close()
T = conn()
send(T, sign_req(TOK3, b"gone"))
tap.ok(fired("C_FindObjectsInit slow"), "another key is being opened")
T.close()
log.seek(0)
tap.ok(tap.wait_for(lambda: log.seek(0) == 0 and "tok3: opened for a client "
                    "that has gone; kept open" in log.read(), 10),
       "its client left; the key it opened is kept open")
# (An opening looks for the token: C_GetTokenInfo; a signature does not.)
before = open(calls).read().count("C_GetTokenInfo")
a = ask(TOK3, b"o2")
tap.ok(verifies(TOK3, b"o2", a) and
       open(calls).read().count("C_GetTokenInfo") == before,
       "and the next client's signature needs no opening", a)

# 2. A hung token and a hung upstream at once: each fails at its timeout
# alone, while the rest is answered.
open(os.path.join(tmp, "hang"), "w").close()
A, U = conn(), conn()
t0 = time.monotonic()
send(A, sign_req(TOK, b"a3"))
tap.ok(fired("C_Sign hang"), "the token hangs in C_Sign")
send(U, sign_req(UPKEY, b"hang-u"))
tap.ok(tap.wait_for(lambda: b"sign hang-u" in SEEN, 10),
       "the upstream agent sits on a signature")
b, dt = timed(lambda: ask(SOFT, b"b2"))
tap.ok(verifies(SOFT, b"b2", b) and dt < PROMPT,
       "a software-key signature is answered at once (%.3f s)" % dt, b)
u, dt = timed(lambda: ask(UPKEY, b"quick"))
tap.ok(sig_of(u) == string(b"ssh-ed25519") + string(b"upsig:quick") and
       dt < PROMPT, "and an upstream signature on another connection "
       "(%.3f s)" % dt, u)
a3, u3 = recv(A), recv(U)
tt = time.monotonic() - t0
tap.ok(a3 == b"\x05" and u3 == b"\x05" and TIMEOUT * 0.9 <= tt < TIMEOUT * 3,
       "both hung requests fail with SSH_AGENT_FAILURE at the timeout "
       "(%.3f s)" % tt, (a3, u3))
a = ask(TOK, b"a4")
tap.ok(verifies(TOK, b"a4", a), "the token key signs again, in a new helper",
       a)
send(U, sign_req(UPKEY, b"after"))
u = recv(U)
tap.ok(sig_of(u) == string(b"ssh-ed25519") + string(b"upsig:after"),
       "the client whose upstream request failed is served again", u)

# 3. A slow upstream: our own keys sign for others meanwhile; its answer
# comes right and in order.
U = conn()
t0 = time.monotonic()
send(U, sign_req(UPKEY, b"slow-1"))
send(U, b"\x0b")
tap.ok(tap.wait_for(lambda: b"sign slow-1" in SEEN, 10),
       "the upstream agent takes its time over a signature")
a, dt = timed(lambda: ask(TOK, b"a5"))
tap.ok(verifies(TOK, b"a5", a) and dt < PROMPT,
       "meanwhile the token key signs at once (%.3f s)" % dt, a)
b, dt = timed(lambda: ask(SOFT, b"b5"))
tap.ok(verifies(SOFT, b"b5", b) and dt < PROMPT,
       "and the software key (%.3f s)" % dt, b)
u1, u2 = recv(U), recv(U)
tu = time.monotonic() - t0
tap.ok(sig_of(u1) == string(b"ssh-ed25519") + string(b"upsig:slow-1") and
       tu >= SLOW * 0.9, "the slow upstream signature comes, its own "
       "(%.3f s)" % tu, u1)
tap.ok(u2[:1] == b"\x0c" and UPKEY in u2 and TOK in u2,
       "then the merged key list asked after it", u2)

# 4. Forwarded: the connection is bound to a session as forwarded (the
# host key is our software key, which signs the session id).
F = conn()
sid = b"\x17" * 32
send(F, sign_req(SOFT, sid))
hsig = sig_of(recv(F))
del SEEN[:]
send(F, b"\x1b" + string(b"session-bind@openssh.com") + string(SOFT) +
     string(sid) + string(hsig) + b"\x01")
tap.ok(recv(F) == b"\x06", "a forwarded session-bind is taken")
tap.ok(SEEN == [b"ext session-bind@openssh.com fwd=1"],
       "and passed on to the upstream agent, forwarded", SEEN)
send(F, sign_req(UPKEY, b"fwd"))
tap.ok(recv(F) == b"\x05" and b"sign fwd" not in SEEN,
       "an upstream key's signature over it is refused here, not asked",
       SEEN)
log.seek(0)
tap.ok("a key of the upstream agent: refused a signature" in log.read(),
       "and the refusal is logged")
send(F, b"\x0b")
tap.ok(UPKEY in recv(F), "listing keys over it still shows the upstream's")

tap.stop(agent)

# 5. The PIN from hwkey-agent add, and a helper started again.  No PIN
# source; askpass, if ever run, says so in a file and answers nothing.
asked = os.path.join(tmp, "asked")
askpass = os.path.join(tmp, "askpass")
open(askpass, "w").write("#!/bin/sh\necho \"$1\" >>%s\nexit 1\n" % asked)
os.chmod(askpass, 0o700)
sock2 = os.path.join(adir, "socket2")
log2 = open(os.path.join(tmp, "agent2.log"), "w+")
agent2 = tap.start([tap.AGENT, "-d", "-a", sock2, "-P",
                    os.path.join(tap.BUILD, "tests", "*")],
                   env=dict(aenv, SSH_ASKPASS=askpass,
                            SSH_ASKPASS_REQUIRE="force",
                            HWK_FAKE_CRASH_AT="C_Sign:" + tmp + "/crash"),
                   stdout=subprocess.DEVNULL, stderr=log2)
tap.wait_for(lambda: os.path.exists(sock2))
c = pexpect.spawn(tap.AGENT, ["add", "-a", sock2, tok], env=env,
                  encoding="utf-8", timeout=60)
c.delaybeforesend = None
c.expect("Enter ")
c.sendline("1234")
c.expect(pexpect.EOF)
pty_flow.reap(c)
tap.ok(c.exitstatus == 0, "hwkey-agent add takes the token PIN on its "
       "terminal", c.before)
a = ask(TOK, b"p1", sock2)
tap.ok(verifies(TOK, b"p1", a, sock2), "the token key signs with it", a)
open(os.path.join(tmp, "crash"), "w").close()
a = ask(TOK, b"p2", sock2)
tap.ok(a == b"\x05" and fired("C_Sign crash"),
       "a signature whose module crashes fails", a)
a = ask(TOK, b"p3", sock2)
tap.ok(verifies(TOK, b"p3", a, sock2) and not os.path.exists(asked),
       "the next one signs in a new helper, logged in with add's PIN, "
       "without askpass", a)


def helpers():
    log2.seek(0)
    return [int(line.split()[-1]) for line in log2
            if "PKCS#11 helper started, pid" in line]


def kill_helper():
    """Kills the helper, and waits until it is dead (a zombie, or gone)."""
    pid = helpers()[-1]
    os.kill(pid, 9)

    def dead():
        try:
            return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1] \
                .split()[0] in ("Z", "X")
        except OSError:
            return True
    tap.wait_for(dead)


kill_helper()
a = ask(TOK, b"p4", sock2)
tap.ok(verifies(TOK, b"p4", a, sock2) and not os.path.exists(asked),
       "so after a helper killed while idle", a)
tap.ok(len(helpers()) == 3, "three helpers in all", helpers())
# ssh-add -x: the PIN is forgotten, and askpass asked at the next use.
s = conn(sock2)
send(s, b"\x16" + string(b"pw"))
tap.ok(recv(s) == b"\x06", "ssh-add -x locks the agent")
send(s, b"\x17" + string(b"pw"))
tap.ok(recv(s) == b"\x06", "ssh-add -X unlocks it")
kill_helper()
a = ask(TOK, b"p5", sock2)
tap.ok(a == b"\x05" and os.path.exists(asked) and
       "tok@t" in open(asked).read(), "after them the PIN is gone: askpass "
       "is asked for it, naming the key", a)
tap.stop(agent2)

# 6. --confirm: while a question is on the screen (an askpass that takes
# SLOW s while slow-q is there), the agent serves others; a second signature's question waits
# until the first is answered; a client that leaves takes its question off.
clog = os.path.join(tmp, "confirm.log")
cpass = os.path.join(tmp, "confirm")
open(cpass, "w").write("#!/bin/sh\nnl='\n'\n"
                       "printf '%%s %%s\\n' \"$$\" \"${1%%%%\"$nl\"*}\" >>%s\n"
                       "[ -e %s/slow-q ] && sleep %s\n"
                       "[ -e %s/say-no ] && exit 1\necho yes\n" %
                       (clog, tmp, SLOW, tmp))
os.chmod(cpass, 0o700)
sock3 = os.path.join(adir, "socket3")
log3 = open(os.path.join(tmp, "agent3.log"), "w+")
agent3 = tap.start([tap.AGENT, "-d", "-a", sock3, "--confirm", soft],
                   env=dict(env, SSH_ASKPASS=cpass,
                            SSH_ASKPASS_REQUIRE="force"),
                   stdout=subprocess.DEVNULL, stderr=log3)
tap.wait_for(lambda: os.path.exists(sock3))


def questions():
    """The questions askpass was asked, whole lines only."""
    return open(clog).read().split("\n")[:-1] if os.path.exists(clog) \
        else []


slowq = os.path.join(tmp, "slow-q")
open(slowq, "w").close()
A, D = conn(sock3), conn(sock3)
t0 = time.monotonic()
send(A, sign_req(SOFT, b"c1"))
tap.ok(tap.wait_for(lambda: len(questions()) == 1, 10) and
       questions()[0].endswith(" Allow use of key soft@t?"),
       "--confirm: the question is on the screen", questions())
send(D, sign_req(SOFT, b"c2"))
s = conn(sock3)
l, dt = timed(lambda: (send(s, b"\x0b"), recv(s))[1])
tap.ok(l[:1] == b"\x0c" and SOFT in l and dt < PROMPT,
       "meanwhile another client's key list is answered at once (%.3f s)" %
       dt, l)
time.sleep(0.2)
tap.ok(len(questions()) == 1 and select.select([D], [], [], 0)[0] == [],
       "a second signature's question waits until the first is answered")
a = recv(A)
ta = time.monotonic() - t0
os.unlink(slowq)
tap.ok(verifies(SOFT, b"c1", a, sock3) and ta >= SLOW * 0.9,
       "yes: the signature comes (%.3f s)" % ta, a)
d = recv(D)
tap.ok(verifies(SOFT, b"c2", d, sock3) and len(questions()) == 2,
       "then the second question, and its signature", questions())
open(os.path.join(tmp, "say-no"), "w").close()
tap.ok(ask(SOFT, b"c3", sock3) == b"\x05", "no: SSH_AGENT_FAILURE")
os.unlink(os.path.join(tmp, "say-no"))
open(slowq, "w").close()
F = conn(sock3)
send(F, sign_req(SOFT, b"c4"))
tap.ok(tap.wait_for(lambda: len(questions()) == 4, 10), "another question")
F.close()
qpid = int(questions()[-1].split()[0])
tap.ok(tap.wait_for(lambda: not os.path.exists("/proc/%d" % qpid),
                    PROMPT), "its client left: the question is taken off "
       "the screen at once")
os.unlink(slowq)
a = ask(SOFT, b"c5", sock3)
tap.ok(verifies(SOFT, b"c5", a, sock3) and len(questions()) == 5,
       "and the next signature is asked about, and made", a)
tap.stop(agent3)

# 7. A token PIN asked through askpass (no --pin-source) at the key's
# first signature: while the question is on the screen, others are served.
plog = os.path.join(tmp, "pin.log")
ppass = os.path.join(tmp, "pinpass")
open(ppass, "w").write("#!/bin/sh\nnl='\n'\n"
                       "printf '%%s\\n' \"${1%%%%\"$nl\"*}\" >>%s\n"
                       "[ -e %s/slow-q ] && sleep %s\necho 1234\n" %
                       (plog, tmp, SLOW))
os.chmod(ppass, 0o700)
sock4 = os.path.join(adir, "socket4")
agent4 = tap.start([tap.AGENT, "-d", "-a", sock4, "-P",
                    os.path.join(tap.BUILD, "tests", "*"), tok, soft],
                   env=dict(env, SSH_ASKPASS=ppass,
                            SSH_ASKPASS_REQUIRE="force"),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
tap.wait_for(lambda: os.path.exists(sock4))
open(slowq, "w").close()
A = conn(sock4)
t0 = time.monotonic()
send(A, sign_req(TOK, b"p1"))
tap.ok(tap.wait_for(lambda: os.path.exists(plog) and
                    open(plog).read().endswith("\n"), 10) and
       open(plog).read().startswith("Key tok@t SHA256:"),
       "the token's PIN is asked, naming the key")
b, dt = timed(lambda: ask(SOFT, b"p2", sock4))
tap.ok(verifies(SOFT, b"p2", b, sock4) and dt < PROMPT,
       "while the PIN question is on the screen, a software-key signature "
       "is answered at once (%.3f s)" % dt, b)
a = recv(A)
ta = time.monotonic() - t0
os.unlink(slowq)
tap.ok(verifies(TOK, b"p1", a, sock4) and ta >= SLOW * 0.9,
       "then the token signs with the PIN given (%.3f s)" % ta, a)
tap.stop(agent4)
tap.done()
