#!/usr/bin/python3
"""journald PATH OUT [--stall]: a stand-in for systemd-journald's native
socket at PATH. Each datagram is decoded as the native protocol says
(FIELD=value lines; FIELD, a 64-bit little-endian length and raw bytes for a
value holding a newline), the sender's _PID, _UID, _COMM and _EXE added from
its credentials as journald does, and written to OUT as one JSON object a
line, the shape of `journalctl -o json`. A datagram that does not decode is
written as {"BAD": "..."}. With --stall it never reads."""
import json
import os
import socket
import struct
import sys
import time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o666)
print("READY", flush=True)
if "--stall" in sys.argv:
    while True:
        time.sleep(60)


def decode(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            if data[nl + 9 + n:nl + 10 + n] != b"\n":
                raise ValueError("binary field not closed")
            i = nl + 10 + n
        if not k or not all(c.isupper() or c.isdigit() or c == "_" for c in k.decode()) or k.startswith(b"_"):
            raise ValueError("bad field name %r" % k)
        fields[k.decode()] = v.decode()
    return fields


with open(out, "a", buffering=1) as f:
    while True:
        data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(12))
        try:
            entry = decode(data)
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            f.write(json.dumps({"BAD": repr(e)}) + "\n")
            continue
        for level, kind, cred in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("3i", cred[:12])
                entry["_PID"], entry["_UID"] = str(pid), str(uid)
                try:
                    entry["_EXE"] = os.readlink(f"/proc/{pid}/exe")
                    entry["_COMM"] = open(f"/proc/{pid}/comm").read().strip()
                except OSError:
                    pass
        f.write(json.dumps(entry) + "\n")
