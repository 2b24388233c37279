# hwkey-agent with a key it can hold in any backend (software): stock
# ssh-add, ssh and ssh-keygen -Y through it, hostile clients, many clients,
# idle and slow clients kept, start and stop.  The TPM and token keys are
# tested in tpm2/pkcs11 tests.
import base64
import os
import pwd
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402
from sshd import start_sshd, ssh_argv  # noqa: E402

tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
env = dict(os.environ, HOME=home)
env.pop("SSH_AUTH_SOCK", None)
key = os.path.join(tmp, "id_rsa")
tap.run([tap.HWK, "-q", "-b", "2048", "-N", "", "-C", "agent@test", "-f", key],
        check=True)


def accepts(path):
    """The agent there takes a connection: its socket's file comes with
    bind(), before listen(), so the file alone is not enough."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


adir = os.path.join(tmp, "agent")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
log = open(os.path.join(tmp, "agent.log"), "w")
agent = tap.start([tap.AGENT, "-d", "-a", sock, key], stdout=subprocess.PIPE,
                  stderr=log, env=env, text=True)
tap.ok(tap.wait_for(lambda: accepts(sock)), "agent listens")
first = agent.stdout.readline()
tap.ok(first == "SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n" % sock,
       "prints the SSH_AUTH_SOCK line", first)
tap.ok(oct(os.stat(sock).st_mode & 0o777) == "0o600", "socket is 0600")
aenv = dict(env, SSH_AUTH_SOCK=sock)
# Room for the hundreds of connections below.
lim = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (lim[1], lim[1]))
# The seconds the slow clients below take, on agents whose one time limit
# (an answer left unread: 60 s, here HWK_AGENT_WRITE_TIMEOUT=1) they would
# meet four times over if it were applied to them.
KEPT = 4


def start_agent(name, keys, nofile=None, extra_env=None):
    """Another agent, on its own socket, with its own fd limits."""
    d = os.path.join(tmp, name)
    os.mkdir(d, 0o700)
    path = os.path.join(d, "socket")
    pre = None
    if nofile is not None:
        def pre():
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
    p = tap.start([tap.AGENT, "-d", "-a", path] + keys,
                  stdout=subprocess.DEVNULL,
                  stderr=open(os.path.join(tmp, name + ".log"), "w"),
                  env=dict(env, **(extra_env or {})), preexec_fn=pre)
    tap.wait_for(lambda: p.poll() is not None or accepts(path))
    return p, path


# What ssh-add sees.
r = tap.run(["ssh-add", "-l"], env=aenv)
want = tap.run(["ssh-keygen", "-l", "-f", key + ".pub"]).stdout
tap.ok(r.returncode == 0 and r.stdout == want, "ssh-add -l lists the key",
       r.stdout + r.stderr)
r = tap.run(["ssh-add", "-L"], env=aenv)
tap.ok(r.stdout == open(key + ".pub").read(), "ssh-add -L gives the .pub",
       r.stdout)
r = tap.run(["ssh-add", key], env=aenv)
tap.ok(r.returncode != 0, "ssh-add KEY refused (the agent takes stubs only)")

# ssh-keygen -Y sign through the agent, checked by ssh-keygen -Y verify.
msg = os.path.join(tmp, "msg")
open(msg, "w").write("signed through hwkey-agent\n")
r = tap.run(["ssh-keygen", "-Y", "sign", "-f", key + ".pub", "-n", "file",
             msg], env=aenv)
allowed = os.path.join(tmp, "allowed")
open(allowed, "w").write("me@test " + open(key + ".pub").read())
v = tap.run(["ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "me@test",
             "-n", "file", "-s", msg + ".sig"], stdin=open(msg), env=aenv)
tap.ok(r.returncode == 0 and v.returncode == 0,
       "ssh-keygen -Y sign through the agent verifies", r.stderr + v.stdout +
       v.stderr)

# Log in: ssh has only the .pub, so the agent signs.
user = pwd.getpwuid(os.getuid()).pw_name
port = start_sshd(os.path.join(tmp, "sshd"), key + ".pub")
for alg in ("rsa-sha2-512", "rsa-sha2-256"):
    r = tap.run(ssh_argv(port, "-o", "IdentitiesOnly=yes",
                         "-o", "PubkeyAcceptedAlgorithms=" + alg,
                         "-i", key + ".pub", "%s@127.0.0.1" % user,
                         "echo", "hwk-login-ok"), env=aenv)
    tap.ok(r.stdout.strip() == "hwk-login-ok",
           "ssh logs in through the agent with " + alg, r.stderr)


def connect(path=None, timeout=5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path or sock)
    return s


def connect_many(path, n):
    """n connections, or as many as the agent takes in 20 s."""
    conns = []
    end = time.time() + 20
    while len(conns) < n and time.time() < end:
        try:
            conns.append(connect(path))
        except BlockingIOError:
            time.sleep(0.01)    # the backlog is full: let the agent accept
        except OSError:
            break
    return conns


def request(s, payload):
    try:
        s.sendall(struct.pack(">I", len(payload)) + payload)
    except OSError:
        return None
    return answer(s)


def answer(s):
    """The next answer on s, or None if the agent closed it or is silent."""
    try:
        return read_answer(s)
    except OSError:
        return None


def read_answer(s):
    head = b""
    while len(head) < 4:
        d = s.recv(4 - len(head))
        if not d:
            return None
        head += d
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None
        body += d
    return body


def closed(s, timeout=5):
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except (socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True


def ssh_add_l(path, desc):
    """tap.ok arguments: ssh-add -l on path lists the key, in time."""
    try:
        r = tap.run(["ssh-add", "-l"], env=dict(env, SSH_AUTH_SOCK=path),
                    timeout=20)
    except subprocess.TimeoutExpired:
        return False, desc, "ssh-add -l hung"
    return (r.returncode == 0 and "agent@test" in r.stdout, desc,
            r.stdout + r.stderr)


# Clients that take their time are kept (checked at the end): one idle, one
# that sends half a request, one whose signature waits for a slow askpass.
# (The passphrase key is Ed25519 with 2 KDF rounds: its type and cost are
# not the subject.)
started = time.time()
kept_agent, kept_sock = start_agent("kept", [key], extra_env={
    "HWK_AGENT_WRITE_TIMEOUT": "1"})
idle = connect(kept_sock)
half = connect(kept_sock)
half.sendall(struct.pack(">I", 1)[:2])
keypw = os.path.join(tmp, "id_ed25519_pw")
tap.run([tap.HWK, "-q", "-t", "ed25519", "-a", "2", "-N", "slow pass",
         "-C", "pw@test", "-f", keypw], check=True)
slowpass = os.path.join(tmp, "slow-askpass")
with open(slowpass, "w") as f:
    f.write("#!/bin/sh\nsleep %d\necho 'slow pass'\n" % KEPT)
os.chmod(slowpass, 0o700)
slow_agent, slow_sock = start_agent("slow", [keypw], extra_env={
    "SSH_ASKPASS": slowpass, "SSH_ASKPASS_REQUIRE": "force",
    "HWK_AGENT_WRITE_TIMEOUT": "1"})
blob = base64.b64decode(open(keypw + ".pub").read().split()[1])
sign_req = (b"\x0d" + struct.pack(">I", len(blob)) + blob +
            struct.pack(">I", 4) + b"data" + struct.pack(">I", 0))
slow_answer = []


def slow_sign():
    try:
        s = connect(slow_sock, KEPT + 60)
        slow_answer.append(request(s, sign_req))
        s.close()
    except OSError as e:
        slow_answer.append(e)


slow_thread = threading.Thread(target=slow_sign)
slow_thread.start()

# Garbage gets FAILURE, and the connection stays usable.
s = connect()
tap.ok(request(s, b"\xff\x00\x01garbage") == b"\x05", "garbage: FAILURE")
tap.ok(request(s, b"") == b"\x05", "empty request: FAILURE")
tap.ok(request(s, b"\x0b")[:1] == b"\x0c", "then identities still answered")
s.close()

# A huge length: the client is dropped, the agent stays up.
s = connect()
s.sendall(struct.pack(">I", 0x7fffffff) + b"\x0b" * 1024)
tap.ok(closed(s), "a 2 GiB length gets the client dropped")

# A client that writes but never reads is dropped; others are served.
hog = connect()
hog.setblocking(False)
req = struct.pack(">I", 1) + b"\x0b"
sent = 0
end = time.time() + 20
while time.time() < end:
    try:
        sent += hog.send(req * 512)
    except BlockingIOError:
        s = connect()
        alive = request(s, b"\x0b")
        s.close()
        if alive is None:
            break
        time.sleep(0.05)
    except OSError:
        break
tap.ok(closed(hog, 15), "a client that never reads is dropped (%d bytes)"
       % sent)

# Nor does an answer wait for its reader for ever, however little is
# pending: 60 s, or HWK_AGENT_WRITE_TIMEOUT, here 1 s.  An agent without it
# keeps the same client meanwhile.
lazy_agent, lazy_sock = start_agent("lazy", [key], extra_env={
    "HWK_AGENT_WRITE_TIMEOUT": "1"})
patient_agent, patient_sock = start_agent("patient", [key])
lazy_log = os.path.join(tmp, "lazy.log")
patient_log = os.path.join(tmp, "patient.log")
lazy = connect(lazy_sock)
patient = connect(patient_sock)
# More answers than the socket holds (the agent's send buffer), and far
# under the 1 MiB limit.
try:
    wmem = int(open("/proc/sys/net/core/wmem_default").read())
except (OSError, ValueError):
    wmem = 212992
one = len(request(lazy, b"\x0b") or b"") + 4
flood = (struct.pack(">I", 1) + b"\x0b") * ((wmem + 400000) // one)
lazy.sendall(flood)
patient.sendall(flood)
asked = time.time()
tap.ok(tap.wait_for(lambda: "has not read its answer for" in
                    open(lazy_log).read(), 20) and closed(lazy, 5),
       "HWK_AGENT_WRITE_TIMEOUT=1: an answer unread for a second gets its "
       "client dropped", open(lazy_log).read())
tap.ok(time.time() - asked < 30, "... well before the default 60 s",
       time.time() - asked)
tap.ok(*ssh_add_l(lazy_sock, "... and the agent serves the next client"))
time.sleep(max(0, asked + 3 - time.time()))
tap.ok(not closed(patient, 1) and
       "has not read" not in open(patient_log).read(),
       "without it, the same client is kept past 3 s",
       open(patient_log).read())
tap.stop(lazy_agent)
tap.stop(patient_agent)
for bad in ("0", "86401", "1x", "-1", ""):
    odd_agent, _ = start_agent("odd" + bad, [key], extra_env={
        "HWK_AGENT_WRITE_TIMEOUT": bad})
    odd_log = os.path.join(tmp, "odd" + bad + ".log")
    tap.ok(tap.wait_for(lambda: "HWK_AGENT_WRITE_TIMEOUT is not a number "
                        "of seconds from 1 to 86400: using 60" in
                        open(odd_log).read()),
           "HWK_AGENT_WRITE_TIMEOUT=%s is refused, and 60 s kept" % bad,
           open(odd_log).read())
    tap.stop(odd_agent)

# Many clients at once.
results = []


def one():
    r = tap.run(["ssh-add", "-l"], env=aenv)
    results.append(r.returncode == 0 and "agent@test" in r.stdout)


threads = [threading.Thread(target=one) for _ in range(40)]
for t in threads:
    t.start()
for t in threads:
    t.join()
tap.ok(len(results) == 40 and all(results), "40 concurrent ssh-add -l",
       results)

# Hundreds of idle connections do not lock the user out: the agent raises
# its soft fd limit to the hard one...
hard = min(lim[1], 1024)
if hard >= 400:
    crowd_agent, crowd_sock = start_agent("crowd", [key], nofile=(128, hard))
    crowd = connect_many(crowd_sock, 300)
    tap.ok(*ssh_add_l(crowd_sock,
                      "300 idle connections, then ssh-add -l is answered"))
    tap.ok(len(crowd) == 300 and
           all((request(c, b"\x0b") or b"")[:1] == b"\x0c"
               for c in (crowd[0], crowd[-1])),
           "and the first and last of them are still answered", len(crowd))
    for c in crowd:
        c.close()
    tap.stop(crowd_agent)
else:
    tap.skip("300 connections (hard fd limit %d)" % lim[1])

# ... and out of descriptors, the longest idle makes way for the new one.
tight_agent, tight_sock = start_agent("tight", [key], nofile=(64, 64))
tight = connect_many(tight_sock, 100)
last = request(tight[-1], b"\x0b")
tap.ok(len(tight) == 100 and last is not None and last[:1] == b"\x0c",
       "64 fds, 100 connections: the newest is answered", len(tight))
tap.ok(*ssh_add_l(tight_sock, "then ssh-add -l is answered"))
tap.ok(closed(tight[0], 2) and tight_agent.poll() is None,
       "the longest idle connection was closed to make room")
for c in tight:
    c.close()
tap.stop(tight_agent)
tap.ok("the one idle longest" in open(os.path.join(tmp, "tight.log")).read(),
       "and that is logged")

# The slow clients, past four times the agents' time limit.
time.sleep(max(0, started + KEPT - time.time()))
a = request(idle, b"\x0b")
tap.ok(a is not None and a[:1] == b"\x0c",
       "a client idle for %d s is answered" % (time.time() - started))
try:
    half.sendall(struct.pack(">I", 1)[2:] + b"\x0b")
except OSError:
    pass
a = answer(half)
tap.ok(a is not None and a[:1] == b"\x0c",
       "a request sent over %d s is answered" % (time.time() - started))
slow_thread.join()
tap.ok(slow_answer and isinstance(slow_answer[0], bytes) and
       slow_answer[0][:1] == b"\x0e" and b"ssh-ed25519" in slow_answer[0],
       "a signature that waited %d s for askpass is answered" % KEPT,
       slow_answer)
tap.stop(slow_agent)
tap.stop(kept_agent)

# Another user is refused even when the socket is open to all.
if os.getuid() == 0:
    os.chmod(tmp, 0o711)
    os.chmod(adir, 0o755)
    os.chmod(sock, 0o666)
    r = tap.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                 "--clear-groups", "ssh-add", "-l"], env=aenv)
    os.chmod(adir, 0o700)
    os.chmod(sock, 0o600)
    os.chmod(tmp, 0o700)
    tap.ok(r.returncode != 0 and "agent@test" not in r.stdout,
           "a client of another uid is refused", r.stdout + r.stderr)
    tap.ok("refused a client of uid" in open(log.name).read(),
           "and that is logged")
else:
    tap.skip("another uid (needs root)")

tap.ok(agent.poll() is None, "the agent survived all of it")
agent.send_signal(signal.SIGTERM)
rc = agent.wait(10)
tap.ok(rc == 0, "SIGTERM: exits 0", rc)
tap.ok(not os.path.exists(sock) and not os.path.exists(sock + ".pid"),
       "socket and pid file removed")

# Daemon mode with -s, then -k.
r = tap.run([tap.AGENT, "-s", key], env=env)
lines = dict(l.split("=", 1) for l in r.stdout.split(";") if "=" in l)
dsock = lines.get("SSH_AUTH_SOCK", "").strip()
dpid = int(lines.get("\nSSH_AGENT_PID", "0").strip() or 0)
tap.ok(r.returncode == 0 and dsock and dpid > 0, "-s prints sh lines",
       r.stdout + r.stderr)
if dpid > 0:
    tap.at_exit(lambda: os.kill(dpid, signal.SIGKILL))
r2 = tap.run(["ssh-add", "-l"], env=dict(env, SSH_AUTH_SOCK=dsock))
tap.ok(r2.returncode == 0, "the daemon answers", r2.stderr)
r3 = tap.run([tap.AGENT, "-k"], env=dict(env, SSH_AGENT_PID=str(dpid)))
tap.ok(r3.returncode == 0 and "unset SSH_AUTH_SOCK;" in r3.stdout,
       "-k stops it and prints unset lines", r3.stdout + r3.stderr)
tap.ok(tap.wait_for(lambda: not os.path.exists(dsock)),
       "the daemon's socket is gone")
tap.ok(tap.wait_for(lambda: not os.path.exists(os.path.dirname(dsock))),
       "and its folder")
tap.done()
