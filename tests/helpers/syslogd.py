#!/usr/bin/python3
"""syslogd PATH OUT [--stall]: a datagram listener at PATH (as /dev/log is),
writing each message received as one line to OUT; with --stall it never
reads, as a hung syslog daemon would not."""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
print("READY", flush=True)
if "--stall" in sys.argv:
    while True:
        time.sleep(60)
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
