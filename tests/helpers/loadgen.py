#!/usr/bin/python3
"""Connects in a loop from several threads until a stop file appears (or a
time limit passes), and counts what happened to each attempt: answered,
refused, reset (or closed without an answer), timed out. Prints one JSON
line: the counts and every distinct answer's first word (a server's id).
TCP: read to EOF (--http sends a GET first). UDP: numbered datagrams sent at
a steady pace, with no reply awaited; the numbers go to --sent."""
import argparse
import json
import os
import socket
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, required=True)
p.add_argument("--threads", type=int, default=4)
p.add_argument("--until", help="stop once this file exists")
p.add_argument("--seconds", type=float, default=120, help="stop after this long at the latest")
p.add_argument("--http", action="store_true", help="send GET / and expect a 200")
p.add_argument("--sent", help="UDP: write each datagram's number here")
p.add_argument("--gap", type=float, default=0.001, help="UDP: seconds between datagrams")
a = p.parse_args()

lock = threading.Lock()
counts = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0, "other": 0}
ids = set()
deadline = time.monotonic() + a.seconds
family = socket.AF_INET6 if ":" in a.host else socket.AF_INET


def done():
    return time.monotonic() > deadline or (a.until and os.path.exists(a.until))


def count(what, ident=None):
    with lock:
        counts[what] += 1
        if ident:
            ids.add(ident)


def tcp_worker():
    while not done():
        try:
            with socket.create_connection((a.host, a.port), timeout=5) as s:
                if a.http:
                    s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            text = data.decode(errors="replace")
            if a.http:
                ok = text.startswith("HTTP/1.1 200") or text.startswith("HTTP/1.0 200")
                count("ok" if ok else "reset", "nginx" if ok else None)
            elif text.strip():
                count("ok", text.split()[0])
            else:
                count("reset")
        except ConnectionRefusedError:
            count("refused")
        except ConnectionResetError:
            count("reset")
        except socket.timeout:
            count("timeout")
        except OSError:
            count("other")


def udp_sender():
    n = 0
    with socket.socket(family, socket.SOCK_DGRAM) as s, open(a.sent, "w", buffering=1) as out:
        while not done():
            try:
                s.sendto(str(n).encode(), (a.host, a.port))
                out.write(f"{n}\n")
                count("ok")
            except ConnectionRefusedError:
                count("refused")  # an ICMP port unreachable came back
            n += 1
            time.sleep(a.gap)


if a.proto == "udp":
    udp_sender()
else:
    workers = [threading.Thread(target=tcp_worker) for _ in range(a.threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
print(json.dumps({**counts, "ids": sorted(ids)}), flush=True)
