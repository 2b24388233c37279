# The time a person waits in the interactive flow, beside ssh-keygen's: each
# command runs on a pseudo-terminal, each question is answered after a pause
# (a person taking ANSWER seconds to type), and the wait is the whole run
# less those pauses.  Interleaved, so that both see the same machine.
#
#   pty_wait.py N ANSWER LABEL1 ARGV1 LABEL2 ARGV2 ...   (ARGV: shell words,
#   "{i}" the run number; the last pair is the reference tool)
import os
import shlex
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pty_flow  # noqa: E402

PROMPTS = pty_flow.PROMPTS


def one(argv, home, answer, path):
    """Runs argv answering file name, passphrase and confirmation after a
    pause each; returns (whole run, time spent answering) in seconds."""
    t0 = time.monotonic()
    c = pty_flow.spawn(argv, home)
    paused = 0.0
    while True:
        i = c.expect(PROMPTS)
        if i == len(PROMPTS) - 1:
            break
        time.sleep(answer)
        paused += answer
        c.sendline(path if i == 0 else "")
    pty_flow.reap(c)
    total = time.monotonic() - t0
    if c.exitstatus != 0:
        sys.exit("bench command failed: %s\n%s" % (argv, c.before))
    return total, paused


def main():
    n, answer = int(sys.argv[1]), float(sys.argv[2])
    pairs = [(sys.argv[i], sys.argv[i + 1]) for i in range(3, len(sys.argv),
                                                           2)]
    waited = {l: [] for l, _ in pairs}
    with tempfile.TemporaryDirectory(prefix="hwk-bench.") as home:
        for i in range(n):
            order = pairs if i % 2 == 0 else list(reversed(pairs))
            for k, (label, cmd) in enumerate(order):
                argv = shlex.split(cmd.replace("{i}", str(i)))
                path = os.path.join(home, "k%d-%d" % (i, k))
                total, paused = one(argv, home, answer, path)
                waited[label].append(total - paused)
    med = {}
    for label, _ in pairs:
        ts = sorted(waited[label])
        med[label] = statistics.median(ts)
        print("  %-20s waited: median %8.1f ms (IQR %.1f-%.1f, n=%d)" % (
            label, med[label] * 1000, ts[len(ts) // 4] * 1000,
            ts[(3 * len(ts)) // 4] * 1000, len(ts)))
    ref = pairs[-1][0]
    for label, _ in pairs[:-1]:
        print("  ratio of medians %s / %s = %.3f" % (label, ref,
                                                     med[label] / med[ref]))


main()
