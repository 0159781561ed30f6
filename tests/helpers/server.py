#!/usr/bin/python3
"""An ordinary server that sets no socket options of its own: the kind of
program libreuse is for. It binds, says READY (or BINDERR with the errno it
got), and answers each TCP connection or UDP datagram with its id and the
peer's port, closing TCP connections itself (so TIME_WAIT stays on its side).
"""
import argparse
import errno
import os
import select
import signal
import socket
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
p.add_argument("--family", choices=["4", "6"], default="4")
p.add_argument("--addr", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--id", default=str(os.getpid()))
p.add_argument("--serve", type=int, default=-1, help="answers to give, then exit")
p.add_argument("--hold", action="store_true", help="TCP: keep each connection until the peer closes")
p.add_argument("--graceful", action="store_true",
               help="on SIGTERM finish the connection or datagram in hand, then exit")
p.add_argument("--record", help="UDP: append each datagram received to this file, one a line")
p.add_argument("--id-file", help="the id is this file's first word, read at start (a deployed version)")
p.add_argument("--load", type=float, default=0, help="seconds spent loading before the bind")
a = p.parse_args()
if a.id_file:
    with open(a.id_file) as f:
        a.id = f.read().split()[0]
if a.load:
    time.sleep(a.load)

family = socket.AF_INET6 if a.family == "6" else socket.AF_INET
kind = socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(family, kind)
try:
    s.bind((a.addr, a.port))
except OSError as e:
    print(f"BINDERR {e.errno} {errno.errorcode.get(e.errno, '?')}", flush=True)
    sys.exit(3)
if kind == socket.SOCK_STREAM:
    s.listen(128)
print(f"READY {s.getsockname()[0]} {s.getsockname()[1]}", flush=True)
served = 0
held = []
stopping = False
record = open(a.record, "a", buffering=1) if a.record else None


def on_term(*_):
    global stopping
    stopping = True


if a.graceful:
    # The flag is looked at between requests only: a request taken from the
    # socket is always answered.
    signal.signal(signal.SIGTERM, on_term)
while a.serve < 0 or served < a.serve:
    if a.graceful:
        if stopping:
            break
        if not select.select([s], [], [], 0.05)[0]:
            continue
    if kind == socket.SOCK_STREAM:
        c, peer = s.accept()
        c.sendall(f"{a.id} {peer[1]}\n".encode())
        if a.hold:
            held.append(c)
        else:
            c.close()
    else:
        data, peer = s.recvfrom(2048)
        if record:
            record.write(data.decode(errors="replace") + "\n")
        s.sendto(f"{a.id} {peer[1]}\n".encode(), peer)
    served += 1
