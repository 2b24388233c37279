# Signatures per second through an SSH agent: SIGN_REQUESTs for one key, one
# after the other on one connection, as ssh and ssh-keygen -Y send them.
#   agent_sign.py SOCKET KEY.pub N [FLAGS]
import base64
import socket
import struct
import sys
import time

sock, pub, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
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


s = socket.socket(socket.AF_UNIX)
s.connect(sock)
times = []
for i in range(n):
    msg = b"\x0d" + string(blob) + string(b"bench data %d" % i) + \
        struct.pack(">I", flags)
    t0 = time.perf_counter()
    s.sendall(struct.pack(">I", len(msg)) + msg)
    ln = struct.unpack(">I", recv_exact(s, 4))[0]
    reply = recv_exact(s, ln)
    times.append(time.perf_counter() - t0)
    if reply[0] != 14:
        sys.exit("signature %d failed (answer type %d)" % (i, reply[0]))
first = times[0]
total = sum(times[1:]) if n > 1 else times[0]
times.sort()
# After the first signature (which may open the key), the steady rate.
print("%.1f sig/s (median %.2f ms; first %.2f ms)" % (
    (n - 1) / total if n > 1 else 1 / total, times[len(times) // 2] * 1000,
    first * 1000))
