#!/usr/bin/env python3
"""A tiny replicated key-value store: shoal-chaos's example of a user's service under faults.

  tiny_kv.py serve   in every pod: HTTP on $POD_ADDRESS:8080. PUT /KEY stores the body here and
                     hands it to every peer listed in $PEERS_FILE, retrying every 0.3 s until
                     each has it. GET /KEY answers this pod's copy. The newest write wins, by
                     (time, address), so replicas that were cut off converge once healed.
  tiny_kv.py check   writes a fresh value through this pod's server and passes (exit 0) when
                     every peer serves it within 3 s; else it says which did not (exit 1).

Only the standard library; everything it is sent is size-checked and parsed without trusting it.
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

PORT = 8080
MAX_BODY = 4096
ME = os.environ.get("POD_ADDRESS", "")


def peers():
    try:
        with open(os.environ["PEERS_FILE"], encoding="ascii") as f:
            return [line.strip() for line in f if line.strip() and line.strip() != ME]
    except (OSError, KeyError, UnicodeDecodeError):
        return []


def request(method, address, path, body=None, timeout=0.5):
    req = urllib.request.Request(f"http://{address}:{PORT}{path}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as answer:
        return answer.read(MAX_BODY).decode("utf-8", "replace")


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.data = {}     # key -> (version, value); version = [ns, address]
        self.pending = {}  # peer -> {key: (version, value)}: what it has not acknowledged

    def apply(self, key, version, value):
        with self.lock:
            if key not in self.data or version > self.data[key][0]:
                self.data[key] = (version, value)
                return True
            return False

    def write(self, key, value):
        version = [time.time_ns(), ME]
        self.apply(key, version, value)
        with self.lock:
            for peer in peers():
                self.pending.setdefault(peer, {})[key] = (version, value)

    def replicate_forever(self):
        while True:
            with self.lock:
                work = [(p, dict(items)) for p, items in self.pending.items() if items]
            for peer, items in work:
                for key, (version, value) in items.items():
                    body = json.dumps({"key": key, "version": version, "value": value}).encode()
                    try:
                        request("POST", peer, "/replicate", body)
                    except (OSError, urllib.error.URLError):
                        break  # that peer is out of reach: try again next round
                    with self.lock:
                        if self.pending.get(peer, {}).get(key, (None,))[0] == version:
                            del self.pending[peer][key]
            time.sleep(0.3)


STORE = Store()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet: the check says what matters
        pass

    def body(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def answer(self, code, text=""):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def key(self):
        key = self.path.lstrip("/")
        return key if 0 < len(key) <= 64 and key.isalnum() else None

    def do_GET(self):
        key = self.key()
        with STORE.lock:
            item = STORE.data.get(key) if key else None
        self.answer(200, item[1]) if item else self.answer(404)

    def do_PUT(self):
        key, body = self.key(), self.body()
        if key is None or body is None:
            return self.answer(400)
        STORE.write(key, body.decode("utf-8", "replace"))
        self.answer(204)

    def do_POST(self):
        body = self.body()
        try:
            msg = json.loads(body) if body is not None else None
            key, version, value = msg["key"], msg["version"], msg["value"]
            ok = (isinstance(key, str) and key.isalnum() and len(key) <= 64
                  and isinstance(value, str) and isinstance(version, list) and len(version) == 2
                  and isinstance(version[0], int) and isinstance(version[1], str))
        except (ValueError, TypeError, KeyError):
            ok = False
        if self.path != "/replicate" or not ok:
            return self.answer(400)
        STORE.apply(key, version, value)
        self.answer(204)


def serve():
    threading.Thread(target=STORE.replicate_forever, daemon=True).start()
    server = http.server.ThreadingHTTPServer((ME, PORT), Handler)
    print(f"tiny_kv: serving on {ME}:{PORT}", flush=True)
    server.serve_forever()


def check():
    value = f"{time.time_ns()}-{ME}"
    try:
        request("PUT", ME, "/probe", value.encode(), timeout=2)
    except (OSError, urllib.error.URLError) as e:
        print(f"tiny_kv check: this pod's server ({ME}) did not take the write: {e}")
        return 1
    missing = peers()
    deadline = time.monotonic() + 3
    while missing and time.monotonic() < deadline:
        still = []
        for peer in missing:
            try:
                if request("GET", peer, "/probe") != value:
                    still.append(peer)
            except (OSError, urllib.error.URLError):
                still.append(peer)
        missing = still
        if missing:
            time.sleep(0.2)
    if missing:
        print(f"tiny_kv check: {len(missing)} replicas lack the write after 3 s: {' '.join(missing)}")
        return 1
    print(f"tiny_kv check: all {len(peers())} replicas serve the write")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("serve", "check"):
        sys.exit("usage: tiny_kv.py serve|check (with POD_ADDRESS and PEERS_FILE set)")
    sys.exit(serve() if sys.argv[1] == "serve" else check())
