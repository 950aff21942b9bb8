"""End to end: `carelm demo` ingests the bundled sample, processes it and serves the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.server import free_port


@pytest.mark.slow
def test_demo_serves_records_with_sections_and_sentences(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELM_")}
    env["HF_HUB_OFFLINE"] = "1"
    child = subprocess.Popen([sys.executable, "-m", "carelm", "demo", "--port", str(port)], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving on http://127.0.0.1:" in line:
                break
        output = "".join(lines)
        assert f"serving on http://127.0.0.1:{port}" in output, output
        assert '"notes": 200' in output and '"patients": 50' in output
        assert (tmp_path / "carelm-data" / "secret.key").exists()

        key = re.search(r"API key of the demo admin .*: (clm_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", output)
        assert key, output
        record = _first_record(port, key.group(1))
        assert httpx.get(f"http://127.0.0.1:{port}/v1/records", timeout=10).status_code == 401  # no key
        note = record["notes"][0]
        assert note["layers"]["sections"] and note["layers"]["sentences"]
        assert {s["attributes"]["section"] for s in note["layers"]["sentences"]} - {None}
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)


def _first_record(port: int, key: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/v1/records", params={"limit": 1}, timeout=10,
                                 headers={"Authorization": f"Bearer {key}"})
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 86 and len(page["items"]) == 1
    return page["items"][0]
