# hwkey-agent's -a and -k touch only what is theirs: what may stand at the
# socket's path, the pid file beside it, a relative -a in the background,
# and which pids -k agrees to stop.
import os
import signal
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402

tmp = tap.tempdir()
home = os.path.join(tmp, "home")
os.mkdir(home)
env = dict(os.environ, HOME=home)
for v in ("SSH_AUTH_SOCK", "SSH_AGENT_PID"):
    env.pop(v, None)
# Ed25519 keys: what stands at the agent's paths is the subject, not the
# keys it holds.
key = os.path.join(tmp, "id_ed25519")
tap.run([tap.HWK, "-q", "-t", "ed25519", "-N", "", "-C", "cli@test", "-f",
         key], check=True)
adir = os.path.join(tmp, "adir")
os.mkdir(adir, 0o700)


def agent_fails(path, desc, want):
    """hwkey-agent -D -a path exits non-zero, saying want."""
    p = subprocess.Popen([tap.AGENT, "-D", "-a", path, key], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    tap.wait_for(lambda: p.poll() is not None or pid_in(path) == p.pid)
    if p.poll() is None:
        tap.stop(p)
        p.communicate()
        return tap.ok(False, desc, "it started on " + path)
    out, err = p.communicate()
    return tap.ok(p.returncode == 1 and want in err, desc,
                  "exit %d: %s" % (p.returncode, err))


def snapshot(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    data = None
    if stat.S_ISREG(st.st_mode):
        data = open(path, "rb").read()
    elif stat.S_ISLNK(st.st_mode):
        data = os.readlink(path)
    return (st.st_mode, st.st_ino, st.st_mtime_ns, data)


def start_agent(path, *extra):
    p = tap.start([tap.AGENT, "-D", "-a", path, key] + list(extra), env=env,
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                  text=True)
    tap.wait_for(lambda: p.poll() is not None or pid_in(path) == p.pid)
    return p


def pid_in(path):
    try:
        return int(open(path + ".pid").read())
    except (OSError, ValueError):
        return None


def answers(path):
    r = tap.run(["ssh-add", "-l"], env=dict(env, SSH_AUTH_SOCK=path),
                timeout=20)
    return r.returncode == 0 and "cli@test" in r.stdout


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone too.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


# What stands at -a and is not a stale socket is left as it was.
reg = os.path.join(adir, "file")
with open(reg, "wb") as f:
    f.write(b"precious\x00data\n")
before = snapshot(reg)
agent_fails(reg, "-a on a regular file: refused", "not a socket")
tap.ok(snapshot(reg) == before, "... and the file is byte-identical")

d = os.path.join(adir, "dir")
os.mkdir(d, 0o700)
agent_fails(d, "-a on a directory: refused", "not a socket")
tap.ok(os.path.isdir(d), "... and the directory is still there")

link = os.path.join(adir, "link")
os.symlink(reg, link)
before = snapshot(link)
agent_fails(link, "-a on a symlink: refused", "not a socket")
tap.ok(snapshot(link) == before and open(reg, "rb").read() ==
       b"precious\x00data\n", "... and the link and its target are kept")

# A live agent's socket is not taken over.
live = os.path.join(adir, "live")
first = start_agent(live)
tap.ok(answers(live), "an agent listens")
pid_before = snapshot(live + ".pid")
agent_fails(live, "a second agent on a live socket: refused",
            "already listening")
tap.ok(answers(live) and snapshot(live + ".pid") == pid_before,
       "... the first one still answers, its pid file untouched")
tap.stop(first)

# A stale socket (nobody listens) and a dead agent's pid file are replaced.
stale = os.path.join(adir, "stale")
s = socket.socket(socket.AF_UNIX)
s.bind(stale)
s.close()
with open(stale + ".pid", "w") as f:
    f.write("4194304\n")
p = start_agent(stale)
tap.ok(answers(stale), "a stale socket is replaced")
tap.ok(open(stale + ".pid").read() == "%d\n" % p.pid,
       "... and the dead agent's pid file", open(stale + ".pid").read())
tap.stop(p)
tap.ok(not os.path.exists(stale) and not os.path.exists(stale + ".pid"),
       "... both removed when it stops")

# Something else where the pid file goes is the user's.
notpid = os.path.join(adir, "notpid")
with open(notpid + ".pid", "w") as f:
    f.write("my notes\n")
before = snapshot(notpid + ".pid")
agent_fails(notpid, "a pid file that is not one: refused", "not a pid file")
tap.ok(snapshot(notpid + ".pid") == before and not os.path.exists(notpid),
       "... it is kept, and no socket is left behind")

# An unrelated process that -k must never stop.
sleeper = tap.start(["sleep", "300"])

# A relative -a in the background: the socket and its pid file stay where
# they were named, and -k -a stops that agent, not SSH_AGENT_PID's.
r = tap.run([tap.AGENT, "-s", "-a", "adir/rel", key], cwd=tmp, env=env,
            timeout=20)
rel = os.path.join(adir, "rel")
lines = dict(l.strip().split("=", 1) for l in r.stdout.split(";")
             if "=" in l)
dpid = int(lines.get("SSH_AGENT_PID", "0") or 0)
if dpid > 0:
    tap.at_exit(lambda: os.kill(dpid, signal.SIGKILL))
tap.ok(r.returncode == 0 and lines.get("SSH_AUTH_SOCK") == rel,
       "relative -a: prints the absolute socket", r.stdout + r.stderr)
tap.ok(answers(rel), "... the agent answers there")
tap.ok(tap.wait_for(lambda: os.path.exists(rel + ".pid")) and
       open(rel + ".pid").read() == "%d\n" % dpid,
       "... its pid file is beside the socket", os.listdir(adir))
r = tap.run([tap.AGENT, "-k", "-a", "adir/rel"], cwd=tmp, timeout=20,
            env=dict(env, SSH_AGENT_PID=str(sleeper.pid)))
tap.ok(r.returncode == 0 and "Agent pid %d killed" % dpid in r.stdout,
       "-k -a stops the agent of that socket's pid file",
       r.stdout + r.stderr)
tap.ok(tap.wait_for(lambda: not alive(dpid)) and alive(sleeper.pid),
       "... and not the process SSH_AGENT_PID names")
tap.ok(tap.wait_for(lambda: not os.path.exists(rel)) and
       not os.path.exists(rel + ".pid"), "... its socket and pid file go")


def kill_refused(value, desc, want):
    r = tap.run([tap.AGENT, "-k"], env=dict(env, SSH_AGENT_PID=value),
                timeout=20)
    return tap.ok(r.returncode == 1 and want in r.stderr and
                  "killed" not in r.stdout, desc,
                  "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))


kill_refused(str(sleeper.pid), "-k with SSH_AGENT_PID of a sleep: refused",
             "not a hwkey-agent of yours (sleep)")
for bad in ("0", "-5", "garbage", "%dabc" % sleeper.pid, " %d" % sleeper.pid,
            "99999999999"):
    kill_refused(bad, "-k with SSH_AGENT_PID=%r: refused" % bad,
                 "not the pid of an agent")
kill_refused("4194304", "-k with the pid of no process: refused",
             "(no process)")
tap.ok(alive(sleeper.pid), "... and the sleep survived all of it")

# Pid 1, in a pid namespace of its own (pid 1 there is a shell) so that no
# mistake can reach the machine's init.
r = tap.run(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c",
             "SSH_AGENT_PID=1 \"$0\" -k; echo rc=$?", tap.AGENT],
            env=env, timeout=20)
if "rc=" in r.stdout:
    tap.ok("rc=1" in r.stdout and "killed" not in r.stdout,
           "-k with SSH_AGENT_PID=1: refused", r.stdout + r.stderr)
else:
    tap.skip("SSH_AGENT_PID=1 (no pid namespace: %s)" % r.stderr.strip())

# A pid file that names another program is not obeyed either.
other = os.path.join(adir, "other")
with open(other + ".pid", "w") as f:
    f.write("%d\n" % sleeper.pid)
r = tap.run([tap.AGENT, "-k", "-a", other], env=env, timeout=20)
tap.ok(r.returncode == 1 and "not a hwkey-agent of yours" in r.stderr and
       alive(sleeper.pid), "-k -a with a pid file naming a sleep: refused",
       r.stdout + r.stderr)
r = tap.run([tap.AGENT, "-k", "-a", os.path.join(adir, "none")], env=env,
            timeout=20)
tap.ok(r.returncode == 1 and "no agent to stop" in r.stderr,
       "-k -a without a pid file: refused", r.stderr)

# And a real agent of ours is stopped by SSH_AGENT_PID.
p = start_agent(os.path.join(adir, "own"))
r = tap.run([tap.AGENT, "-k"], env=dict(env, SSH_AGENT_PID=str(p.pid)),
            timeout=20)
tap.ok(r.returncode == 0 and tap.wait_for(lambda: p.poll() is not None),
       "-k with SSH_AGENT_PID of a running hwkey-agent stops it",
       r.stdout + r.stderr)
# Without SSH_AGENT_PID: the agent of the default socket (the service's),
# and the shell lines that forget it, for eval "$(hwkey-agent -k)".
rt = os.path.join(tmp, "rt")
os.mkdir(rt, 0o700)
denv = dict(env, XDG_RUNTIME_DIR=rt)
denv.pop("SSH_AGENT_PID", None)
r = tap.run([tap.AGENT, "-s", key], env=denv, timeout=20)
lines = dict(l.strip().split("=", 1) for l in r.stdout.split(";")
             if "=" in l)
dpid = int(lines.get("SSH_AGENT_PID", "0") or 0)
if dpid > 0:
    tap.at_exit(lambda: os.kill(dpid, signal.SIGKILL))
r = tap.run([tap.AGENT, "-k"], env=denv, timeout=20)
tap.ok(r.returncode == 0 and dpid > 0 and
       "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\n" in r.stdout and
       tap.wait_for(lambda: not alive(dpid)),
       "-k without SSH_AGENT_PID stops the default socket's agent, "
       "printing the lines that unset the variables", r.stdout + r.stderr)
r = tap.run([tap.AGENT, "-k"], env=denv, timeout=20)
tap.ok(r.returncode == 1 and "no agent runs at the default socket" in
       r.stderr, "... and then says none runs there", r.stderr)
# A bad option of any backend stops the agent at startup, not at a signature.
for opt in (["--pin-source", "env:PIN"], ["--login", "admin"],
            ["--id", "xyz"], ["--parent", "nonsense"]):
    r = tap.run([tap.AGENT, "-D", "-a", os.path.join(adir, "badopt"), key]
                + opt, env=env, timeout=20)
    tap.ok(r.returncode == 2 and opt[0] in r.stderr and
           not os.path.exists(os.path.join(adir, "badopt")),
           "%s %s: refused at startup, exit 2" % tuple(opt),
           "exit %d: %s" % (r.returncode, r.stderr))
# A private key file others can read is refused, as ssh-add refuses it.
open_key = os.path.join(tmp, "id_open")
tap.run([tap.HWK, "-q", "-t", "ed25519", "-N", "", "-C", "open@test", "-f",
         open_key], check=True)
os.chmod(open_key, 0o644)
r = tap.run([tap.AGENT, "-D", "-a", os.path.join(adir, "open"), open_key],
            env=env, timeout=20)
tap.ok(r.returncode == 1 and "too open" in r.stderr and "chmod 600" in
       r.stderr and not os.path.exists(os.path.join(adir, "open")),
       "a private key file of mode 0644: refused", r.stderr)
tap.done()
