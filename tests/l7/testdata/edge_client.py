# Plain-socket clients for tests/l7/iov_halfclose_test.ts, one new connection per request, one
# JSON line on stdout per answer ({"status": N}):
#   h2 HOST PORT PATH...        HTTP/2 with prior knowledge (h2c): the client preface, an empty
#                               SETTINGS frame and the request's HEADERS frame in ONE send, so the
#                               server reads them in one read (nginx then answers its SETTINGS,
#                               WINDOW_UPDATE, SETTINGS ACK and the response HEADERS in one writev
#                               of five iovecs); the answer is read up to its END_STREAM
#   half HOST PORT PATH...      HTTP/1.1: the request in one send, shutdown(SHUT_WR), a 50 ms pause
#                               (the answer and the server's FIN arrive first, so the socket has
#                               left FIN_WAIT2 when it is read), then the answer read to EOF
import json
import socket
import struct
import sys
import time

mode, host, port, paths = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# HPACK static table indexes of the status codes nginx sends as one indexed byte (RFC 7541 App. A)
STATUS = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(index, value):
    # literal without indexing, name from the static table (index < 15), value raw
    v = value.encode()
    return bytes([index]) + bytes([len(v)]) + v


def h2(path):
    block = bytes([0x82, 0x86]) + hpack_literal(4, path) + hpack_literal(1, host)
    data = PREFACE + frame(4, 0, 0, b"") + frame(1, 0x5, 1, block)  # END_STREAM | END_HEADERS
    s = socket.create_connection((host, port))
    s.sendall(data)
    buf, status, ended = b"", None, False
    while not ended:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the answer ended")
        buf += chunk
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            kind, flags = buf[3], buf[4]
            stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9 : 9 + length]
            buf = buf[9 + length :]
            if kind == 4 and not flags & 1:
                s.sendall(frame(4, 1, 0, b""))  # SETTINGS ACK
            if stream == 1 and kind == 1 and status is None:
                status = STATUS.get(payload[0])
            if stream == 1 and kind in (0, 1) and flags & 1:
                ended = True
    s.sendall(frame(7, 0, 0, struct.pack(">II", 1, 0)))  # GOAWAY, NO_ERROR
    s.close()
    return status


def half(path):
    s = socket.create_connection((host, port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path).encode())
    s.shutdown(socket.SHUT_WR)
    time.sleep(0.05)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ")[1])


for p in paths:
    print(json.dumps({"status": h2(p) if mode == "h2" else half(p)}), flush=True)
