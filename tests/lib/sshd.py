# An sshd of our own on 127.0.0.1 for Python integration tests, and stock
# ssh pointed at it.
import os
import socket
import subprocess

import tap


# The user's shell runs each command ssh sends, and bash then reads the
# user's ~/.bashrc (which can take longer than the login) unless it runs
# nested: SHLVL=1 says it does.  What the user's startup files do is no
# part of our tests.
SHLVL = "SetEnv SHLVL=1"


def start_sshd(d, authorized_keys):
    """Starts sshd in d; returns its port.  Stopped when the test exits."""
    os.makedirs(d, exist_ok=True)
    if os.getuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)
    hostkey = os.path.join(d, "hostkey")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    hostkey], check=True)
    log = open(os.path.join(d, "sshd.log"), "ab")
    for _ in range(3):
        port = tap.free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\n"
                    "PidFile %s/sshd.pid\nAuthorizedKeysFile %s\n"
                    "StrictModes no\nPubkeyAuthentication yes\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin prohibit-password\nUsePAM no\n"
                    "LogLevel VERBOSE\n%s\n" % (port, hostkey, d,
                                                authorized_keys, SHLVL))
        # -r: each connection in a fork, not a new sshd (as sshd.sh).
        p = tap.start(["/usr/sbin/sshd", "-r", "-D", "-e", "-f", cfg],
                      stderr=log)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                return False
        if tap.wait_for(listening, 10):
            return port
        tap.stop(p)
    raise RuntimeError("sshd did not start; see %s/sshd.log" % d)


def ssh_argv(port, *args):
    return ["ssh", "-F", "/dev/null", "-p", str(port),
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"] + list(args)
