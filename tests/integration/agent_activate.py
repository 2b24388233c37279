# Socket activation without systemd: a launcher that does what systemd
# does (a listening socket as fd 3, LISTEN_FDS=1, LISTEN_PID=the agent's
# pid) and an agent that serves it, makes no socket or pid file of its own
# and leaves the socket in place when it stops; and what it refuses.
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402

tmp = tap.tempdir()
env = dict(os.environ, HOME=tmp)
for v in ("SSH_AUTH_SOCK", "SSH_AGENT_PID", "LISTEN_PID", "LISTEN_FDS"):
    env.pop(v, None)
key = os.path.join(tmp, "id_ed25519")
tap.run([tap.HWK, "-q", "-t", "ed25519", "-N", "", "-C", "activated",
         "-f", key], check=True)
adir = os.path.join(tmp, "adir")
os.mkdir(adir, 0o700)


def listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s


def activated(fd, args, fds="1", pid=None):
    """The agent as systemd starts it: fd as 3, LISTEN_PID its own pid
    (sh execs it, so $$ is the agent's pid), unless pid says another."""
    e = dict(env, LISTEN_FDS=fds)
    script = ('LISTEN_PID=%s exec "$0" "$@"' % (pid or "$$"))

    def as_fd3():
        os.set_inheritable(fd, True)	# dup2(3, 3) would not say so
        if fd != 3:
            os.dup2(fd, 3)
    return tap.start(["sh", "-c", script, tap.AGENT, "-D"] + args, env=e,
                     close_fds=False, preexec_fn=as_fd3,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)


def ssh_add_L(path):
    p = subprocess.run(["ssh-add", "-L"], env=dict(env, SSH_AUTH_SOCK=path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=10)
    return p.stdout.strip()


pub = open(key + ".pub").read().strip()
sock = os.path.join(adir, "socket")
ls = listener(sock)
agent = activated(ls.fileno(), ["-a", sock, key])
ls.close()		# the agent holds it now, as systemd would
tap.ok(ssh_add_L(sock) == pub, "the agent serves the socket it was given",
       ssh_add_L(sock))
tap.ok(not os.path.exists(sock + ".pid"), "and makes no pid file beside it",
       os.listdir(adir))
tap.stop(agent)
out, err = agent.communicate()
tap.ok(agent.returncode == 0 and "serving 1 key on " + sock in err,
       "it logged the socket's name and stopped cleanly",
       "exit %d: %s" % (agent.returncode, err))
tap.ok(os.path.exists(sock), "the socket is left to its owner when it stops",
       os.listdir(adir))
os.unlink(sock)

# LISTEN_PID of another process: not for us; the agent makes its own.
fake = os.path.join(adir, "fake")
ls = listener(fake)
own = os.path.join(adir, "own")
agent = activated(ls.fileno(), ["-a", own, key], pid="1")
tap.wait_for(lambda: os.path.exists(own) or agent.poll() is not None)
tap.ok(ssh_add_L(own) == pub, "LISTEN_PID of another: the agent's own socket",
       ssh_add_L(own))
tap.stop(agent)
agent.communicate()
tap.ok(not os.path.exists(own), "which it removes when it stops",
       os.listdir(adir))
ls.close()

# Two sockets, or fd 3 not a listening socket: refused, nothing made.
ls = listener(fake + "2")
agent = activated(ls.fileno(), ["-a", own, key], fds="2")
out, err = agent.communicate(timeout=10)
tap.ok(agent.returncode != 0 and "passed 2 sockets" in err,
       "two sockets are refused", "exit %d: %s" % (agent.returncode, err))
ls.close()
with open(os.path.join(tmp, "plain"), "w") as f:
    agent = activated(f.fileno(), ["-a", own, key])
    out, err = agent.communicate(timeout=10)
tap.ok(agent.returncode != 0 and "not a listening UNIX stream socket" in err
       and not os.path.exists(own),
       "fd 3 that is not a listening socket is refused",
       "exit %d: %s" % (agent.returncode, err))
tap.done()
