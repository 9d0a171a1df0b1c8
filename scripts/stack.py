"""Start the whole hotline (app, Rasa, action server, task worker) from the Procfile and supervise it.

honcho parses the Procfile, but its runner stops every process when one exits;
a hotline must keep taking messages when the assistant crashes, so this
supervisor restarts a crashed part (with back-off) and leaves the others running.
`make run` uses `main()`; the end-to-end tests use `Stack` with free ports and a
temporary data directory, so both start exactly the same processes.

Scaled out (`HOTLINE_APP_INSTANCES` set, see `ScaleOut` and docs/deploy.md), the Procfile's
`app` and `rasa` entries each run as several processes on internal ports, behind HAProxy
on the public ones; every other entry runs once, as in the default mode.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx
from honcho.environ import parse_procfile

from api.settings import stored_secret

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_env(env: dict[str, str]) -> None:
    """Spell `HOTLINE_REDIS_URL` (redis://[:password@]host:port/db) out for Rasa's lock store in endpoints.yml.

    Without the URL, `HOTLINE_REDIS_HOST` and `HOTLINE_REDIS_PORT` are used as before, on Redis database 1.
    """
    url = env.get("HOTLINE_REDIS_URL", "")
    if not url:
        env.setdefault("HOTLINE_REDIS_DB", "1")
        env.setdefault("HOTLINE_REDIS_PASSWORD", "")
        return
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    if parts.scheme != "redis" or not parts.hostname or not db.isdigit():
        raise RuntimeError(f"HOTLINE_REDIS_URL must look like redis://host:6379/0, not {url!r}")
    env["HOTLINE_REDIS_HOST"] = parts.hostname
    env["HOTLINE_REDIS_PORT"] = str(parts.port or 6379)
    env["HOTLINE_REDIS_DB"] = db
    env["HOTLINE_REDIS_PASSWORD"] = unquote(parts.password or "")


def _count(name: str, value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise RuntimeError(f"{name} must be a whole number from 1 to 64, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class ScaleOut:
    """The scaled-out mode: several app instances and Rasa servers behind HAProxy.

    Chosen by setting `HOTLINE_APP_INSTANCES` (even to 1: one instance behind the balancer is the
    baseline the benchmark compares with). `HOTLINE_RASA_WORKERS` then counts Rasa servers, each its
    own `rasa run` process (Rasa 3.6 serves a model from one process per server). The public ports stay
    HOTLINE_PORT (the app) and HOTLINE_RASA_PORT (Rasa, for the app only); HAProxy listens there and the
    instances listen on internal ports on HOTLINE_RASA_INTERFACE. Everything they share lives in
    PostgreSQL (`HOTLINE_DATABASE_URL`: the app's data and Rasa's tracker store) and Redis
    (`HOTLINE_REDIS_URL`: Rasa's lock store). The action server stays one process: it keeps no state.
    """

    app_ports: tuple[int, ...]
    rasa_ports: tuple[int, ...]
    interface: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: dict[str, str], *, app_port: int, rasa_port: int) -> ScaleOut | None:
        """Internal ports follow the public ones: HOTLINE_PORT+1… for the app, HOTLINE_RASA_PORT+1… for Rasa."""
        instances = env.get("HOTLINE_APP_INSTANCES", "")
        if not instances:
            return None
        apps = _count("HOTLINE_APP_INSTANCES", instances)
        rasas = _count("HOTLINE_RASA_WORKERS", env.get("HOTLINE_RASA_WORKERS", "1"))
        return cls(
            app_ports=tuple(app_port + 1 + i for i in range(apps)),
            rasa_ports=tuple(rasa_port + 1 + i for i in range(rasas)),
            interface=env.get("HOTLINE_RASA_INTERFACE", "127.0.0.1"),
        )

    @property
    def app_names(self) -> list[str]:
        return [f"app.{i}" for i in range(1, len(self.app_ports) + 1)]

    @property
    def rasa_names(self) -> list[str]:
        return [f"rasa.{i}" for i in range(1, len(self.rasa_ports) + 1)]

    def shared_env(self, env: dict[str, str]) -> None:
        """What every process of the scaled-out stack shares: Rasa's stores, and the balancer as the one proxy."""
        database = env.get("HOTLINE_DATABASE_URL", "")
        if database.startswith("postgresql"):
            tracker = env.get("HOTLINE_TRACKER_URL") or database
            # Rasa's SQLAlchemy 1.4 drives PostgreSQL with psycopg2, the bot environment's driver.
            tracker = "postgresql://" + tracker.split("://", 1)[1]
            env["HOTLINE_TRACKER_DIALECT"] = "postgresql"
            env["HOTLINE_TRACKER_HOST"] = tracker
            env["HOTLINE_TRACKER_DB"] = urlsplit(tracker).path.strip("/")
        env["HOTLINE_RASA_LOCK_STORE"] = "redis"
        # Links in SMS and follow-ups name the balancer, not the instance that wrote them.
        env.setdefault("HOTLINE_PUBLIC_BASE_URL", f"http://{env['HOTLINE_HOST']}:{env['HOTLINE_PORT']}")
        env.setdefault("HOTLINE_TRUSTED_PROXIES", self.interface)
        # uvicorn reads the client's address from X-Forwarded-For only when the balancer sent it.
        env.setdefault("FORWARDED_ALLOW_IPS", env["HOTLINE_TRUSTED_PROXIES"])

    def instance_env(self, name: str) -> dict[str, str]:
        """An instance's own port and name; its address is the private interface, never the public one."""
        kind, _, number = name.partition(".")
        if kind == "app" and number:
            port = self.app_ports[int(number) - 1]
            return {"HOTLINE_PORT": str(port), "HOTLINE_INSTANCE_ID": f"app{number}", "HOTLINE_HOST": self.interface}
        if kind == "rasa" and number:
            return {"HOTLINE_RASA_PORT": str(self.rasa_ports[int(number) - 1]), "HOTLINE_RASA_WORKERS": "1"}
        return {}

    def check(self, env: dict[str, str]) -> None:
        """Refuse to start what could not work: several processes need PostgreSQL, Redis and HAProxy."""
        if not env.get("HOTLINE_DATABASE_URL", "").startswith("postgresql"):
            raise RuntimeError(
                "HOTLINE_APP_INSTANCES needs HOTLINE_DATABASE_URL=postgresql://… (the app's data and Rasa's "
                "conversations are shared by every instance); unset HOTLINE_APP_INSTANCES for the one-machine default"
            )
        if shutil.which("haproxy") is None:
            raise RuntimeError("HOTLINE_APP_INSTANCES needs HAProxy: run scripts/system_packages.sh --scale-out")

    def processes(self, procfile: dict[str, str], config: Path) -> dict[str, str]:
        """The Procfile with `app` and `rasa` run once per instance, and the balancer in front of them."""
        out: dict[str, str] = {}
        for name, command in procfile.items():
            if name == "app":
                out.update(dict.fromkeys(self.app_names, command))
            elif name == "rasa":
                out.update(dict.fromkeys(self.rasa_names, command))
            else:
                out[name] = command
        out["balancer"] = f"exec haproxy -db -f {shlex.quote(str(config))}"
        return out

    def shape(self) -> str:
        return (
            f"==> scaled out: {len(self.app_ports)} app instance(s) and {len(self.rasa_ports)} Rasa server(s) "
            "behind HAProxy"
        )

    def addresses(self) -> str:
        """The instances behind the balancer, for the start-up message."""
        apps = "  ".join(f"{self.interface}:{port}" for port in self.app_ports)
        rasas = "  ".join(f"{self.interface}:{port}" for port in self.rasa_ports)
        return f"  behind HAProxy: app {apps}   Rasa {rasas}\n"

    def checks(self, rasa_token: str) -> dict[str, str]:
        """Each instance's own health, besides the balanced addresses the stack checks anyway."""
        out = {
            name: f"http://{self.interface}:{port}/health"
            for name, port in zip(self.app_names, self.app_ports, strict=True)
        }
        for name, port in zip(self.rasa_names, self.rasa_ports, strict=True):
            out[name] = f"http://{self.interface}:{port}/status?token={rasa_token}"
        return out

    def haproxy_config(self, host: str, app_port: int, rasa_port: int) -> str:
        """HAProxy 2.6: round-robin over healthy instances; streams (SSE, the voice WebSocket) held open."""
        apps = "\n".join(
            f"    server app{i} {self.interface}:{port} check" for i, port in enumerate(self.app_ports, start=1)
        )
        rasas = "\n".join(
            f"    server rasa{i} {self.interface}:{port} check" for i, port in enumerate(self.rasa_ports, start=1)
        )
        return HAPROXY_TEMPLATE.format(
            public=f"{host}:{app_port}", rasa=f"{self.interface}:{rasa_port}", apps=apps, rasas=rasas
        )


HAPROXY_TEMPLATE = """\
# Written by scripts/stack.py for the scaled-out mode; edits are overwritten at the next start.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option dontlognull
    # httplog's format, with the path alone: query strings carry Rasa's token and citizens' digits.
    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %HM %HP"
    timeout connect 3s
    # Slow clients and turns: Rasa answers within HOTLINE_RASA_TIMEOUT_SECONDS, exports take longer.
    timeout client 2m
    timeout server 2m
    timeout http-request 15s
    timeout http-keep-alive 30s
    timeout queue 30s
    # A WebSocket (the phone line's media stream) once upgraded; server-sent events send a heartbeat
    # every 15 s, well within the client and server timeouts above.
    timeout tunnel 2h
    # A connection an instance refuses is tried on another (nothing was sent, so nothing runs twice);
    # a request an instance accepted is never sent again.
    retries 3
    option redispatch 1

frontend public
    bind {public}
    option forwardfor
    default_backend app

backend app
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready
    http-check expect status 200
    # A busy instance answers late rather than not at all: 5 s to answer, three misses before it is out.
    timeout check 5s
    default-server inter 2s fall 3 rise 2
{apps}

frontend rasa
    bind {rasa}
    default_backend rasa

backend rasa
    balance roundrobin
    option httpchk
    http-check send meth GET uri /
    http-check expect status 200
    timeout check 5s
    default-server inter 2s fall 3 rise 2
{rasas}
"""


@dataclass
class Stack:
    data_dir: Path
    model: Path
    app_port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    scale: ScaleOut | None = None
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
        redis_env(env)
        env["HOTLINE_TRACKER_HOST"] = ""
        env["HOTLINE_RASA_LOCK_STORE"] = "redis" if self.rasa_workers(env) > 1 else "in_memory"
        if self.scale is not None:
            self.scale.shared_env(env)
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
        if self.rasa_workers(env) == 1 and self.scale is None:
            return
        host, port = env["HOTLINE_REDIS_HOST"], int(env["HOTLINE_REDIS_PORT"])
        if not _port_busy(host, port):
            raise RuntimeError(
                f"HOTLINE_RASA_WORKERS={env['HOTLINE_RASA_WORKERS']} needs Redis (the shared lock store) "
                f"at {host}:{port}, which does not answer; start Redis or set HOTLINE_RASA_WORKERS=1"
            )

    def start(self) -> None:
        if self.scale is not None:
            self.scale.check(self.env())
        self.check_redis()
        # Databases, logs and secrets hold citizens' words: readable by the hotline's own user only.
        os.umask(0o077)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab", buffering=0)
        procfile = dict(parse_procfile((ROOT / "Procfile").read_text(encoding="utf-8")).processes)
        if self.scale is not None:
            procfile = self.scale.processes(procfile, self.balancer_config())
        for name, command in procfile.items():
            self._spawn(name, command)
            threading.Thread(target=self._watch, args=(name, command), daemon=True).start()

    def process_env(self, name: str) -> dict[str, str]:
        """The environment of one process: the stack's, plus an instance's own port and name when scaled out."""
        env = self.env()
        if self.scale is not None:
            env.update(self.scale.instance_env(name))
        return env

    def balancer_config(self) -> Path:
        """HAProxy's configuration for this stack, written into the data directory (private, like the rest)."""
        assert self.scale is not None
        path = self.data_dir / "haproxy.cfg"
        path.write_text(self.scale.haproxy_config(self.host, self.app_port, self.rasa_port), encoding="utf-8")
        return path

    def _spawn(self, name: str, command: str) -> None:
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=ROOT,
            env=self.process_env(name),
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

    def instance_checks(self) -> dict[str, str]:
        """Scaled out, each instance's own health, besides the balanced addresses; none otherwise."""
        return {} if self.scale is None else self.scale.checks(self.rasa_token)

    def problems(self) -> dict[str, str]:
        """What does not answer yet, by part; empty when everything is up."""
        checks = self.instance_checks() | {
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
                if resp.status_code >= 500 or (name.startswith("rasa") and not resp.json().get("model_id")):
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
    try:
        stack.scale = ScaleOut.from_env(dict(os.environ), app_port=stack.app_port, rasa_port=stack.rasa_port)
    except RuntimeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    ports = [stack.app_port, stack.rasa_port, stack.actions_port]
    if stack.scale is not None:
        ports += [*stack.scale.app_ports, *stack.scale.rasa_ports]
    busy = [p for p in ports if _port_busy(stack.host, p)]
    if stack.scale is not None and not busy:
        print(stack.scale.shape())
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
            + (stack.scale.addresses() if stack.scale is not None else "")
            + "Press Ctrl-C to stop everything.\n",
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
