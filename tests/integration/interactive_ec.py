# The ssh-keygen flow on a pseudo-terminal for ECDSA and Ed25519 keys: the
# default file follows the type, prompts and messages as ssh-keygen's for
# the same answers, and a bad size refused before any prompt.  Prints TAP.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402
import tap  # noqa: E402

transcript = pty_flow.transcript


def norm(s, path):
    """The transcript without its random parts or the file's name."""
    s = re.sub(r"SHA256:[A-Za-z0-9+/]{43}", "FP", s.replace(path, "KEY"))
    return re.sub(r"(?m)^\|.{17}\|$", "|ART|", s)


tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
ssh = os.path.join(home, ".ssh")
key = os.path.join(ssh, "id_ecdsa")

# 1. Enter keeps ~/.ssh/id_ecdsa; a mismatch asks again.
out, rc = transcript([tap.HWK, "-t", "ecdsa", "-C", "you@example.com"],
                     home, ["", "one", "two", "pass phrase",
                            "pass phrase"])
tap.ok(rc == 0, "-t ecdsa: the default flow exits 0", out)
first, rest = out.split("\n", 1)
tap.ok(first.endswith(": using software") or first == "using software",
       "-t ecdsa: says which backend it chose and why", first)
want = ("Generating public/private ecdsa key pair.\n"
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
tap.ok(rest.startswith(want), "-t ecdsa: prompts and messages word for "
       "word", out)
r = subprocess.run(["ssh-keygen", "-l", "-P", "pass phrase", "-f", key],
                   capture_output=True, text=True)
tap.ok(r.returncode == 0 and r.stdout.endswith(" (ECDSA)\n") and
       r.stdout.startswith("256 "), "~/.ssh/id_ecdsa is ECDSA 256",
       r.stdout + r.stderr)
art = subprocess.run(["ssh-keygen", "-lv", "-f", key + ".pub"],
                     capture_output=True, text=True).stdout
art = "\n".join(art.splitlines()[1:]) + "\n"
tap.ok(out.endswith("The key's randomart image is:\n" + art),
       "-t ecdsa: the randomart as ssh-keygen draws it", out)

# 2. The transcript of ssh-keygen for the same answers, each type.  Both
# take 2 KDF rounds: the cost shows nowhere in a transcript.
for opts in (["-t", "ecdsa", "-b", "384"], ["-t", "ecdsa", "-b", "521"],
             ["-t", "ed25519"]):
    theirs_path = os.path.join(tmp, "theirs-" + opts[1])
    ours_path = os.path.join(tmp, "ours-" + opts[1])
    for p in (theirs_path, ours_path):
        for f in (p, p + ".pub"):
            if os.path.exists(f):
                os.unlink(f)
    theirs, trc = transcript(["ssh-keygen"] + opts +
                             ["-a", "2", "-C", "x@y", "-f", theirs_path],
                             home, ["pw", "pw"])
    ours, orc = transcript([tap.HWK, "--backend", "software"] + opts +
                           ["-a", "2", "-C", "x@y", "-f", ours_path], home,
                           ["pw", "pw"])
    what = " ".join(opts)
    tap.ok(trc == 0 and orc == 0 and
           norm(ours, ours_path) == norm(theirs, theirs_path),
           "%s: the same transcript as ssh-keygen" % what,
           "ours:\n%s\ntheirs:\n%s" % (norm(ours, ours_path),
                                       norm(theirs, theirs_path)))
    r = subprocess.run(["ssh-keygen", "-y", "-P", "pw", "-f", ours_path],
                       capture_output=True, text=True)
    tap.ok(r.returncode == 0 and r.stdout == open(ours_path +
                                                   ".pub").read(),
           "%s: ssh-keygen opens the key with the typed passphrase" %
           what, r.stdout + r.stderr)

# 3. A size ssh-keygen has not: refused before any prompt.
out, rc = transcript([tap.HWK, "-t", "ecdsa", "-b", "384", "-b", "257"],
                     home, [])
tap.ok(rc == 2 and "Enter" not in out and
       "Invalid ECDSA key length: valid lengths are 256, 384 or 521 "
       "bits" in out, "-t ecdsa -b 257: exit 2, no prompt", out)
tap.done()
