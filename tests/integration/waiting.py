# What the person waits for on a pseudo-terminal: a software key is made
# while the questions are asked, and a "n", end of input or Ctrl-C stops
# it; the bcrypt KDF of a new key file runs while the passphrase is typed
# again, is thrown away on a mismatch, and stops on end of input.  The
# seconds counter shows only while the person waits.  Prints TAP.
import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402
import tap  # noqa: E402

BUILD = tap.BUILD
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
# stretches far less than wall time): opening such a key, less opening
# one without a passphrase (a sanitizer's start and end cost much).
ROUNDS = 32
ref = os.path.join(tmp, "ref")
subprocess.run(ED + ["-q", "-a", str(ROUNDS), "-N", "pw", "-f", ref],
               check=True)
subprocess.run(ED + ["-q", "-N", "", "-f", ref + "0"], check=True)
# The least of three runs each: on a busy machine one run's CPU time may
# be inflated, and an inflated reference would fail the checks below.
kdf = min(cpu_of([HWK, "-y", "-P", "pw", "-f", ref]) for _ in range(3)) - \
    min(cpu_of([HWK, "-y", "-f", ref + "0"]) for _ in range(3))


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
        # From the first answer on: the KDF starts as it is read.
        t0, c0 = time.monotonic(), cpu_now(c.pid)
        c.sendline(p1)
        c.expect(PASS2)
        # The person types the confirmation: until the KDF's CPU time is
        # spent, or the program has used none for a second (done,
        # or never started), or 10 s.
        last, still = c0, time.monotonic()
        while cpu_now(c.pid) - c0 < 0.9 * kdf and time.monotonic() - t0 < 10:
            time.sleep(0.02)
            if cpu_now(c.pid) != last:
                last, still = cpu_now(c.pid), time.monotonic()
            elif time.monotonic() - still > 1.0:
                break
        ahead.append(cpu_now(c.pid) - c0)
        c.sendline(p2)
    rc, _ = finish(c)
    return rc, out + c.before, ahead


# 1. The KDF is done by the time the confirmation is in.  (Most of it: the
# reference, two whole runs apart, costs a little more than the KDF in
# the thread; one that did not run ahead would show next to nothing.)
k1 = os.path.join(tmp, "k1")
rc, out, ahead = typed_slowly(k1, [("pass phrase", "pass phrase")])
ok(rc == 0, "key made", out)
ok(ahead[0] >= 0.6 * kdf, "the KDF ran while the confirmation was typed "
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
ok(ahead[1] >= 0.6 * kdf, "and its KDF too ran during the confirmation "
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

# 4. The key is made while the first question waits for its answer: the
# shim notes each keygen as it ends, each made a second slower, so that
# a counter begun with it would show.
kt = os.path.join(tmp, "keygen-times")
open(kt, "w").close()
shim = dict(LD_PRELOAD=os.path.join(BUILD, "tests", "keygentime.so"),
            HWK_KEYGEN_TIME_FILE=kt, HWK_KEYGEN_DELAY="1")
k4 = os.path.join(tmp, "k4")
c = pty_flow.spawn([HWK, "--backend", "software", "-t", "rsa", "-b",
                    "2048"], home, env=shim)
c.expect(r"Enter file in which to save the key \(.*\): ")
t0 = time.monotonic()
while os.path.getsize(kt) == 0 and time.monotonic() - t0 < 20:
    time.sleep(0.05)	# the person reads the question
ok(os.path.getsize(kt) > 0, "the key was made while the file name was "
   "asked (%.1f s)" % (time.monotonic() - t0))
c.sendline(k4)
c.expect(PASS1)
c.sendline("early")
c.expect(PASS2)
c.sendline("early")
rc, _ = finish(c)
out = c.before
ok(rc == 0 and opens(k4, "early"), "and written with the passphrase "
   "typed after it", out)
ok("Generating the" not in out, "no seconds counter: no one waited",
   repr(out[:300]))

# A generation that failed in the background is told where the key is
# needed, after the questions, in the words and exit code of before.
k4f = os.path.join(tmp, "k4f")
c = pty_flow.spawn([HWK, "--backend", "software", "-t", "rsa", "-b",
                    "2048", "-f", k4f], home, env=dict(shim,
                                                       HWK_KEYGEN_FAIL="1"))
c.expect(PASS1)
c.sendline("")
c.expect(PASS2)
c.sendline("")
rc, _ = finish(c)
ok(rc == 1 and c.before.replace("\r\n", "\n").endswith(
    "\nhwkeygen: could not generate the key: OpenSSL could not generate an "
    "RSA-2048 key\n") and not os.path.exists(k4f),
   "a failed generation says so after the questions, exit 1", c.before)


def stopped(argv, answer, what):
    """Starts an RSA-16384 keygen (minutes), answers the prompts up to the
    one matching what with answer (a line, or EOF, or Ctrl-C); returns the
    exit status, the signal and how long it took to end."""
    c = spawn(argv, home)
    c.expect(what)
    t = time.monotonic()
    if answer is EOF:
        c.sendeof()
    elif answer is INTR:
        c.sendintr()
    else:
        c.sendline(answer)
    rc, sig = finish(c)
    return rc, sig, time.monotonic() - t, c.before


EOF, INTR = object(), object()
BIG = [HWK, "--backend", "software", "-t", "rsa", "-b", "16384"]
# 5. "n" at the overwrite question stops the generation under way.
k5 = os.path.join(tmp, "k5")
subprocess.run(ED + ["-q", "-N", "", "-f", k5], check=True)
before = open(k5).read()
rc, sig, took, out = stopped(BIG + ["-f", k5], "n", r"Overwrite \(y/n\)\? ")
ok(rc == 3 and open(k5).read() == before, "n keeps the old key, exit 3",
   out)
ok(took < 5, "and the generation under way stops (%.2f s)" % took)
# 6. End of input at the passphrase prompt: the same, nothing written.
k6 = os.path.join(tmp, "k6")
rc, sig, took, out = stopped(BIG + ["-f", k6], EOF, PASS1)
ok(rc == 3 and not os.path.exists(k6) and not os.path.exists(k6 + ".pub"),
   "EOF at the passphrase: exit 3, nothing written", out)
ok(took < 5, "and the generation under way stops (%.2f s)" % took)
# 7. Ctrl-C at the file name: the process ends there, nothing written.
rc, sig, took, out = stopped(BIG, INTR, r"Enter file in which")
ok(sig == signal.SIGINT and
   not os.path.exists(os.path.join(home, ".ssh", "id_rsa")),
   "Ctrl-C at the file name ends it, nothing written", (rc, sig, out))
ok(took < 5, "at once (%.2f s)" % took)

tap.done()
