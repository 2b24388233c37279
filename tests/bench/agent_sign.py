# Signatures per second through an SSH agent: SIGN_REQUESTs for one key, one
# after the other on one connection, as ssh and ssh-keygen -Y send them.
#   agent_sign.py SOCKET[,SOCKET...] KEY.pub N [FLAGS]
# With several sockets (agents holding the same key), their requests take
# turns, so that what else the machine does weighs on each alike; a line
# for each, in the order given.
import base64
import socket
import struct
import sys
import time

socks, pub, n = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
flags = int(sys.argv[4]) if len(sys.argv) > 4 else 4	# rsa-sha2-512
blob = base64.b64decode(open(pub).read().split()[1])


def string(b):
    return struct.pack(">I", len(b)) + b


def recv_exact(s, k):
    out = b""
    while len(out) < k:
        d = s.recv(k - len(out))
        if not d:
            sys.exit("agent closed the connection")
        out += d
    return out


conns = []
for path in socks:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    conns.append(s)
times = [[] for _ in conns]
for i in range(n):
    msg = b"\x0d" + string(blob) + string(b"bench data %d" % i) + \
        struct.pack(">I", flags)
    for s, ts in zip(conns, times):
        t0 = time.perf_counter()
        s.sendall(struct.pack(">I", len(msg)) + msg)
        ln = struct.unpack(">I", recv_exact(s, 4))[0]
        reply = recv_exact(s, ln)
        ts.append(time.perf_counter() - t0)
        if reply[0] != 14:
            sys.exit("signature %d failed (answer type %d)" % (i, reply[0]))
for ts in times:
    first = ts[0]
    total = sum(ts[1:]) if n > 1 else ts[0]
    ts.sort()
    # After the first signature (which may open the key), the steady rate.
    print("%.1f sig/s (median %.2f ms; first %.2f ms)" % (
        (n - 1) / total if n > 1 else 1 / total, ts[len(ts) // 2] * 1000,
        first * 1000))
