#!/usr/bin/python3
"""A daemon of the old school, for the keeper's tests: it may fork into the
background twice (setsid between), close every file descriptor it has
(close_range, as closefrom does), bind, change root or drop to another user,
then listen — and serve like server.py, finishing the connection in hand on
SIGTERM. It writes READY and its pid to --out, since its stdout is gone."""
import argparse
import os
import pwd
import select
import signal
import socket

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--double-fork", action="store_true")
p.add_argument("--close-all", action="store_true")
p.add_argument("--user", help="drop to this user after bind, before listen")
p.add_argument("--chroot", help="change root to this directory after bind, before listen")
a = p.parse_args()

if a.double_fork:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
if a.close_all:
    os.closerange(0, 65536)
    fd = os.open("/dev/null", os.O_RDWR)  # 0, 1 and 2 again, as daemons do
    os.dup2(fd, 1)
    os.dup2(fd, 2)
out = open(a.out, "a", buffering=1)
pw = pwd.getpwnam(a.user) if a.user else None  # before chroot hides /etc/passwd
s = socket.socket()
s.bind(("127.0.0.1", a.port))
if a.chroot:
    os.chroot(a.chroot)
    os.chdir("/")
if pw:
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
s.listen(128)
out.write(f"READY {os.getpid()} uid {os.getuid()}\n")
stopping = False


def on_term(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)
while not stopping:
    if not select.select([s], [], [], 0.05)[0]:
        continue
    c, peer = s.accept()
    c.sendall(f"{os.getpid()} {peer[1]}\n".encode())
    c.close()
