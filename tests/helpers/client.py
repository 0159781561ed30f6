#!/usr/bin/python3
"""Sends N requests, each from a fresh socket (so a fresh source port), and
prints every answer on its own line. TCP: connect and read to EOF. UDP: one
datagram and its reply. Sets no socket options."""
import argparse
import socket
import sys

p = argparse.ArgumentParser()
p.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("-n", type=int, default=1)
p.add_argument("--timeout", type=float, default=3)
a = p.parse_args()

family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
for _ in range(a.n):
    try:
        if a.proto == "tcp":
            with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        else:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(a.timeout)
                s.sendto(b"ping", (a.host, a.port))
                data, _ = s.recvfrom(4096)
        sys.stdout.write(data.decode(errors="replace"))
    except OSError as e:
        print(f"ERROR {e.errno}")
    sys.stdout.flush()
