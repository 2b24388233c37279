# hwkey-agent add: stubs added to the running agent, all or none, with a
# clear error (not a stub, no public key, too open, no agent, not our
# agent) and an exit status that says so; ssh-add -d removes one again.
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402

tmp = tap.tempdir()
env = dict(os.environ, HOME=tmp)
env.pop("SSH_AGENT_PID", None)
# Software Ed25519 keys: the agent loads any stub it is given, and adding
# is the subject here, not the device.
keys = {}
for k in ("k1", "k2", "k3"):
    keys[k] = os.path.join(tmp, k)
    tap.run([tap.HWK, "-q", "-t", "ed25519", "-N", "", "-C", k, "-f",
             keys[k]], check=True)
p11 = os.path.join(tmp, "p11")		# a token stub with no .pub beside it
with open(p11, "w") as f:
    f.write("pkcs11:token=none;id=%01\n")
adir = os.path.join(tmp, "adir")
os.mkdir(adir, 0o700)
sock = os.path.join(adir, "socket")
env["SSH_AUTH_SOCK"] = sock
agent = tap.start([tap.AGENT, "-D", "-a", sock, keys["k1"]], env=env,
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                  text=True)
tap.wait_for(lambda: os.path.exists(sock))


def add(*args, **kw):
    e = dict(env, **kw.get("env", {}))
    p = subprocess.run([tap.AGENT, "add"] + list(args), env=e, cwd=tmp,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    return p.returncode, p.stderr


def listed():
    p = subprocess.run(["ssh-add", "-L"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return [line.split()[2] for line in p.stdout.splitlines()]


def refused(args, words, desc):
    rc, err = add(*args)
    tap.ok(rc == 1 and words in err and listed() == ["k1"], desc,
           "exit %d: %s; listed %s" % (rc, err, listed()))


refused([p11], "no public key; put it beside the stub",
        "a stub with no public key is refused, and said so")
refused([keys["k2"] + ".pub"], "is not a key file hwkeygen knows",
        "a .pub is no stub")
refused(["nonexistent"], "nonexistent: No such file or directory",
        "a file that is not there")
refused([keys["k2"], p11], "none of the stubs was added",
        "all or nothing: the good stub is not added with the bad")
os.chmod(keys["k3"], 0o644)
refused([keys["k3"]], "are too open", "a private key others can read")
os.chmod(keys["k3"], 0o600)

rc, err = add("k2")			# relative to where add runs
tap.ok(rc == 0 and err == "Stub added: k2\n", "add k2 succeeds",
       "exit %d: %s" % (rc, err))
rc, err = add("-a", sock, keys["k3"], keys["k2"])
tap.ok(rc == 0 and listed() == ["k1", "k2", "k3"],
       "add -a SOCKET: a stub served already is fine, the new one added",
       "exit %d: %s; listed %s" % (rc, err, listed()))
rc = subprocess.run(["ssh-add", "-d", keys["k2"] + ".pub"], env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL).returncode
tap.ok(rc == 0 and listed() == ["k1", "k3"], "ssh-add -d removes one",
       "exit %d; listed %s" % (rc, listed()))

# No agent there, none named, and an agent that is not ours.
rc, err = add("-a", os.path.join(adir, "none"), keys["k2"])
tap.ok(rc == 1 and "cannot reach an agent at" in err and
       "is hwkey-agent running there?" in err, "no agent at -a: said so",
       "exit %d: %s" % (rc, err))
rc, err = add(keys["k2"], env={"SSH_AUTH_SOCK": ""})
tap.ok(rc == 1 and "SSH_AUTH_SOCK is not set" in err,
       "no SSH_AUTH_SOCK: said so", "exit %d: %s" % (rc, err))
rc, err = add()
tap.ok(rc == 2 and "Usage: hwkey-agent add" in err, "no stub: usage, exit 2",
       "exit %d: %s" % (rc, err))
other = os.path.join(adir, "ssh-agent")
sa = tap.start(["ssh-agent", "-D", "-a", other], env=env,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
tap.wait_for(lambda: os.path.exists(other))
rc, err = add("-a", other, keys["k2"])
tap.ok(rc == 1 and "is not a hwkey-agent" in err,
       "ssh-agent does not take stubs: said so", "exit %d: %s" % (rc, err))
tap.stop(sa)

tap.stop(agent)
log = agent.stderr.read()

# A stub given by a relative path still signs once the agent is in the
# background (in "/"), and its certificate is still looked for beside it.
bsock = os.path.join(adir, "bg")
r = subprocess.run([tap.AGENT, "-a", bsock, "k1"], env=env, cwd=tmp,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
at_kill = [tap.AGENT, "-k", "-a", bsock]
tap.at_exit(lambda: subprocess.run(at_kill, env=env, capture_output=True))
doc = os.path.join(tmp, "doc")
open(doc, "w").write("signed in the background\n")
s = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", keys["k1"] + ".pub",
                    "-n", "file", doc], env=dict(env, SSH_AUTH_SOCK=bsock),
                   capture_output=True, text=True)
tap.ok(r.returncode == 0 and s.returncode == 0,
       "a stub given relative to where the agent started signs in the "
       "background", r.stderr + s.stderr)
subprocess.run(at_kill, env=env, capture_output=True)
tap.ok("add-stub refused: " + p11 + ": no public key" in log and
       "added " + keys["k3"] + " (software)" in log,
       "the agent logged what it refused and what it added", log)
tap.done()
