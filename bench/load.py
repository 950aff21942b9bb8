"""Load test of the HTTP API on loopback: throughput and latency under concurrent clients.

Usage:

    .venv/bin/python bench/load.py [--clients 4] [--duration 10] [--requests 3000] [--store DIR] [--json OUT]

The script builds a SQLite store holding the bundled sample records (ingested and processed with the default
pipeline; temporary, or kept in ``--store`` and reused by later runs), creates an API key, and starts a real
server (`carelm serve`, a separate process) on a free loopback port.  Then, for each endpoint in turn,
``--clients`` threads, each with its own keep-alive connection, send requests for ``--duration`` seconds or
until ``--requests`` have been sent, whichever comes first:

* two baselines in the same run: an unknown path (404 from the router: the HTTP stack and the hardening
  middlewares, nothing else) and ``GET /health`` (the lightest route, without authentication; it reads
  the schema revision from the database),
* ``POST /v1/deidentify`` with the sample notes' texts in turn,
* ``GET /v1/records/{id}`` over the stored records in turn.

A few untimed requests warm each endpoint first.  Reported per endpoint: requests per second, p50 and p99
latency, and failed requests (any status other than the expected 200, or 404 for the unknown path, or a
transport error).  The exit status is 1 when
any request failed.  The rate limiter is turned off for the server under test (the clients share one key);
every other hardening middleware stays on.  The notes are the bundled synthetic sample: no shared data is read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from carelm.core.settings import get_settings, write_key_file
from carelm.service import access, demo
from carelm.service.context import Context
from carelm.service.ingest import ingest_path
from carelm.service.process import process_notes

Request = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    failure_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict[str, float | int | str]:
        ordered = sorted(self.latencies_ms) or [float("nan")]
        return {"endpoint": self.name, "requests": len(self.latencies_ms), "failed": self.failures,
                "seconds": round(self.seconds, 2), "rps": round(len(self.latencies_ms) / self.seconds, 1),
                "p50_ms": round(percentile(ordered, 0.50), 2), "p99_ms": round(percentile(ordered, 0.99), 2)}


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_store(folder: Path) -> tuple[dict[str, str], list[str], list[str], str]:
    """Ingest and process the bundled sample (a no-op for a store that has it); the server's environment,
    the record ids, the sample texts and a fresh API key."""
    folder.mkdir(parents=True, exist_ok=True)
    write_key_file(folder / "secret.key")
    env = {"CARELM_PROFILE": "test", "CARELM_DATA_DIR": str(folder), "CARELM_RATE_LIMIT_PER_SECOND": "0",
           "CARELM_LOG_LEVEL": "WARNING"}
    ctx = Context(get_settings(profile="test", data_dir=folder), actor="bench")
    try:
        record_ids = list(dict.fromkeys(ingest_path(ctx, demo.sample_path()).record_ids))
        report = process_notes(ctx)
        print(f"store: {len(record_ids)} records, {report.notes_done} notes processed now", file=sys.stderr)
        key = access.issue_demo_key(ctx, "load-test")
    finally:
        ctx.close()
    with demo.sample_path().open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    return env, record_ids, texts, key


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``carelm serve`` in its own process; returns once /health answers."""
    full_env = {**os.environ, **env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "carelm", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=full_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"the server did not answer within 120 s; see {log}")


def run_phase(name: str, base_url: str, headers: dict[str, str], request: Request, *, expected: int, clients: int,
              duration: float, max_requests: int) -> Phase:
    """``clients`` threads sending ``request`` until ``duration`` seconds pass or ``max_requests`` are sent."""
    phase = Phase(name)
    lock = threading.Lock()
    counter = itertools.count()
    stop_at = time.perf_counter() + duration

    def client_loop() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            while time.perf_counter() < stop_at:
                n = next(counter)
                if n >= max_requests:
                    return
                start = time.perf_counter()
                try:
                    response = request(client, n)
                    problem = None if response.status_code == expected else f"status {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    phase.latencies_ms.append(elapsed)
                    if problem:
                        phase.failures += 1
                        if len(phase.failure_examples) < 5:
                            phase.failure_examples.append(problem)

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    return phase


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (threads)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint at most")
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint at most")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--store", type=Path, default=None,
                        help="keep the prepared store in this folder and reuse it next time (default: temporary)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carelm-load-") as tmp:
        started = time.perf_counter()
        env, record_ids, texts, key = prepare_store(args.store or Path(tmp) / "data")
        print(f"store prepared in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        port = free_port()
        server = start_server(env, port, Path(tmp) / "server.log")
        base_url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        endpoints: list[tuple[str, int, Request]] = [
            ("GET unknown path (floor)", 404, lambda c, n: c.get("/v1/no-such-route")),
            ("GET /health (baseline)", 200, lambda c, n: c.get("/health")),
            ("POST /v1/deidentify", 200, lambda c, n: c.post("/v1/deidentify", json={"text": texts[n % len(texts)]})),
            ("GET /v1/records/{id}", 200, lambda c, n: c.get(f"/v1/records/{record_ids[n % len(record_ids)]}")),
        ]
        try:
            with httpx.Client(base_url=base_url, headers=headers, timeout=120) as warm:
                for _, _, request in endpoints:  # first calls load pipelines: not timed
                    for n in range(5):
                        request(warm, n)
            phases = [run_phase(name, base_url, headers, request, expected=expected, clients=args.clients,
                                duration=args.duration, max_requests=args.requests)
                      for name, expected, request in endpoints]
        finally:
            server.terminate()
            server.wait(timeout=30)

    figures = [phase.figures() for phase in phases]
    print(f"\n{args.clients} clients, at most {args.duration:g} s or {args.requests} requests per endpoint, loopback")
    print(f"{'endpoint':<26} {'requests':>8} {'failed':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for row in figures:
        print(f"{row['endpoint']:<26} {row['requests']:>8} {row['failed']:>6} {row['rps']:>8} "
              f"{row['p50_ms']:>8} {row['p99_ms']:>8}")
    for phase in phases:
        if phase.failures:
            print(f"{phase.name}: {phase.failures} failed, e.g. {', '.join(phase.failure_examples)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"clients": args.clients, "duration": args.duration,
                                         "requests": args.requests, "endpoints": figures}, indent=2) + "\n",
                             encoding="utf-8")
    return 1 if any(phase.failures for phase in phases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
