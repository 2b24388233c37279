# What the person waits for on a pseudo-terminal: the bcrypt KDF of a new
# key file runs while the passphrase is typed again, is thrown away on a
# mismatch, and stops on end of input.  Prints TAP.
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402
import tap  # noqa: E402

HWK = tap.HWK
ok = tap.ok
spawn = pty_flow.spawn
finish = pty_flow.finish

tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
# Ed25519: its keygen takes no time, so what is left is the KDF's.
ED = [HWK, "--backend", "software", "-t", "ed25519"]
PASS1 = r"Enter passphrase \(empty for no passphrase\): "
PASS2 = "Enter same passphrase again: "


def cpu_of(argv):
    """The CPU seconds argv takes (user + system)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def cpu_now(pid):
    """The CPU seconds process pid (all its threads) has used so far."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def opens(path, pw):
    r = subprocess.run(["ssh-keygen", "-y", "-P", pw, "-f", path],
                       capture_output=True, text=True)
    return r.returncode == 0


# What a KDF of ROUNDS costs here, in CPU time (which a loaded machine
# stretches far less than wall time): opening such a key.
ROUNDS = 32
ref = os.path.join(tmp, "ref")
subprocess.run(ED + ["-q", "-a", str(ROUNDS), "-N", "pw", "-f", ref],
               check=True)
kdf = cpu_of([HWK, "-y", "-P", "pw", "-f", ref])


def typed_slowly(path, pairs):
    """Answers each pair of passphrase prompts, the second once hwkeygen
    has spent the KDF's CPU time since the first (or after 10 s, if it
    does not); returns the exit status, the output, and the CPU time spent
    before each second answer."""
    c = spawn(ED + ["-a", str(ROUNDS), "-f", path], home)
    out, ahead = "", []
    for p1, p2 in pairs:
        c.expect(PASS1)
        out += c.before
        c.sendline(p1)
        c.expect(PASS2)
        t0, c0 = time.monotonic(), cpu_now(c.pid)
        # The person types the confirmation.
        while cpu_now(c.pid) - c0 < 0.9 * kdf and time.monotonic() - t0 < 10:
            time.sleep(0.02)
        ahead.append(cpu_now(c.pid) - c0)
        c.sendline(p2)
    rc, _ = finish(c)
    return rc, out + c.before, ahead


# 1. The KDF is done by the time the confirmation is in.
k1 = os.path.join(tmp, "k1")
rc, out, ahead = typed_slowly(k1, [("pass phrase", "pass phrase")])
ok(rc == 0, "key made", out)
ok(ahead[0] >= 0.8 * kdf, "the KDF ran while the confirmation was typed "
   "(%.2f s of CPU before it; the KDF takes %.2f s)" % (ahead[0], kdf))
ok(opens(k1, "pass phrase"),
   "the typed passphrase opens the key")

# 2. A mismatch throws the first KDF away; the second one is used.
k2 = os.path.join(tmp, "k2")
rc, out, ahead = typed_slowly(k2, [("first", "f1rst"), ("second",
                                                        "second")])
ok(rc == 0 and "Passphrases do not match.  Try again." in out,
   "a mismatch asks again", out)
ok(opens(k2, "second") and not opens(k2, "first"),
   "the key opens with the passphrase that matched, not the first")
ok(ahead[1] >= 0.8 * kdf, "and its KDF too ran during the confirmation "
   "(%.2f s of CPU before it)" % ahead[1])

# 3. End of input at the confirmation stops a long KDF at once.
k3 = os.path.join(tmp, "k3")
c = spawn(ED + ["-a", "100000", "-f", k3], home)
c.expect(PASS1)
c.sendline("long")
c.expect(PASS2)
c.sendeof()
t = time.monotonic()
rc, _ = finish(c)
took = time.monotonic() - t
ok(rc == 3 and not os.path.exists(k3) and not os.path.exists(k3 + ".pub"),
   "EOF at the confirmation: exit 3, nothing written", c.before)
ok(took < 2.0, "and the KDF under way stops (%.3f s; it "
   "would take minutes)" % took)

tap.done()
