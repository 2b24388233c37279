# hwkey-agent add on a terminal: the TPM password (swtpm) or token PIN
# (SoftHSM2) typed at its prompt is checked once by the agent, which then
# signs with no askpass at all; a wrong one adds nothing; -t forgets it,
# ssh-add -x too; with no terminal the key is added without it, said so.
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pexpect  # noqa: E402
import pty_flow  # noqa: E402
import tap  # noqa: E402

tmp = tap.tempdir()
env = {k: v for k, v in os.environ.items()
       if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS",
                    "SSH_ASKPASS_REQUIRE", "SSH_AGENT_PID")}
env.update(HOME=tmp, LC_ALL="C")

def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


# A swtpm of our own (ports P and P+1) and a SoftHSM2 token.
for _ in range(5):
    port = tap.free_port()
    sw = tap.start(["swtpm", "socket", "--tpm2", "--server",
                    "type=tcp,port=%d,bindaddr=127.0.0.1" % port, "--ctrl",
                    "type=tcp,port=%d,bindaddr=127.0.0.1" % (port + 1),
                    "--tpmstate", "dir=" + tmp, "--flags",
                    "not-need-init,startup-clear"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if tap.wait_for(lambda: sw.poll() is not None or listening(port)) \
            and sw.poll() is None:
        break
env["TPM2TOOLS_TCTI"] = "swtpm:host=127.0.0.1,port=%d" % port
mod = tap.softhsm_module()
tap.softhsm_token(env, tmp, "tok", "1234")
pin = os.path.join(tmp, "pin")
open(pin, "w").write("1234\n")
os.chmod(pin, 0o600)

tpm = os.path.join(tmp, "tpmpw")
tok = os.path.join(tmp, "tok")
for argv in (["--backend", "tpm2", "-N", "tpm pass", "-C", "tpmpw@t",
              "-f", tpm],
             ["--backend", "pkcs11", "--module", mod, "--pin-source",
              "file:" + pin, "-C", "tok@t", "-f", tok]):
    tap.run([tap.HWK, "-q", "-t", "ecdsa"] + argv, env=env, check=True)

adir = os.path.join(tmp, "adir")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
env["SSH_AUTH_SOCK"] = sock
log = open(os.path.join(tmp, "agent.log"), "w+")
agent = tap.start([tap.AGENT, "-D", "-a", sock, tpm], env=env,
                  stdout=subprocess.DEVNULL, stderr=log)
tap.wait_for(lambda: os.path.exists(sock))
doc = os.path.join(tmp, "doc")
open(doc, "w").write("signed through the agent\n")


def signs(key):
    """ssh-keygen -Y sign through the agent, with no terminal to ask on."""
    for f in (doc + ".sig",):
        if os.path.exists(f):
            os.unlink(f)
    return subprocess.run(["ssh-keygen", "-Y", "sign", "-f", key + ".pub",
                           "-n", "file", doc], env=env, capture_output=True,
                          stdin=subprocess.DEVNULL,
                          start_new_session=True).returncode == 0


def add(args, answer=None, expect="Enter "):
    """hwkey-agent add on a pty; answers its prompt.  (status, output)."""
    c = pexpect.spawn(tap.AGENT, ["add"] + args, env=env, encoding="utf-8",
                      timeout=60)
    c.delaybeforesend = None
    out = ""
    if answer is not None:
        c.expect(expect)
        out = c.before + c.after
        c.sendline(answer)
    c.expect(pexpect.EOF)
    out += c.before
    pty_flow.reap(c)
    return c.exitstatus, out


def listed():
    p = subprocess.run(["ssh-add", "-L"], env=env, capture_output=True,
                       text=True)
    if p.returncode != 0:  # "The agent has no identities."
        return []
    return [line.split()[2] for line in p.stdout.splitlines()]


fp = subprocess.run(["ssh-keygen", "-lf", tpm + ".pub"], capture_output=True,
                    text=True).stdout.split()[1]
tap.ok(not signs(tpm), "before add: the TPM key with a password does not "
       "sign (no askpass, no terminal)")

# A wrong password: refused, nothing signs.
rc, out = add(["-a", sock, tpm], "wrong")
tap.ok(("Enter TPM password for tpmpw@t (%s): " % fp) in out,
       "the prompt names the key: comment, fingerprint, TPM password", out)
tap.ok(rc == 1 and "the secret was not accepted" in out and
       "the stub was not added" in out, "a wrong TPM password: add fails, "
       "exit 1, said so", "exit %s: %s" % (rc, out))
tap.ok(not signs(tpm), "after a wrong password nothing signs")

# The token: a wrong PIN adds nothing.
rc, out = add([tok], "0000")
tap.ok(rc == 1 and 'Enter PIN of token "tok" for tok@t' in out and
       "the secret was not accepted" in out and listed() == ["tpmpw@t"],
       "a wrong token PIN: add fails, the key is not added",
       "exit %s: %s" % (rc, out))

# The right ones, for 2 s: both sign without asking, then no more.
rc, out = add(["-t", "2", tpm], "tpm pass")
tap.ok(rc == 0 and "secret checked; kept for 2 s" in out,
       "the right TPM password with -t 2: added, said so",
       "exit %s: %s" % (rc, out))
rc, out = add(["-t", "2", tok], "1234")
t0 = time.time()
tap.ok(rc == 0 and listed() == ["tpmpw@t", "tok@t"],
       "the right token PIN with -t 2: added", "exit %s: %s" % (rc, out))
tap.ok(signs(tpm) and signs(tok), "the agent signs with the TPM key and "
       "the token key without asking")
# One wait past the lifetime (the least -t takes is 1 s).
time.sleep(max(0.0, t0 + 2.2 - time.time()))
tap.ok(not signs(tpm) and not signs(tok) and
       listed() == ["tpmpw@t", "tok@t"], "after the -t lifetime both are "
       "listed but need their secret again")

# ssh-add -x forgets it: after -X the key needs the password again.
rc, out = add(["-t", "1h30m", tpm], "tpm pass")
tap.ok(rc == 0 and "kept for 5400 s" in out and signs(tpm),
       "added again with -t 1h30m (as ssh-add -t): signs", out)
lockenv = dict(env, SSH_ASKPASS=os.path.join(tmp, "lockpw"),
               SSH_ASKPASS_REQUIRE="force")
open(lockenv["SSH_ASKPASS"], "w").write("#!/bin/sh\necho lockpw\n")
os.chmod(lockenv["SSH_ASKPASS"], 0o700)
for flag in ("-x", "-X"):
    r = subprocess.run(["ssh-add", flag], env=lockenv, capture_output=True,
                       stdin=subprocess.DEVNULL, start_new_session=True)
tap.ok(r.returncode == 0 and not signs(tpm) and
       listed() == ["tpmpw@t", "tok@t"], "ssh-add -x wipes the password: "
       "after -X the key is listed but does not sign", r.stderr)
r = subprocess.run(["ssh-add", "-D"], env=env, capture_output=True)
tap.ok(r.returncode == 0 and listed() == [], "ssh-add -D removes both",
       "exit %d: %s; listed %s" % (r.returncode, r.stderr, listed()))

for life in ("0", "5x"):
    r = subprocess.run([tap.AGENT, "add", "-t", life, tok], env=env,
                       capture_output=True, text=True)
    tap.ok(r.returncode == 2 and "not a lifetime" in r.stderr,
           "add -t %s: refused, exit 2" % life, r.stderr)

# No terminal: added without the secret, and said so.
r = subprocess.run([tap.AGENT, "add", tok], env=env, capture_output=True,
                   text=True, stdin=subprocess.DEVNULL,
                   start_new_session=True)
tap.ok(r.returncode == 0 and "no terminal to ask its secret on" in r.stderr
       and listed() == ["tok@t"] and not signs(tok),
       "no terminal: added without the PIN, said so; it does not sign",
       r.stderr)

tap.stop(agent)
log.seek(0)
text = log.read()
tap.ok("tpmpw@t (%s) needs its TPM password: not asked: no display; give "
       "it with hwkey-agent add on a terminal" % fp in text,
       "at the start the agent says which key needs a secret and how", text)
tap.ok("there is no way to ask: give it with hwkey-agent add STUB on a "
       "terminal" in text, "a signature refused for want of a secret "
       "points to hwkey-agent add", text)
tap.ok("the secret given by hwkey-agent add was refused" in text and
       "the lifetime of its secret is over; forgotten" in text,
       "the agent logged the wrong secret and the expiry", text)
tap.done()
