"""Distributed grids: keras-tuner's own mode (``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``; the chief serves the oracle over gRPC, workers run trials). :func:`launch_local` starts a chief and N workers on 127.0.0.1 as subprocesses. See ``docs/distributed.md``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from keras_dyn.errors import KerasDynError

CHILD_ENV = "KERAS_DYN_GRID_CHILD"  # set by the --workers launcher in its children


def free_port(host="127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def child_command(config_path, logdir, *, quick=False, seeds=None, data_dir=None) -> list[str]:
    cmd = [sys.executable, "-m", "keras_dyn", "grid", str(config_path), "--logdir", str(logdir)]
    if quick:
        cmd.append("--quick")
    if seeds is not None:
        cmd += ["--seeds", str(seeds)]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return cmd


def launch_local(config_path, logdir, workers: int, *, quick=False, seeds=None, data_dir=None,
                 host="127.0.0.1"):
    """Start a chief and ``workers`` workers on this machine; wait until all have finished."""
    port = free_port(host)
    cmd = child_command(config_path, logdir, quick=quick, seeds=seeds, data_dir=data_dir)
    base = dict(os.environ, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    base[CHILD_ENV] = "1"
    print(f"keras_dyn grid: chief oracle on {host}:{port}, {workers} worker(s)", file=sys.stderr,
          flush=True)
    procs = {"chief": subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID="chief"))}
    for i in range(workers):
        procs[f"tuner{i}"] = subprocess.Popen(cmd, env=dict(base, KERASTUNER_TUNER_ID=f"tuner{i}"))
    try:
        failed = []
        pending = dict(procs)
        while pending:
            for name, proc in list(pending.items()):
                code = proc.poll()
                if code is None:
                    continue
                del pending[name]
                if code != 0:
                    failed.append(f"{name} exited with {code}")
            if failed:
                break
            time.sleep(0.5)
        if failed:
            stop_all(procs.values())
            raise KerasDynError("distributed grid: " + "; ".join(failed)
                                + " (run the same command again to resume)")
    except KeyboardInterrupt:
        stop_all(procs.values())
        raise


def stop_all(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.time() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
