"""A real TensorBoard server for the tests: started from the venv's bin on a free loopback port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tensorboard_executable() -> str:
    candidate = Path(sys.executable).parent / "tensorboard"
    return str(candidate) if candidate.exists() else "tensorboard"


@contextmanager
def tensorboard_server(logdir, timeout=120):
    """Start ``tensorboard --logdir LOGDIR`` on 127.0.0.1; yield its base URL; stop it."""
    port = free_port()
    log = Path(logdir).parent / f"tensorboard-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([tensorboard_executable(), "--logdir", str(logdir), "--port", str(port),
                                 "--host", "127.0.0.1", "--reload_interval", "1"],
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited: {log.read_text()[-2000:]}")
            try:
                get_json(base, "/data/runs")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.loads(response.read().decode())


def post_json(base, path, body: dict):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def wait_for(fetch, ready, timeout=120, interval=1.0):
    """Call ``fetch()`` until ``ready(result)``; return the last result."""
    deadline = time.time() + timeout
    while True:
        result = fetch()
        if ready(result) or time.time() > deadline:
            return result
        time.sleep(interval)


SESSION_GROUPS_REQUEST = {
    "experimentName": "",
    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    "colParams": [],
    "startIndex": 0,
    "sliceSize": 1000,
}
