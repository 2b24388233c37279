# The ssh-keygen flow on a pseudo-terminal: prompts, answers, end of input,
# Ctrl-C, compared with what ssh-keygen itself prints.  Prints TAP.
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402
import tap  # noqa: E402

BUILD = tap.BUILD
HWK = tap.HWK
ok = tap.ok


spawn = pty_flow.spawn
transcript = pty_flow.transcript
finish = pty_flow.finish


tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
ssh = os.path.join(home, ".ssh")
key = os.path.join(ssh, "id_rsa")

# 1. Enter keeps the default; ~/.ssh is made; a mismatch asks again.
out, rc = transcript([HWK, "-b", "2048", "-C", "you@example.com"], home,
                     ["", "one", "two", "pass phrase", "pass phrase"])
ok(rc == 0, "default flow exits 0", out)
expect_start = ("Generating public/private rsa key pair.\n"
                "Enter file in which to save the key (%s): \n"
                "Created directory '%s'.\n"
                "Enter passphrase (empty for no passphrase): \n"
                "Enter same passphrase again: \n"
                "Passphrases do not match.  Try again.\n"
                "Enter passphrase (empty for no passphrase): \n"
                "Enter same passphrase again: \n"
                "Your identification has been saved in %s\n"
                "Your public key has been saved in %s.pub\n"
                "The key fingerprint is:\n" % (key, ssh, key, key))
# With --backend auto, one line first says which backend and why.
first, rest = out.split("\n", 1)
ok(first.endswith(": using software") or first == "using software",
   "says which backend it chose and why", first)
ok(rest.startswith(expect_start), "prompts and messages word for word",
   out)
ok(os.path.isdir(ssh) and stat.S_IMODE(os.stat(ssh).st_mode) == 0o700,
   "~/.ssh created 0700")
r = subprocess.run(["ssh-keygen", "-y", "-P", "pass phrase", "-f", key],
                   capture_output=True, text=True)
ok(r.returncode == 0, "the typed passphrase protects the key", r.stderr)
fp = subprocess.run(["ssh-keygen", "-l", "-f", key + ".pub"],
                    capture_output=True, text=True).stdout.split()[1]
ok(("\n%s you@example.com\n" % fp) in out, "fingerprint line printed")
art = subprocess.run(["ssh-keygen", "-lv", "-f", key + ".pub"],
                     capture_output=True, text=True).stdout
art = "\n".join(art.splitlines()[1:]) + "\n"
ok(out.endswith("The key's randomart image is:\n" + art),
   "randomart printed as ssh-keygen draws it", out)

# 2. Same transcript as ssh-keygen's for the same answers (-f given).
theirs, trc = transcript(["ssh-keygen", "-t", "rsa", "-b", "2048", "-C",
                          "x@y", "-f", os.path.join(tmp, "theirs")],
                         home, ["a", "b", "", ""])
ours, orc = transcript([HWK, "--backend", "software", "-t", "rsa", "-b",
                        "2048", "-C", "x@y", "-f",
                        os.path.join(tmp, "ours")], home,
                       ["a", "b", "", ""])
norm = lambda s, w: re.sub(r"SHA256:\S+", "FP",
                           s.split("The key's randomart")[0]
                           ).replace(os.path.join(tmp, w), "KEY")
ok(trc == 0 and orc == 0 and norm(ours, "ours") == norm(theirs, "theirs"),
   "same transcript as ssh-keygen", "ours:\n%s\ntheirs:\n%s" % (
       norm(ours, "ours"), norm(theirs, "theirs")))

# From here on the keys are Ed25519 where their type is not the subject:
# an RSA key costs a hundred times more to make.
ED = [HWK, "-t", "ed25519"]

# 3. An existing key (the default file for its type): anything but y keeps
# it.
key = os.path.join(ssh, "id_ed25519")
subprocess.run(ED + ["-q", "-N", "", "-f", key], check=True)
before = open(key).read()
out, rc = transcript(ED, home, ["", "n"])
ok(rc == 3, "answering n exits 3", out)
ok("%s already exists.\nOverwrite (y/n)? n\n" % key in out,
   "asks ssh-keygen's overwrite question", out)
ok(open(key).read() == before, "answering n leaves the key as it was")
out, rc = transcript(ED, home, ["", "y", "", ""])
ok(rc == 0 and open(key).read() != before, "answering y replaces it",
   out)

# 4. --backup: no question, the old pair moves to key_backup/.
before = open(key + ".pub").read()
out, rc = transcript(ED + ["--backup"], home, ["", "", ""])
ok(rc == 0 and "Overwrite" not in out, "--backup does not ask", out)
bdir = os.path.join(ssh, "key_backup")
moved = [f for f in os.listdir(bdir) if f.endswith(".pub")] \
    if os.path.isdir(bdir) else []
ok(len(moved) == 1 and open(os.path.join(bdir, moved[0])).read() ==
   before, "old pair kept in ~/.ssh/key_backup/", moved)
ok(stat.S_IMODE(os.stat(bdir).st_mode) == 0o700, "key_backup is 0700")
ok("Your old key pair has been moved to %s/" % bdir in out,
   "says where the old pair went", out)

# 5. End of input at the passphrase prompt: nothing written.
k5 = os.path.join(tmp, "eof")
c = spawn(ED + ["-f", k5], home)
c.expect("Enter passphrase")
c.sendeof()
rc, sig = finish(c)
ok(rc == 3 and not os.path.exists(k5) and not os.path.exists(k5 + ".pub"),
   "EOF at the passphrase prompt: exit 3, no files", c.before)
ok("no passphrase given" in c.before, "EOF says what happened", c.before)

# 6. Ctrl-C at the passphrase prompt: nothing written, echo restored.
c = spawn(ED + ["-f", k5], home)
c.expect("Enter passphrase")
c.sendintr()
rc, sig = finish(c)
ok(sig == signal.SIGINT and not os.path.exists(k5),
   "Ctrl-C at the prompt ends it and writes nothing", (rc, sig))
leftovers = [f for f in os.listdir(tmp) if ".hwk-" in f]
ok(leftovers == [], "no temporary files left", leftovers)

# 7. A typed file name is used.
k7 = os.path.join(tmp, "typed")
out, rc = transcript(ED, home, [k7, "", ""])
ok(rc == 0 and os.path.exists(k7) and os.path.exists(k7 + ".pub"),
   "a typed file name is used", out)

# 8. No terminal at all: the passphrase comes from stdin, as ssh-keygen.
# (2 KDF rounds: the cost is not the subject.)
k8 = os.path.join(tmp, "piped")
r = subprocess.run(["setsid"] + ED + ["-q", "-a", "2", "-f", k8],
                   input="pw8\npw8\n", capture_output=True, text=True,
                   env=dict(os.environ, HOME=home))
ok(r.returncode == 0, "passphrase read from stdin without a tty",
   r.stderr)
r2 = subprocess.run(["ssh-keygen", "-y", "-P", "pw8", "-f", k8],
                    capture_output=True, text=True)
ok(r2.returncode == 0, "and it is the key's passphrase", r2.stderr)
k9 = os.path.join(tmp, "devnull")
r = subprocess.run(["setsid"] + ED + ["-q", "-f", k9],
                   stdin=subprocess.DEVNULL, capture_output=True,
                   text=True, env=dict(os.environ, HOME=home))
ok(r.returncode == 3 and not os.path.exists(k9),
   "stdin at EOF and no tty: exit 3, nothing written", r.stderr)
ok("-N ''" in r.stderr, "and says how to give a passphrase", r.stderr)
# 9. A slow generation shows the seconds on a terminal, and only there.
# Each takes 2 s more: the count shows from the first second.  The one
# without a terminal runs meanwhile.
slow = dict(LD_PRELOAD=os.path.join(BUILD, "tests", "keygentime.so"),
            HWK_KEYGEN_DELAY="2")
k10 = os.path.join(tmp, "slow")
quiet = subprocess.Popen([HWK, "-b", "2048", "-N", "", "-f", k10 + "b"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, HOME=home, **slow))
c = pexpect.spawn(HWK, ["-b", "2048", "-N", "", "-f", k10],
                  env=dict(os.environ, HOME=home, **slow),
                  encoding="utf-8", timeout=60)
# (Whichever second it first shows: a loaded machine may not run the
# counter's thread in the first one.)
i = c.expect([r"Generating the 2048-bit key \(software\)\.\.\. [1-9]\d* s",
              pexpect.EOF])
ok(i == 0, "a slow generation shows elapsed seconds", c.before)
finish(c)
ok(c.exitstatus == 0 and "\x1b[K" in c.before,
   "and clears the line when done", repr(c.before[:200]))
_, err = quiet.communicate()
ok(quiet.returncode == 0 and "Generating the" not in err,
   "no progress when not on a terminal", err)
# 10. A token's PIN prompt is not overwritten by the seconds counter,
# and the count starts after the PIN is in.
mod = tap.softhsm_module()
if mod is not None:
    # The token takes 1.5 s more to make the key: the count shows from the
    # first second after the PIN.
    senv = dict(os.environ, HOME=home, HWK_FAKE_REAL=mod,
                HWK_FAKE_DELAY_MS="1500")
    tap.softhsm_token(senv, os.path.join(tmp, "softhsm"), "pty", "1234")
    k11 = os.path.join(tmp, "tok")
    # (ECDSA P-256: the PIN's prompt and the count are the subject.)
    c = pexpect.spawn(HWK, ["--backend", "pkcs11", "--module",
                            os.path.join(BUILD, "tests",
                                         "pkcs11_fault.so"), "-t", "ecdsa",
                            "-f", k11],
                      env=senv, encoding="utf-8", timeout=60)
    c.expect("Enter PIN for 'pty'")
    # The user takes a while to type: longer than the second after which a
    # count that ran on would show.
    time.sleep(1.25)
    c.sendline("1234")
    typed = time.time()
    c.expect(pexpect.EOF)
    after_pin = time.time() - typed
    pty_flow.reap(c)
    out = c.before
    ok(c.exitstatus == 0, "token key made after a slow PIN", out)
    at_prompt = out.split("Enter PIN for 'pty': ", 1)[-1].split("\n")[0]
    ok("Generating" not in at_prompt,
       "the seconds counter leaves the PIN prompt alone", repr(at_prompt))
    shown = [int(x) for x in re.findall(r"\(pkcs11\)\.\.\. (\d+) s", out)]
    ok(shown and max(shown) <= after_pin,
       "and counts from when the PIN is in (%s s shown, %.1f s after "
       "the PIN)" % (shown and max(shown), after_pin), repr(out[-300:]))
else:
    tap.skip("SoftHSM2 is not installed")

tap.done()
