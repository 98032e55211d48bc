#!/usr/bin/env python3
"""The soak driver behind scripts/soak.sh: an upstream with faults, infermux, load, samples."""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

STOP = threading.Event()

# Invented callers are drawn from a pool this large: far more than `metrics.max_callers`, so
# the label bound is exercised, but bounded, as the callers of a real deployment are. The
# month's spend of every caller stays reportable, so each one seen costs a little memory for
# good; with a bounded pool that stops growing once every caller has been seen, and memory
# that keeps growing after that is a leak.
CALLER_POOL = 5000


def seconds(text):
    match = re.fullmatch(r"(\d+)\s*(s|m|h)?", text.strip())
    if not match:
        sys.exit(f"invalid duration {text!r}: write 90s, 10m or 2h")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 60}[match.group(2)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(http.server.BaseHTTPRequestHandler):
    """An OpenAI-shaped provider that misbehaves now and then."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.send_json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        roll = random.random()
        if roll < 0.05:
            return self.send_json(500, {"error": {"message": "soak: server error"}})
        if roll < 0.08:
            wait = random.choice(["1", "86400", "Wed, 21 Oct 2099 07:28:00 GMT", "-5", "1e9"])
            return self.send_json(429, {"error": {"message": "soak: slow down"}}, [("retry-after", wait)])
        usage = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
        if self.path.endswith("/embeddings"):
            return self.send_json(200, {"object": "list", "model": request.get("model"),
                                        "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 8}],
                                        "usage": {"prompt_tokens": 4, "total_tokens": 4}})
        if not request.get("stream"):
            return self.send_json(200, {"id": "c", "object": "chat.completion", "created": 0,
                                        "model": request.get("model"),
                                        "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": "soak " * 20}}],
                                        "usage": usage})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        cut = roll < 0.11
        for i in range(20):
            if cut and i == 10:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": request.get("model"),
                     "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.01)
        last = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": request.get("model"),
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
        self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def client(port, tally, lock, pool):
    conn = None
    while not STOP.is_set():
        kind = random.random()
        # A pool of 0 invents a new caller every time (to measure what each caller costs).
        invented = random.randrange(pool) if pool else random.randrange(10**12)
        caller = f"invented-{invented}" if random.random() < 1 / 3 else random.choice(["team-a", "team-b"])
        if kind < 0.15:
            path, body = "/v1/embeddings", {"model": "text-embedding-3-small", "input": "soak"}
        else:
            path = "/v1/chat/completions"
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "soak " * 10}],
                    "stream": kind < 0.6}
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", path, json.dumps(body),
                         {"content-type": "application/json", "x-infermux-caller": caller})
            response = conn.getresponse()
            response.read()
            outcome = str(response.status)
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as error:  # noqa: BLE001 - every failure is counted
            outcome = type(error).__name__
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            tally[outcome] += 1


def slowloris(port, tally, lock):
    while not STOP.is_set():
        s, started = None, time.time()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            started = time.time()
            while not STOP.is_set():
                s.sendall(b"X")
                time.sleep(0.5)
        except OSError:
            with lock:
                tally["slowloris cut after %ds" % min(60, round(time.time() - started))] += 1
        finally:
            if s is not None:
                s.close()


def mute(port, tally, lock):
    while not STOP.is_set():
        s = socket.create_connection(("127.0.0.1", port), timeout=300)
        started = time.time()
        try:
            if s.recv(1) == b"":
                with lock:
                    tally["idle cut after %ds" % round(time.time() - started)] += 1
        except OSError:
            pass
        s.close()


def drain(stream, levels):
    for line in stream:
        try:
            levels[json.loads(line).get("level", "?").lower()] += 1
        except ValueError:
            levels["unstructured"] += 1


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--duration", default="60m")
    parser.add_argument("--caller-pool", type=int, default=CALLER_POOL,
                        help="invented callers are drawn from this many (0: a new one every time)")
    args = parser.parse_args()
    duration = seconds(args.duration)

    upstream = Server(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proxy, management = free_port(), free_port()
    # The request log (on, as by default) is written to a scratch directory, removed at exit.
    scratch = tempfile.TemporaryDirectory(prefix="infermux-soak-")
    config = f"""
listen: "127.0.0.1:{proxy}"
management_listen: "127.0.0.1:{management}"
header_read_timeout: 5s
body_read_timeout: 10s
idle_timeout: 20s
metrics: {{max_callers: 50}}
request_log: {{path: "{scratch.name}/requests.db"}}
log: {{level: warn, format: json}}
providers:
  - name: flaky
    type: openai
    base_url: "http://127.0.0.1:{upstream.server_address[1]}/v1"
    api_key: sk-soak
    models: [gpt-4o-mini, text-embedding-3-small]
    max_cooldown: 30s
    circuit_breaker: {{window: 30s, min_requests: 20, error_rate: 0.5, recovery: 5s}}
  - {{name: backup, type: mock, models: [gpt-4o-mini, text-embedding-3-small]}}
routing: {{strategy: priority}}
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(config)
    process = subprocess.Popen([args.bin, "serve", "--config", f.name], stderr=subprocess.PIPE)
    # infermux logs to stderr: read it as it comes (a pipe nobody reads fills up, and then
    # the proxy's log writes block), counting the lines by level.
    levels = Counter()
    threading.Thread(target=drain, args=(process.stderr, levels), daemon=True).start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", proxy), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    tally, lock = Counter(), threading.Lock()
    workers = [threading.Thread(target=client, args=(proxy, tally, lock, args.caller_pool), daemon=True)
               for _ in range(16)]
    workers += [threading.Thread(target=slowloris, args=(proxy, tally, lock), daemon=True) for _ in range(4)]
    workers += [threading.Thread(target=mute, args=(proxy, tally, lock), daemon=True) for _ in range(4)]
    for w in workers:
        w.start()

    started = time.time()
    samples = []
    interval = max(5, min(60, duration // 30))
    print(f"soak: {duration}s, sampling every {interval}s, binary {args.bin}", flush=True)
    while time.time() - started < duration:
        time.sleep(max(0, min(interval, duration - (time.time() - started))))
        rss, fds = sample(process.pid)
        with lock:
            done = sum(v for k, v in tally.items() if k.isdigit())
        samples.append((round(time.time() - started), rss, fds, done))
        print(f"  t={samples[-1][0]:>5}s  rss={rss / 1024:7.1f} MiB  fds={fds:4}  requests={done}", flush=True)
    STOP.set()
    metrics = http.client.HTTPConnection("127.0.0.1", management, timeout=10)
    metrics.request("GET", "/metrics")
    text = metrics.getresponse().read().decode()
    callers = set(re.findall(r'infermux_tokens_total\{[^}]*caller="([^"]*)"', text))
    metrics.request("GET", "/_infermux/costs/by-caller")
    ledger = json.loads(metrics.getresponse().read())["callers"]
    process.terminate()
    process.wait(timeout=60)

    print("answers:", dict(sorted(tally.items())))
    print("log lines by level:", dict(sorted(levels.items())))
    print(f"caller label values in /metrics: {len(callers)} (max_callers 50 + other + 2 teams)")
    print(f"callers with their spend in /_infermux/costs/by-caller: {len(ledger)} "
          f"(at most {args.caller_pool or 'unbounded'} invented + 2 teams)")
    first = [s[1] for s in samples[: max(1, len(samples) // 4)]]
    last = [s[1] for s in samples[-max(1, len(samples) // 4):]]
    growth = (sum(last) / len(last)) / (sum(first) / len(first)) - 1
    print(f"rss: first quarter {sum(first) / len(first) / 1024:.1f} MiB, last quarter "
          f"{sum(last) / len(last) / 1024:.1f} MiB ({growth:+.1%}); max {max(s[1] for s in samples) / 1024:.1f} MiB")
    # A proxy that stops answering keeps a flat RSS: every interval must have served requests.
    stalled = [t for (t, _, _, n), (_, _, _, before) in zip(samples[1:], samples) if n == before]
    if stalled:
        print(f"stalled: no request answered in the interval before t={stalled[0]}s "
              f"({len(stalled)} intervals without progress)")
    bad = [k for k in tally if k.isdigit() and k not in ("200",)]
    failed = (growth > 0.25 or bool(stalled) or len(callers) > 53 or not 2 < len(ledger) <= (args.caller_pool or 10**12) + 2
              or any(k.startswith("5") and k != "502" for k in bad))
    print("soak:", "FAILED" if failed else "ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
