#!/usr/bin/python3
"""A legacy daemon for the audit's tests: it sets no socket option of its
own, listens on two TCP ports (--port, --admin), binds a UDP socket
(--udp), connects once to a backend (--backend) at start, and tries a bind
that fails (--busy: a port someone else holds), going on without it as old
daemons do. It answers each TCP connection with its pid and closes it
(TIME_WAIT stays on its side), each UDP datagram likewise, and on SIGTERM
finishes the connection in hand and exits. --fork: the listeners are
served by a forked child (a pre-forking server), which also makes the
backend connection; --helper CMD: runs CMD
once through a shell (an exec'd helper). Prints READY when serving."""
import argparse
import os
import select
import signal
import socket
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--admin", type=int, required=True)
p.add_argument("--udp", type=int, required=True)
p.add_argument("--backend", type=int, help="connect to 127.0.0.1:BACKEND once at start")
p.add_argument("--busy", type=int, help="a port held by another process: the bind fails")
p.add_argument("--fork", action="store_true", help="serve from a forked child")
p.add_argument("--helper", help="run this command once (sh -c) after the listeners")
p.add_argument("--serve", type=int, default=-1, help="answers to give, then exit")
a = p.parse_args()

main = socket.socket()
main.bind(("127.0.0.1", a.port))
main.listen(64)
admin = socket.socket(socket.AF_INET6)
admin.bind(("::1", a.admin))
admin.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", a.udp))
if a.busy:
    extra = socket.socket()
    try:
        extra.bind(("127.0.0.1", a.busy))
    except OSError as e:
        print(f"busy port {a.busy}: {e.strerror}, going on without it", file=sys.stderr, flush=True)
    extra.close()


def backend():
    # Blocking, as old code is: the log sees the connect succeed.
    try:
        with socket.socket() as b:
            b.connect(("127.0.0.1", a.backend))
            b.recv(64)
    except OSError as e:
        print(f"backend: {e.strerror}", file=sys.stderr, flush=True)


if a.backend and not a.fork:
    backend()
if a.helper:
    subprocess.run(["/bin/sh", "-c", a.helper], check=False)

stopping = False


def on_term(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)
if a.fork:
    child = os.fork()
    if child:
        # The parent waits for its worker and passes SIGTERM on.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
        print(f"READY {os.getpid()} worker {child}", flush=True)
        while True:
            try:
                os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        sys.exit(0)
    if a.backend:
        backend()  # the worker's own connection
else:
    print(f"READY {os.getpid()}", flush=True)
served = 0
while not stopping and (a.serve < 0 or served < a.serve):
    try:
        ready = select.select([main, admin, udp], [], [], 0.05)[0]
    except InterruptedError:
        continue
    for s in ready:
        if s is udp:
            data, peer = udp.recvfrom(512)
            udp.sendto(f"{os.getpid()} {peer[1]}\n".encode(), peer)
        else:
            c, peer = s.accept()
            c.sendall(f"{os.getpid()} {peer[1]}\n".encode())
            c.close()
        served += 1
