"""Opens a known set of TCP sockets in the current network namespace, prints them as one JSON
line, then keeps them until stdin closes.

Used by agent/net/testdata/record.ts (fixture recording) and agent/net/existing_sockets_test.ts
(the privileged netns test): run it with `ip netns exec <ns> python3 sockets.py [--syn-sent PORT] [--fork]`.

Each entry: role, fd (None when the socket has no fd any more), family, local and remote
(address, port) as the kernel reports them to this process, and the state expected in
/proc/net/tcp{,6} (kernel numbers). Loopback must be up. --syn-sent PORT connects to
127.0.0.1:PORT without waiting: with the namespace's SYNs to that port dropped (an iptables rule),
the socket stays in SYN_SENT. --fork: a child process inherits every fd and holds them too
(reported as "child").
"""
import argparse
import json
import os
import socket
import sys
import time

args = argparse.ArgumentParser()
args.add_argument("--syn-sent", type=int)
args.add_argument("--fork", action="store_true")
args = args.parse_args()

ESTABLISHED, SYN_SENT, FIN_WAIT2, TIME_WAIT, CLOSE_WAIT, LISTEN = 1, 2, 5, 6, 8, 10
out = []
keep = []


def addr(sa):
    return [sa[0], sa[1]]


def note(role, s, state, fd=True):
    keep.append(s)
    try:
        peer = addr(s.getpeername())
    except OSError:
        peer = None
    out.append({
        "role": role,
        "fd": s.fileno() if fd else None,
        "family": 6 if s.family == socket.AF_INET6 else 4,
        "local": addr(s.getsockname()),
        "remote": peer,
        "state": state,
    })


def listener(family, host, port, v6only=None, backlog=16):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((host, port))
    s.listen(backlog)
    return s


def pair(lst, family, host, port, role):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((host, port))
    a, _ = lst.accept()
    note(role + "_client", c, ESTABLISHED)
    note(role + "_server", a, ESTABLISHED)
    return c, a


l4 = listener(socket.AF_INET, "0.0.0.0", 8080)
note("listen4_any", l4, LISTEN)
l4h = listener(socket.AF_INET, "127.0.0.1", 61000)
note("listen4_high", l4h, LISTEN)
l6 = listener(socket.AF_INET6, "::", 9090, v6only=False)
note("listen6_dual", l6, LISTEN)
l6o = listener(socket.AF_INET6, "::1", 9091, v6only=True)
note("listen6_only", l6o, LISTEN)

for i in range(3):
    pair(l4, socket.AF_INET, "127.0.0.1", 8080, "v4")
for i in range(2):
    pair(l6, socket.AF_INET6, "::1", 9090, "v6")
pair(l6, socket.AF_INET6, "::ffff:127.0.0.1", 9090, "mapped")
pair(l4h, socket.AF_INET, "127.0.0.1", 61000, "high")
pair(l6o, socket.AF_INET6, "::1", 9091, "v6only")

# A connection whose listener is gone: only the port rule can tell the server side is inbound.
gone = listener(socket.AF_INET, "127.0.0.1", 7070)
pair(gone, socket.AF_INET, "127.0.0.1", 7070, "orphan_listener")
gone.close()

# The client closes first: its side ends in TIME_WAIT (no inode), the server's stays open.
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(("127.0.0.1", 8080))
a, _ = l4.accept()
local, remote = addr(c.getsockname()), addr(c.getpeername())
c.close()
a.recv(1)  # the FIN
out.append({"role": "timewait_client", "fd": None, "family": 4, "local": local,
            "remote": remote, "state": TIME_WAIT})
a.close()

# Half-closed: the client shut down its sending side and keeps the fd (FIN_WAIT2), the server
# has read the FIN and not closed (CLOSE_WAIT).
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(("127.0.0.1", 8080))
a, _ = l4.accept()
c.shutdown(socket.SHUT_WR)
a.recv(1)
note("halfclosed_client", c, FIN_WAIT2)
note("halfclosed_server", a, CLOSE_WAIT)

# Waiting in the accept queue: ESTABLISHED on the server side, but no file, so inode 0.
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(("127.0.0.1", 8080))
note("queued_client", c, ESTABLISHED)
out.append({"role": "queued_server", "fd": None, "family": 4, "local": addr(c.getpeername()),
            "remote": addr(c.getsockname()), "state": ESTABLISHED})

if args.syn_sent is not None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", args.syn_sent))
    except BlockingIOError:
        pass
    note("syn_sent", s, SYN_SENT)

time.sleep(0.2)  # let the FINs and ACKs above settle
child = None
if args.fork:
    child = os.fork()
    if child == 0:
        sys.stdin.read()
        os._exit(0)
print(json.dumps({"pid": os.getpid(), "child": child, "netns": os.readlink("/proc/self/ns/net"),
                  "sockets": out}), flush=True)
sys.stdin.read()
if child:
    os.waitpid(child, 0)
