# TAP output and the test rig for Python integration tests: temp dirs,
# cleanups that always run, processes stopped by their pid.
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The binaries under test: build/, or HWK_BUILD (make check-asan, -clang).
BUILD = os.path.join(TOP, os.environ.get("HWK_BUILD") or "build")
HWK = os.path.join(BUILD, "hwkeygen")
AGENT = os.path.join(BUILD, "hwkey-agent")
FIXTURES = os.path.join(TOP, "tests", "fixtures")

_n = 0
_failed = 0
_cleanups = []


def ok(cond, desc, detail=""):
    global _n, _failed
    _n += 1
    if cond:
        print("ok %d - %s" % (_n, desc))
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, desc))
        for line in str(detail).splitlines():
            print("#   " + line)
    sys.stdout.flush()
    return cond


def skip(desc):
    ok(True, "# SKIP " + desc)


def at_exit(fn):
    _cleanups.append(fn)


def _cleanup():
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:
            pass


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))


def tempdir():
    d = tempfile.mkdtemp(prefix="hwk-test.")
    at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def _p11kit_isolate():
    """p11-kit reads root's module folders, never a user's: as root the test
    runs in a mount namespace of its own, where those folders are an empty
    one of the test's, as tests/lib/p11kit.sh does for the shell tests.
    Otherwise every program that looks for tokens would load the host's
    modules (OpenSC starts threads, p11-kit-trust reads the trust store:
    ~40 ms a run here) and find what the host registers.  In this process,
    before it starts a thread; with HWK_P11KIT_NS set, the host's."""
    if os.geteuid() != 0 or os.environ.get("HWK_P11KIT_NS"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 0x1000, 0x4000, 0x40000
    # Nothing mounted here may reach the host's namespace: private first.
    if (libc.unshare(CLONE_NEWNS) != 0 or
            libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0):
        print("# p11-kit: no mount namespace here, the host's modules count")
        return
    global _p11kit_modules
    for d in ("/etc/pkcs11", "/usr/share/p11-kit/modules"):
        if os.path.isdir(d):
            empty = tempdir()
            if libc.mount(empty.encode(), d.encode(), None, MS_BIND, None):
                print("# p11-kit: cannot hide %s: %s" %
                      (d, os.strerror(ctypes.get_errno())))
            elif d.endswith("/modules"):
                _p11kit_modules = empty
    os.environ["HWK_P11KIT_NS"] = "1"


def p11kit_register(name, module):
    """Registers a module with p11-kit, in this test's own module folder;
    False where the test has none (not root: the host's modules count)."""
    if _p11kit_modules is None:
        return False
    with open(os.path.join(_p11kit_modules, name + ".module"), "w") as f:
        f.write("module: %s\n" % module)
    return True


_p11kit_modules = None


_p11kit_isolate()


SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
                   "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_module():
    """SoftHSM2's PKCS#11 module where Debian puts it, or None."""
    return next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)


def softhsm_token(env, directory, label, pin, so_pin="5678", extra=""):
    """A SoftHSM2 of the test's own in DIRECTORY (its configuration set as
    SOFTHSM2_CONF in ENV, EXTRA lines added to it), with one token LABEL
    initialised with PIN and SO_PIN."""
    os.makedirs(os.path.join(directory, "tokens"), exist_ok=True)
    env["SOFTHSM2_CONF"] = os.path.join(directory, "softhsm2.conf")
    with open(env["SOFTHSM2_CONF"], "w") as f:
        f.write("directories.tokendir = %s/tokens\n"
                "objectstore.backend = file\n%s" % (directory, extra))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label",
                    label, "--pin", pin, "--so-pin", so_pin], env=env,
                   check=True, capture_output=True)


def stop(proc, timeout=5):
    """Stops a process we started, by its pid, and reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    at_exit(lambda: stop(p))
    return p


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def done():
    print("1..%d" % _n)
    sys.stdout.flush()
    _cleanup()
    _cleanups.clear()
    sys.exit(1 if _failed else 0)
