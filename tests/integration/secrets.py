# While hwkeygen holds a secret (a passphrase prompt is open) it is not
# dumpable and makes no core file, as hwkey-agent.  Runs hwkeygen as an
# unprivileged user on a pseudo-terminal; prints TAP.
import os
import shutil
import subprocess
import sys
import tempfile

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402

HWK = tap.HWK
NOBODY = 65534
ok = tap.ok


def as_nobody(argv):
    """argv run as user nobody (setpriv execs it: same pid)."""
    if os.getuid() != 0:
        return argv
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
            "--clear-groups"] + argv


def core_limit(pid):
    """Soft and hard "Max core file size" of /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    return None


def at_prompt(argv, prompt, home, desc):
    env = dict(os.environ, HOME=home, LC_ALL="C")
    c = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8",
                      timeout=60)
    try:
        c.expect(prompt)
        uid = os.stat("/proc/%d/status" % c.pid).st_uid
        # The kernel gives /proc/PID/status to root when the process is not
        # dumpable (PR_SET_DUMPABLE 0), to its user otherwise.
        ok(uid == 0, "%s: not dumpable while the prompt is open" % desc,
           "/proc/%d/status belongs to uid %d" % (c.pid, uid))
        ok(core_limit(c.pid) == ["0", "0"],
           "%s: no core file (limit 0)" % desc, core_limit(c.pid))
    finally:
        c.close(force=True)


tmp = tempfile.mkdtemp(prefix="hwk-secrets.")
try:
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    key = os.path.join(tmp, "key")
    if os.getuid() == 0:
        os.chmod(tmp, 0o755)
        os.chown(home, NOBODY, NOBODY)
        os.chown(tmp, NOBODY, NOBODY)
    # (Ed25519 with 2 KDF rounds: the prompt is the subject, not the key.)
    subprocess.run(as_nobody([HWK, "-q", "--backend", "software", "-t",
                              "ed25519", "-a", "2", "-N", "a passphrase",
                              "-f", key]),
                   check=True, env=dict(os.environ, HOME=home))
    at_prompt(as_nobody([HWK, "-y", "-f", key]), "Enter passphrase: ", home,
              "-y of an encrypted key")
    at_prompt(as_nobody([HWK, "--backend", "software", "-b", "2048", "-f",
                         os.path.join(tmp, "new")]),
              r"Enter passphrase \(empty for no passphrase\): ", home,
              "a new key")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

tap.done()
