# The old key on a token when its file is replaced: after "Overwrite (y/n)?
# y" a person at a terminal is asked whether it goes too; y deletes it once
# the new pair is saved, n keeps it and prints the command that deletes it;
# without a terminal, or with --backup, it stays and hwkeygen says so; a
# failed delete is a warning.  --list shows the keys no file names.  (ECDSA
# P-256 on SoftHSM2: which key goes is the subject, not its type.)  TAP.
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402
import tap  # noqa: E402

ok = tap.ok
mod = tap.softhsm_module()
if mod is None:
    tap.skip("SoftHSM2 is not installed")
    tap.done()
FAULT = os.path.join(tap.BUILD, "tests", "pkcs11_fault.so")
PIN = "246810"

tmp = tap.tempdir()
home = os.path.join(tmp, "home")
ssh = os.path.join(home, ".ssh")
os.makedirs(ssh)
os.environ["HOME"] = home
os.environ["HWK_FAKE_REAL"] = mod
tap.softhsm_token(os.environ, tmp, "old-test", PIN, "13579135",
                  "log.level = ERROR\nslots.removable = false\n")
pin = os.path.join(tmp, "pin")
open(pin, "w").write(PIN + "\n")
os.chmod(pin, 0o600)
GEN = [tap.HWK, "--backend", "pkcs11", "-t", "ecdsa"]


def make(path, comment, module=mod):
    """A key on the token, made without questions; its id."""
    tap.run(GEN + ["-q", "--module", module, "--pin-source", "file:" + pin,
                   "-C", comment, "-f", path], check=True)
    return re.search(r"[;:]id=%([0-9a-f]{2})", open(path).read()).group(1)


def ids():
    """The ids of the token's objects, each with its kinds, logged in."""
    r = tap.run(["pkcs11-tool", "--module", mod, "--login", "--pin", PIN,
                 "--list-objects"])
    found = {}
    kind = None
    for line in r.stdout.splitlines():
        m = re.match(r"(Private Key|Public Key|Certificate) Object", line)
        if m:
            kind = m.group(1).split()[0].lower()
        m = re.match(r"\s+ID:\s+([0-9a-f]+)", line)
        if m and kind:
            found.setdefault(m.group(1), []).append(kind)
    return found


def fp(pub):
    return tap.run(["ssh-keygen", "-l", "-f", pub]).stdout.split()[1]


def flow(argv, answers):
    """hwkeygen on a terminal: answers each question in turn (a dict of
    what it asks to the answer); the transcript and the exit status."""
    c = pty_flow.spawn(argv, home)
    out = ""
    keys = list(answers)
    while True:
        i = c.expect([re.escape(k) for k in keys] + [pty_flow.pexpect.EOF])
        out += c.before + (c.after if isinstance(c.after, str) else "")
        if i == len(keys):
            break
        c.sendline(answers[keys[i]])
    pty_flow.reap(c)
    return out.replace("\r\n", "\n"), c.exitstatus


OVER = "Overwrite (y/n)? "
ALSO = "Also delete the old key from token 'old-test'"
ENTER_PIN = "Enter PIN for 'old-test': "

# 1. y, y: the old key goes once the new pair is saved, after the PIN.
key = os.path.join(ssh, "id_a")
old = make(key, "old@a")
old_fp = fp(key + ".pub")
out, rc = flow(GEN + ["--module", mod, "-C", "new@a", "-f", key],
               {OVER: "y", ALSO: "y", ENTER_PIN: PIN})
ok(rc == 0, "y, y: exit 0", out)
ok(re.search(r"The old key %s old@a is on token 'old-test' \(serial \w+\) "
             r"under id %s\.\n" % (re.escape(old_fp), old), out),
   "it names the old key by its .pub's fingerprint and comment, token, id",
   out)
ok(re.search(r"Also delete the old key from token 'old-test' \(serial \w+\) "
             r"\(id %s\)\? \(y/n\) " % old, out), "the question names the "
             "token and the id", out)
ok(out.index(ALSO) < out.index(ENTER_PIN), "asked before the PIN", out)
ok(re.search(r"has been saved in %s\.pub\n(.|\n)*The old key \(id %s\) was "
             r"deleted from token 'old-test'" % (re.escape(key), old), out),
   "it says the old key was deleted, after the new pair was saved", out)
new = re.search(r"[;:]id=%([0-9a-f]{2})", open(key).read()).group(1)
have = ids()
ok(old not in have and new in have and new != old,
   "pkcs11-tool: the old id is gone, the new one is there", have)

# 2. y, n: the old key stays, with the command that deletes it; it works.
old = new
out, rc = flow(GEN + ["--module", mod, "-C", "newer@a", "-f", key],
               {OVER: "y", ALSO: "n", ENTER_PIN: PIN})
ok(rc == 0, "y, n: exit 0", out)
m = re.search(r"the old key \(id %s\) stays on token 'old-test' \(serial "
              r"\w+\), and no file names it now\.  Delete it with:\n  (.*)\n"
              % old, out)
ok(m, "n: it says the old key stays, and how to delete it", out)
ok(sorted(ids().get(old, [])) == ["private", "public"],
   "pkcs11-tool: the old key (both objects) is still there")
cmd = m.group(1).replace("--login", "--login --pin " + PIN) if m else "false"
r = tap.run(["bash", "-c", cmd])
ok(r.returncode == 0 and old not in ids(),
   "the command it printed deletes the old key", cmd + r.stdout + r.stderr)

# 3. No terminal: not asked, kept, and said so.
old = re.search(r"[;:]id=%([0-9a-f]{2})", open(key).read()).group(1)
r = tap.run(GEN + ["--module", mod, "--pin-source", "file:" + pin, "-f", key],
            input="y\n")
ok(r.returncode == 0 and "Also delete" not in r.stdout + r.stderr,
   "no terminal: the question is not put", r.stdout + r.stderr)
ok(re.search(r"the old key \(id %s\) stays on token 'old-test' .*\(not "
             r"asked: the input is not a terminal\)\.  Delete it with:\n  "
             r"for t in privkey pubkey; do pkcs11-tool --module \S+ "
             r"--token-label old-test --login --delete-object --type \$t "
             r"--id %s; done\n" % (old, old), r.stderr),
   "no terminal: it says the old key stays, with the command", r.stderr)
ok(old in ids(), "no terminal: the old key is still there")

# 4. --backup: the stub survives in key_backup/, which names the key.
old = re.search(r"[;:]id=%([0-9a-f]{2})", open(key).read()).group(1)
r = tap.run(GEN + ["--module", mod, "--pin-source", "file:" + pin,
                   "--backup", "-f", key], stdin=subprocess.DEVNULL)
bk = re.search(r"moved to (\S+)\n", r.stdout)
ok(r.returncode == 0 and bk and re.search(
    r"The old key stays on token 'old-test' \(serial \w+\) \(id %s\); %s "
    r"names it\.\n" % (old, re.escape(bk.group(1))), r.stdout),
   "--backup: one line says the key stays, named by the backup",
   r.stdout + r.stderr)
ok(bk and ("id=%" + old) in open(bk.group(1)).read(),
   "--backup: the backup is the old stub")
old = re.search(r"[;:]id=%([0-9a-f]{2})", open(key).read()).group(1)
r = tap.run(GEN + ["--module", mod, "--pin-source", "file:" + pin,
                   "--backup", "--json", "-f", key])
try:
    ko = json.loads(r.stdout).get("old_key") or {}
except ValueError:
    ko = {}
ok(ko.get("outcome") == "backed_up" and ko.get("id") == old and
   ko.get("device", "").startswith("token 'old-test'"),
   "--json --backup: old_key says where it is and that it was backed up",
   r.stdout + r.stderr)

# 5. A delete that fails: a warning with what is left, and exit 0.
key2 = os.path.join(ssh, "id_f")
old = make(key2, "fail@a")
c_env = {"HWK_FAKE_FAIL": "C_DestroyObject"}
c = pty_flow.spawn(GEN + ["--module", FAULT, "-C", "f2@a", "-f", key2], home,
                   env=c_env)
out = ""
for want, answer in ((OVER, "y"), (ALSO, "y"), (ENTER_PIN, PIN)):
    c.expect(re.escape(want))
    out += c.before + c.after
    c.sendline(answer)
st, _ = pty_flow.finish(c)
out = (out + c.before).replace("\r\n", "\n")
ok(st == 0, "a failed delete: exit 0 (the new key is saved)", out)
ok(re.search(r"hwkeygen: the old key was not deleted: cannot delete the old "
             r"key \(id %s\) from token 'old-test' \(serial \w+\): "
             r"CKR_DEVICE_ERROR" % old, out), "it says why", out)
ok(re.search(r"the old key \(id %s\) stays on token .*Delete it with:\n  "
             r"for t in privkey pubkey" % old, out),
   "and what is left, with the command that deletes it", out)
ok("Your public key has been saved in %s.pub" % key2 in out and
   old in ids(), "the new pair is saved, the old key is there", out)

# 6. A file naming a key the token no longer has: no second question.
gone = os.path.join(ssh, "id_gone")
open(gone, "w").write(re.sub(r"id=%[0-9a-f]{2}", "id=%7f", open(key).read()))
out, rc = flow(GEN + ["--module", mod, "--pin-source", "file:" + pin,
                      "-f", gone], {OVER: "y", ALSO: "y"})
ok(rc == 0 and ALSO not in out and "old key" not in out,
   "a key gone from the token: not asked about, nothing said", out)
away = os.path.join(ssh, "id_away")
open(away, "w").write(re.sub(r"token=old-test", "token=elsewhere",
                             open(key).read()))
r = tap.run(GEN + ["--module", mod, "--pin-source", "file:" + pin,
                   "-f", away], input="y\n")
ok(r.returncode == 0 and re.search(
    r"the old key \(id \w+\) is on token 'elsewhere' \(serial \w+\), which "
    r"is not here: replacing the file leaves the key there", r.stderr),
   "a key on a token that is not here: said, and the new key is made",
   r.stdout + r.stderr)

# 7. A file whose .pub is not the key under its id (the id was given to
# another key since): that key is left alone.
other = os.path.join(ssh, "id_other")
in_files = {re.search(r"[;:]id=%([0-9a-f]{2})", open(os.path.join(
    ssh, f)).read()).group(1) for f in ("id_a", "id_f", "id_gone", "id_away")}
victim = sorted(set(ids()) - in_files)[0]
open(other, "w").write(re.sub(r"id=%[0-9a-f]{2}", "id=%" + victim,
                              open(key).read()))
open(other + ".pub", "w").write(open(key + ".pub").read())
out, rc = flow(GEN + ["--module", mod, "--pin-source", "file:" + pin,
                      "-f", other], {OVER: "y", ALSO: "y"})
ok(rc == 0 and re.search(r"the old key was not deleted: token 'old-test' "
                         r"\(serial \w+\) holds another key under id %s "
                         r"than the old \.pub names: it was left alone"
                         % victim, out), "another key under the id: not "
   "deleted, and said why", out)
ok(victim in ids(), "(that key is still there)")

# 8. --list: the keys no file names, not those the files name.
named = set()
backups = os.path.join(ssh, "key_backup")
for f in [os.path.join(ssh, f) for f in os.listdir(ssh)] + \
        [os.path.join(backups, f) for f in os.listdir(backups)]:
    if not f.endswith(".pub") and os.path.isfile(f):
        named |= set(re.findall(r"[;:]id=%([0-9a-f]{2})", open(f).read()))
on_token = set(ids())
orphans = on_token - named
# The modules p11-kit registers are the test's own: SoftHSM2's alone (or,
# where the test cannot have its own, the token's named with --module).
lmod = [] if tap.p11kit_register("softhsm2", mod) else ["--module", mod]
r = tap.run([tap.HWK, "--list"] + lmod)
section = r.stdout.split("names (no stub):\n", 1)
listed = set(re.findall(r"^  token 'old-test' \(serial \w+\)  id ([0-9a-f]+)"
                        r"  ECDSA 256  SHA256:", section[-1], re.M)) \
    if len(section) == 2 else set()
ok(len(orphans) >= 2 and listed == orphans,
   "--list: the token's keys that no file names, by id and type",
   "%s vs %s\n%s" % (sorted(listed), sorted(orphans), r.stdout))
ok(named & on_token and not (listed & named),
   "--list: not the keys the files name, in key_backup/ too", r.stdout)
r = tap.run([tap.HWK, "--list", "--json"] + lmod)
d = json.loads(r.stdout)
ok({e["id"] for e in d if e.get("no_file")} == orphans and
   all(e["path"] is None and e["type"] == "ECDSA" and e["bits"] == 256
       for e in d if e.get("no_file")),
   "--list --json: the same keys, path null", r.stdout)
ok(len([e for e in d if e.get("path")]) == len(
    [f for f in os.listdir(ssh) if not f.endswith(".pub") and
     os.path.isfile(os.path.join(ssh, f))]),
   "--list --json: and every pair in ~/.ssh", r.stdout)

tap.done()
