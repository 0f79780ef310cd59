# A plain-socket HTTP/1.1 client for tests/l7/keepalive_test.py: one keep-alive connection, driven
# by lines on stdin, one JSON line on stdout per answer.
#   get PATH          the request in one send, the answer read whole
#   split PATH        the request line sent in three sends ("GE", "T PATH", the rest), the answer
#                     read as 5 bytes, then the rest (the status line split over two reads)
#   quit
import json
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port))
print(json.dumps({"connected": s.getsockname()[1]}), flush=True)


def read_answer(first=None):
    data = b""
    if first:
        data = s.recv(first)
        time.sleep(0.05)
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        body += s.recv(4096)
    return int(head.split(b" ")[1])


for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    req = ("GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % words[1]).encode()
    if words[0] == "get":
        s.sendall(req)
        status = read_answer()
    else:
        s.sendall(req[:2])
        time.sleep(0.05)
        cut = req.index(b" HTTP/")
        s.sendall(req[2:cut])
        time.sleep(0.05)
        s.sendall(req[cut:])
        status = read_answer(5)
    print(json.dumps({"status": status}), flush=True)
