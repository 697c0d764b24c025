"""The app's processes as the Procfile starts them (web = gunicorn, worker = cx worker), for tests that
run them as separate processes against the test session's database and queue."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.test_worker import worker_env

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            commands[name.strip()] = command.strip()
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(config: dict[str, Any], **extra: str) -> dict[str, str]:
    """The environment a deployment gives every process: the test session's database and queue, and the
    project's virtualenv first on PATH (where the Procfile's `gunicorn` and `flask` are)."""
    env = worker_env(config)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(APP_URL=config["APP_URL"], MAIL_URL=str(config["MAIL_URL"]), HOST="127.0.0.1",
               CX_REGISTER_WEBHOOKS="1" if config["CX_REGISTER_WEBHOOKS"] else "0")
    env.update(extra)
    return env


def start(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the Procfile's ``kind`` process; its output goes to ``log`` (appended, so a restart adds to it)."""
    with log.open("ab") as out:
        return subprocess.Popen(shlex.split(procfile()[kind]), cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"web process exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/healthz did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes], seconds: float = 30) -> int:
    """SIGTERM, as a platform stops a process; SIGKILL if it is still there after ``seconds``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)
