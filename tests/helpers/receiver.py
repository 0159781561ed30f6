#!/usr/bin/python3
"""A UDP receiver that sets no socket option of its own: binds PORT (joining
a multicast GROUP first when given), says READY (or BINDERR and the errno),
and writes every datagram it receives to --out, one a line, until none has
come for --idle seconds."""
import argparse
import errno
import socket
import struct
import sys

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--addr", default="0.0.0.0")
p.add_argument("--group", help="a multicast group to join, on the loopback interface")
p.add_argument("--out", required=True)
p.add_argument("--idle", type=float, default=1.0)
a = p.parse_args()

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind((a.addr, a.port))
except OSError as e:
    print(f"BINDERR {e.errno} {errno.errorcode.get(e.errno, '?')}", flush=True)
    sys.exit(3)
if a.group:
    mreq = struct.pack("4s4s", socket.inet_aton(a.group), socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
print("READY", flush=True)
with open(a.out, "w", buffering=1) as out:
    s.settimeout(a.idle)
    got = 0
    while True:
        try:
            data = s.recv(2048)
        except socket.timeout:
            if got:
                break
            s.settimeout(10)  # the first datagram may take a while to come
            continue
        got += 1
        s.settimeout(a.idle)
        out.write(data.decode(errors="replace") + "\n")
