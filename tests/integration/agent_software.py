# hwkey-agent with a key it can hold in any backend (software): stock
# ssh-add, ssh and ssh-keygen -Y through it, hostile clients, many clients,
# start and stop.  The TPM and token keys are tested in tpm2/pkcs11 tests.
import os
import pwd
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

adir = os.path.join(tmp, "agent")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
log = open(os.path.join(tmp, "agent.log"), "w")
agent = tap.start([tap.AGENT, "-d", "-a", sock, key], stdout=subprocess.PIPE,
                  stderr=log, env=env, text=True)
tap.ok(tap.wait_for(lambda: os.path.exists(sock)), "agent listens")
first = agent.stdout.readline()
tap.ok(first == "SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n" % sock,
       "prints the SSH_AUTH_SOCK line", first)
tap.ok(oct(os.stat(sock).st_mode & 0o777) == "0o600", "socket is 0600")
aenv = dict(env, SSH_AUTH_SOCK=sock)

# What ssh-add sees.
r = tap.run(["ssh-add", "-l"], env=aenv)
want = tap.run(["ssh-keygen", "-l", "-f", key + ".pub"]).stdout
tap.ok(r.returncode == 0 and r.stdout == want, "ssh-add -l lists the key",
       r.stdout + r.stderr)
r = tap.run(["ssh-add", "-L"], env=aenv)
tap.ok(r.stdout == open(key + ".pub").read(), "ssh-add -L gives the .pub",
       r.stdout)
r = tap.run(["ssh-add", "-D"], env=aenv)
tap.ok(r.returncode != 0, "ssh-add -D refused (read-only agent)")
r = tap.run(["ssh-add", key], env=aenv)
tap.ok(r.returncode != 0, "ssh-add KEY refused (read-only agent)")

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


def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock)
    return s


def request(s, payload):
    s.sendall(struct.pack(">I", len(payload)) + payload)
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


# A client that sends half a request and waits: dropped after a while.
half = connect()
half.sendall(struct.pack(">I", 100) + b"\x0b")
half_started = time.time()

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

tap.ok(closed(half, max(1, 15 - (time.time() - half_started))),
       "half a request is dropped after the timeout")

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
