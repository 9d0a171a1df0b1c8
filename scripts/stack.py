"""Start the whole hotline (app, Rasa, action server, task worker) from the Procfile and supervise it.

honcho parses the Procfile, but its runner stops every process when one exits;
a hotline must keep taking messages when the assistant crashes, so this
supervisor restarts a crashed part (with back-off) and leaves the others running.
`make run` uses `main()`; the end-to-end tests use `Stack` with free ports and a
temporary data directory, so both start exactly the same processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from honcho.environ import parse_procfile

from api.settings import stored_secret

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    data_dir: Path
    model: Path
    app_port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _log: IO[bytes] | None = None

    @property
    def app_url(self) -> str:
        return f"http://{self.host}:{self.app_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def rasa_token(self) -> str:
        """Rasa's API token (a query parameter `token`), for the health check and for tests that read trackers."""
        return self.env()["HOTLINE_RASA_TOKEN"]

    @property
    def secret_key(self) -> str:
        """The app's secret key: it signs the phone line's stream tokens (callers such as `place_call` need it)."""
        return self.env().get("HOTLINE_SECRET_KEY") or stored_secret(self.data_dir.resolve(), "secret_key")

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "stack.log"

    def env(self) -> dict[str, str]:
        data = str(self.data_dir.resolve())
        env = dict(os.environ)
        env.update(
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "PYTHONPATH": ".",
                "HOTLINE_DATA_DIR": data,
                "HOTLINE_HOST": self.host,
                "HOTLINE_PORT": str(self.app_port),
                "HOTLINE_RASA_PORT": str(self.rasa_port),
                "HOTLINE_ACTIONS_PORT": str(self.actions_port),
                "HOTLINE_RASA_URL": self.rasa_url,
                "HOTLINE_ACTION_SERVER_URL": self.actions_url,
                "HOTLINE_APP_URL": self.app_url,
                "HOTLINE_RASA_MODEL": str(self.model.resolve()),
                "HOTLINE_ACTION_ENDPOINT": f"{self.actions_url}/webhook",
                "HOTLINE_TRACKER_DIALECT": "sqlite",
                "HOTLINE_TRACKER_DB": str(Path(data) / "tracker.db"),
            }
        )
        # Several Rasa processes (sanic workers) need a shared lock store: Redis (DESIGN.md).
        env.setdefault("HOTLINE_RASA_WORKERS", "1")
        env.setdefault("HOTLINE_REDIS_HOST", "127.0.0.1")
        env.setdefault("HOTLINE_REDIS_PORT", "6379")
        env.update(self.extra_env)
        env["HOTLINE_RASA_LOCK_STORE"] = "redis" if self.rasa_workers(env) > 1 else "in_memory"
        # Every process shares the stack's secrets: the action server's token to the app, the app's
        # token to Rasa, Rasa's to the action server; both Rasa processes listen on a private address.
        for name in ("service_token", "rasa_token", "action_server_token"):
            var = f"HOTLINE_{name.upper()}"
            env[var] = env.get(var) or stored_secret(Path(data), name)
        env.setdefault("HOTLINE_RASA_INTERFACE", "127.0.0.1")
        return env

    @staticmethod
    def rasa_workers(env: dict[str, str]) -> int:
        value = env.get("HOTLINE_RASA_WORKERS", "1")
        if not value.isdigit() or int(value) < 1:
            raise RuntimeError(f"HOTLINE_RASA_WORKERS must be a whole number >= 1, not {value!r}")
        return int(value)

    def check_redis(self) -> None:
        """With several Rasa workers, Redis must answer before Rasa starts, or every turn would fail."""
        env = self.env()
        if self.rasa_workers(env) == 1:
            return
        host, port = env["HOTLINE_REDIS_HOST"], int(env["HOTLINE_REDIS_PORT"])
        if not _port_busy(host, port):
            raise RuntimeError(
                f"HOTLINE_RASA_WORKERS={env['HOTLINE_RASA_WORKERS']} needs Redis (the shared lock store) "
                f"at {host}:{port}, which does not answer; start Redis or set HOTLINE_RASA_WORKERS=1"
            )

    def start(self) -> None:
        self.check_redis()
        # Databases, logs and secrets hold citizens' words: readable by the hotline's own user only.
        os.umask(0o077)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab", buffering=0)
        procfile = parse_procfile((ROOT / "Procfile").read_text(encoding="utf-8"))
        for name, command in procfile.processes.items():
            self._spawn(name, command)
            threading.Thread(target=self._watch, args=(name, command), daemon=True).start()

    def _spawn(self, name: str, command: str) -> None:
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(name, self.processes[name]), daemon=True).start()

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and self._log is not None
        prefix = f"{name:8s}| ".encode()
        for line in proc.stdout:
            self._log.write(prefix + line)

    def _watch(self, name: str, command: str) -> None:
        """Restart a part that exits while the stack is meant to run."""
        delay = 1.0
        while not self._stopping.is_set():
            code = self.processes[name].wait()
            if self._stopping.is_set():
                return
            self.restarts[name] = self.restarts.get(name, 0) + 1
            assert self._log is not None
            self._log.write(f"{name:8s}| exited with {code}; restarting in {delay:.0f}s\n".encode())
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)
            self._spawn(name, command)

    def problems(self) -> dict[str, str]:
        """What does not answer yet, by part; empty when everything is up."""
        checks = {
            "app": f"{self.app_url}/health",
            "rasa": f"{self.rasa_url}/status?token={self.rasa_token}",
            "actions": f"{self.actions_url}/health",
        }
        out: dict[str, str] = {}
        worker = self.processes.get("worker")
        if worker is not None and worker.poll() is not None:
            out["worker"] = f"exited with {worker.returncode}"
        for name, url in checks.items():
            try:
                resp = httpx.get(url, timeout=2.0)
                if resp.status_code >= 500 or (name == "rasa" and not resp.json().get("model_id")):
                    out[name] = f"HTTP {resp.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                out[name] = type(exc).__name__
        return out

    def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        problems: dict[str, str] = {}
        while time.monotonic() < deadline:
            if sum(self.restarts.values()) > 6:
                raise RuntimeError(f"parts keep crashing ({self.restarts}); see {self.log_file}")
            problems = self.problems()
            if not problems:
                return
            time.sleep(1.0)
        raise RuntimeError(f"not ready after {timeout:.0f}s: {problems}; see {self.log_file}")

    def stop(self) -> None:
        self._stopping.set()
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill_part(self, name: str) -> None:
        """Kill one part the hard way, as a crash would; the supervisor restarts it."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the hotline stack in the foreground.")
    parser.add_argument("--model", required=True, type=Path)
    args = parser.parse_args()
    stack = Stack(
        data_dir=Path(os.environ.get("HOTLINE_DATA_DIR", ROOT / "var")),
        model=args.model,
        app_port=int(os.environ.get("HOTLINE_PORT", "8000")),
        rasa_port=int(os.environ.get("HOTLINE_RASA_PORT", "5005")),
        actions_port=int(os.environ.get("HOTLINE_ACTIONS_PORT", "5055")),
        host=os.environ.get("HOTLINE_HOST", "127.0.0.1"),
    )
    busy = [p for p in (stack.app_port, stack.rasa_port, stack.actions_port) if _port_busy(stack.host, p)]
    if busy:
        print(f"ERROR: port(s) {busy} already in use; stop the other process or set HOTLINE_PORT etc.", file=sys.stderr)
        return 1
    # Ctrl-C and SIGTERM both stop everything, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
    except RuntimeError as exc:
        print(f"ERROR: step 'start the stack' failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"==> starting app, Rasa, action server and task worker (log: {stack.log_file}); Rasa takes about half a minute"
    )
    try:
        stack.wait_ready()
        print(
            "\n残联服务热线已启动 / The hotline is running:\n"
            f"  web chat       {stack.app_url}/\n"
            f"  status lookup  {stack.app_url}/status     complaint form {stack.app_url}/complaint\n"
            f"  phone (browser) {stack.app_url}/phone     staff console {stack.app_url}/staff\n"
            f"  staff API docs {stack.app_url}/docs\n"
            f"  health         {stack.app_url}/health\n"
            f"  Rasa           {stack.rasa_url}   action server {stack.actions_url}\n"
            "Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\n==> stopping…")
        return 0
    except RuntimeError as exc:
        print(f"ERROR: step 'start the stack' failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


if __name__ == "__main__":
    sys.exit(main())
