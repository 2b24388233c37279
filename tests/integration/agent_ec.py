# hwkey-agent with ECDSA (P-256, P-384, P-521) and Ed25519 keys made by
# hwkeygen in software: stock ssh-add lists them and ssh-add -T passes,
# ssh-keygen -Y sign through the agent verifies, and stock ssh logs in to
# sshd on loopback with each.
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402
from sshd import start_sshd, ssh_argv  # noqa: E402

tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
env = dict(os.environ, HOME=home)
env.pop("SSH_AUTH_SOCK", None)

# (name, hwkeygen's type options, the key's SSH type)
KEYS = [
    ("ecdsa256", ["-t", "ecdsa"], "ecdsa-sha2-nistp256"),
    ("ecdsa384", ["-t", "ecdsa", "-b", "384"], "ecdsa-sha2-nistp384"),
    ("ecdsa521", ["-t", "ecdsa", "-b", "521"], "ecdsa-sha2-nistp521"),
    ("ed25519", ["-t", "ed25519"], "ssh-ed25519"),
]
paths = {}
for name, opts, _ in KEYS:
    paths[name] = os.path.join(tmp, "id_" + name)
    r = tap.run([tap.HWK, "-q", "--backend", "software"] + opts +
                ["-N", "", "-C", name + "@test", "-f", paths[name]])
    tap.ok(r.returncode == 0, "hwkeygen makes the %s key" % name, r.stderr)

adir = os.path.join(tmp, "agent")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
log = open(os.path.join(tmp, "agent.log"), "w")
agent = tap.start([tap.AGENT, "-d", "-a", sock] +
                  [paths[n] for n, _, _ in KEYS],
                  stdout=subprocess.DEVNULL, stderr=log, env=env)
tap.ok(tap.wait_for(lambda: os.path.exists(sock)), "agent listens")
aenv = dict(env, SSH_AUTH_SOCK=sock)

# The .pub lines, one a key: what sshd takes, and what ssh-keygen -l reads
# in one run.
auth = os.path.join(tmp, "authorized_keys")
open(auth, "w").write("".join(open(paths[n] + ".pub").read()
                              for n, _, _ in KEYS))

# What ssh-add sees: every key, as ssh-keygen -l prints it.
r = tap.run(["ssh-add", "-l"], env=aenv)
want = tap.run(["ssh-keygen", "-l", "-f", auth]).stdout
tap.ok(r.returncode == 0 and r.stdout == want, "ssh-add -l lists the keys",
       r.stdout + r.stderr)

# ssh-add -T: OpenSSH 9.2 asks for SHA-1 with RSA, never with these.
for name, _, _ in KEYS:
    r = tap.run(["ssh-add", "-T", paths[name] + ".pub"], env=aenv)
    tap.ok(r.returncode == 0, "ssh-add -T passes with %s" % name,
           r.stdout + r.stderr)

# ssh-keygen -Y sign through the agent, checked by ssh-keygen -Y verify.
msg = os.path.join(tmp, "msg")
open(msg, "w").write("signed through hwkey-agent\n")
for name, _, _ in KEYS:
    sig = msg + ".sig"
    if os.path.exists(sig):
        os.unlink(sig)
    pub = paths[name] + ".pub"
    r = tap.run(["ssh-keygen", "-Y", "sign", "-f", pub, "-n", "file", msg],
                env=aenv)
    allowed = os.path.join(tmp, "allowed")
    open(allowed, "w").write("me@test " + open(pub).read())
    v = tap.run(["ssh-keygen", "-Y", "verify", "-f", allowed, "-I",
                 "me@test", "-n", "file", "-s", sig], stdin=open(msg),
                env=aenv)
    tap.ok(r.returncode == 0 and v.returncode == 0,
           "ssh-keygen -Y sign with %s through the agent verifies" % name,
           r.stderr + v.stdout + v.stderr)

# Log in: ssh has only the .pub, so the agent signs.
user = pwd.getpwuid(os.getuid()).pw_name
port = start_sshd(os.path.join(tmp, "sshd"), auth)
for name, _, sshtype in KEYS:
    r = tap.run(ssh_argv(port, "-o", "IdentitiesOnly=yes",
                         "-o", "PubkeyAcceptedAlgorithms=" + sshtype,
                         "-i", paths[name] + ".pub", "%s@127.0.0.1" % user,
                         "echo", "hwk-login-ok"), env=aenv)
    tap.ok(r.stdout.strip() == "hwk-login-ok",
           "ssh logs in through the agent with " + sshtype, r.stderr)

tap.stop(agent)
log.close()
agent_log = open(os.path.join(tmp, "agent.log")).read()
tap.ok("signature failed" not in agent_log, "the agent logged no failure",
       agent_log)
tap.done()
