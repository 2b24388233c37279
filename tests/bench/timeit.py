# Times commands, interleaved so that all see the same machine, and prints
# for each the median wall time, its spread, the median CPU time (user +
# system, children included: a program that races threads spends more CPU
# than it takes wall time) and the peak memory, and the ratios of each to
# the last one (the reference tool).
#
#   timeit.py [--keygen SHIM] [--setup CMD] N LABEL1 CMD1 LABEL2 CMD2 ...
#
# Each CMD is a shell command; "{i}" in it becomes the run number.  With
# --keygen, SHIM (tests/fakes/keygentime.c) is preloaded to time OpenSSL's
# RSA key generation inside each run (several keygens racing in threads
# count as the longest of them); the rest of the wall time is what the
# program adds around it, and that overhead is also compared with the key
# generation set to its median over all runs, since the prime search alone
# varies by a factor of three from run to run (this takes out what racing
# gains, and shows only the overhead).
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench command failed: %s\n%s" % (cmd, err))
    return t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def main():
    args = sys.argv[1:]
    setup = shim = None
    while args and args[0].startswith("--"):
        if args[0] == "--setup":
            setup = args[1]
        elif args[0] == "--keygen":
            shim = args[1]
        args = args[2:]
    n = int(args[0])
    pairs = [(args[i], args[i + 1]) for i in range(1, len(args), 2)]
    wall = {l: [] for l, _ in pairs}
    cpu = {l: [] for l, _ in pairs}
    keygen = {l: [] for l, _ in pairs}
    mem = {l: 0 for l, _ in pairs}
    fd, ktfile = tempfile.mkstemp(prefix="hwk-keygen-time.")
    os.close(fd)
    try:
        for i in range(n):
            order = pairs if i % 2 == 0 else list(reversed(pairs))
            for label, cmd in order:
                if setup:
                    subprocess.run(setup.replace("{i}", str(i)), shell=True,
                                   check=True)
                env = dict(os.environ)
                if shim:
                    open(ktfile, "w").close()
                    env["LD_PRELOAD"] = shim
                    env["HWK_KEYGEN_TIME_FILE"] = ktfile
                t, c, rss = run(cmd.replace("{i}", str(i)), env)
                wall[label].append(t)
                cpu[label].append(c)
                mem[label] = max(mem[label], rss)
                if shim:
                    with open(ktfile) as f:
                        keygen[label].append(max([float(x) for x in f],
                                                 default=0.0))
    finally:
        os.unlink(ktfile)
    med, cmed = {}, {}
    for label, _ in pairs:
        ts = sorted(wall[label])
        med[label] = statistics.median(ts)
        cmed[label] = statistics.median(cpu[label])
        q1, q3 = ts[len(ts) // 4], ts[(3 * len(ts)) // 4]
        print("  %-20s wall median %8.1f ms (IQR %.1f-%.1f, n=%d)  "
              "CPU median %8.1f ms  peak RSS %5.1f MiB" % (
                  label, med[label] * 1000, q1 * 1000, q3 * 1000, len(ts),
                  cmed[label] * 1000, mem[label] / 1024))
    ref = pairs[-1][0]
    for label, _ in pairs[:-1]:
        print("  ratio of medians %s / %s = %.3f wall, %.3f CPU" % (
            label, ref, med[label] / med[ref], cmed[label] / cmed[ref]))
    if shim:
        allk = statistics.median([k for l, _ in pairs for k in keygen[l]])
        over = {}
        for label, _ in pairs:
            over[label] = statistics.median(
                [w - k for w, k in zip(wall[label], keygen[label])])
            print("  %-20s OpenSSL's keygen: median %6.1f ms; time outside "
                  "it: median %6.1f ms" % (
                      label, statistics.median(keygen[label]) * 1000,
                      over[label] * 1000))
        for label, _ in pairs[:-1]:
            print("  overhead only, keygen at its common median (%.1f ms): "
                  "%s / %s = %.3f" % (allk * 1000, label, ref,
                                      (allk + over[label]) /
                                      (allk + over[ref])))


main()
