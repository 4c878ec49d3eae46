#!/usr/bin/env python3
"""systemd's side of sd_notify(3) for tests: binds a Unix datagram socket at PATH and
appends every message it receives to OUT, one per line (a message with several
assignments is split at its newlines), until it is killed. Stops on its own after
MAX_SECONDS (default 300), so a test that dies cannot leave it behind for long."""
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + float(sys.argv[3] if len(sys.argv) > 3 else 300)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(0.5)
with open(out, "a", buffering=1) as log:
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        for line in data.decode("utf-8", "replace").splitlines():
            log.write(line + "\n")
