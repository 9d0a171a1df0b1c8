"""The scaled-out mode's shape, without starting it: which processes, which ports, what HAProxy is told,
and the instance header the app adds (tests/e2e/test_scaled_out.py runs the mode for real)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from honcho.environ import parse_procfile

from tests.conftest import ROOT, Stack, free_port
from tests.conftest import _reset_caches as reset_caches

from stack import ScaleOut, redis_env  # isort: skip  (scripts/ is on the path through tests.conftest)

PROCFILE = {"app": "run app", "rasa": "run rasa", "actions": "run actions", "worker": "run worker"}


def _scale() -> ScaleOut:
    scale = ScaleOut.from_env(
        {"HOTLINE_APP_INSTANCES": "2", "HOTLINE_RASA_WORKERS": "3"}, app_port=8000, rasa_port=5005
    )
    assert scale is not None
    return scale


def test_the_default_stays_one_machine() -> None:
    assert ScaleOut.from_env({"HOTLINE_RASA_WORKERS": "2"}, app_port=8000, rasa_port=5005) is None


def test_instances_get_internal_ports_and_every_other_part_runs_once(tmp_path: Path) -> None:
    scale = _scale()
    assert scale.app_ports == (8001, 8002) and scale.rasa_ports == (5006, 5007, 5008)
    processes = scale.processes(PROCFILE, tmp_path / "haproxy.cfg")
    assert list(processes) == ["app.1", "app.2", "rasa.1", "rasa.2", "rasa.3", "actions", "worker", "balancer"]
    assert processes["worker"] == "run worker" and processes["app.2"] == "run app"
    assert scale.instance_env("app.2") == {
        "HOTLINE_PORT": "8002",
        "HOTLINE_INSTANCE_ID": "app2",
        "HOTLINE_HOST": "127.0.0.1",
    }
    assert scale.instance_env("rasa.3") == {"HOTLINE_RASA_PORT": "5008", "HOTLINE_RASA_WORKERS": "1"}
    assert scale.instance_env("worker") == {}


@pytest.mark.parametrize("value", ["0", "two", "-1", "65"])
def test_a_wrong_instance_count_is_refused_by_name(value: str) -> None:
    with pytest.raises(RuntimeError, match="HOTLINE_APP_INSTANCES"):
        ScaleOut.from_env({"HOTLINE_APP_INSTANCES": value}, app_port=8000, rasa_port=5005)


def test_rasa_shares_postgresql_and_redis(tmp_path: Path) -> None:
    stack = Stack(
        data_dir=tmp_path,
        model=tmp_path / "model.tar.gz",
        extra_env={
            "HOTLINE_DATABASE_URL": "postgresql://hotline:pw@db.internal:5432/hotline",
            "HOTLINE_REDIS_URL": "redis://:s%40cret@cache.internal:6380/7",
        },
        scale=_scale(),
    )
    env = stack.env()
    assert env["HOTLINE_TRACKER_DIALECT"] == "postgresql"
    assert env["HOTLINE_TRACKER_HOST"] == "postgresql://hotline:pw@db.internal:5432/hotline"
    assert env["HOTLINE_RASA_LOCK_STORE"] == "redis"
    assert (env["HOTLINE_REDIS_HOST"], env["HOTLINE_REDIS_PORT"], env["HOTLINE_REDIS_DB"]) == (
        "cache.internal",
        "6380",
        "7",
    )
    assert env["HOTLINE_REDIS_PASSWORD"] == "s@cret"
    assert env["HOTLINE_PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
    assert env["HOTLINE_TRUSTED_PROXIES"] == "127.0.0.1"


def test_the_one_machine_default_keeps_sqlite_and_the_old_redis_variables(tmp_path: Path) -> None:
    env = Stack(data_dir=tmp_path, model=tmp_path / "m", extra_env={"HOTLINE_DATABASE_URL": ""}).env()
    assert env["HOTLINE_TRACKER_DIALECT"] == "sqlite" and env["HOTLINE_TRACKER_HOST"] == ""
    assert env["HOTLINE_RASA_LOCK_STORE"] == "in_memory" and env["HOTLINE_REDIS_DB"] == "1"


@pytest.mark.parametrize("url", ["http://cache:6379/0", "redis://cache:6379/seven", "redis:///0"])
def test_a_wrong_redis_url_is_refused_by_name(url: str) -> None:
    with pytest.raises(RuntimeError, match="HOTLINE_REDIS_URL"):
        redis_env({"HOTLINE_REDIS_URL": url})


def test_sqlite_is_refused_before_anything_starts(tmp_path: Path) -> None:
    stack = Stack(data_dir=tmp_path, model=tmp_path / "m", extra_env={"HOTLINE_DATABASE_URL": ""}, scale=_scale())
    with pytest.raises(RuntimeError, match="postgresql"):
        stack.start()
    assert stack.processes == {}


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed")
def test_haproxy_accepts_the_generated_configuration(tmp_path: Path) -> None:
    config = _scale().haproxy_config("127.0.0.1", 8000, 5005)
    assert "server app2 127.0.0.1:8002 check" in config and "server rasa3 127.0.0.1:5008 check" in config
    assert "uri /health/ready" in config and "option forwardfor" in config and "timeout tunnel" in config
    path = tmp_path / "haproxy.cfg"
    path.write_text(config, encoding="utf-8")
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_instance_names_itself_in_a_header(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.app import create_app

    monkeypatch.setenv("HOTLINE_INSTANCE_ID", "app2")
    reset_caches()
    with TestClient(create_app()) as client:
        assert client.get("/health").headers["x-hotline-instance"] == "app2"
        assert client.get("/static/chat.js").headers["x-hotline-instance"] == "app2"
    monkeypatch.delenv("HOTLINE_INSTANCE_ID")
    reset_caches()
    with TestClient(create_app()) as client:
        assert "x-hotline-instance" not in client.get("/health").headers


def test_an_instance_name_that_is_not_a_header_value_stops_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_INSTANCE_ID", "app 2\r\nX-Evil: 1")
    reset_caches()
    with pytest.raises(SystemExit):
        get_settings()
    reset_caches()


def test_the_compose_file_starts_the_same_processes() -> None:
    """Every Procfile entry has its service in deploy/compose.yaml, with PostgreSQL, Redis and the balancer."""
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text(encoding="utf-8"))
    procfile = parse_procfile((ROOT / "Procfile").read_text(encoding="utf-8")).processes
    services = compose["services"]
    assert set(procfile) <= set(services), set(procfile) - set(services)
    # Beyond the Procfile: the stores, the balancer, the migration, and the task worker ahead of its Procfile entry.
    assert set(services) - set(procfile) <= {"postgres", "redis", "balancer", "migrate", "worker"}
    assert "uvicorn" in services["app"]["command"][0] and "run_rasa.py" in services["rasa"]["command"]
    assert services["actions"]["deploy"]["replicas"] == 1
    rasa_env = services["rasa"]["environment"]
    assert rasa_env["HOTLINE_RASA_LOCK_STORE"] == "redis" and rasa_env["HOTLINE_TRACKER_DIALECT"] == "postgresql"


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed")
def test_haproxy_accepts_the_compose_balancer_configuration() -> None:
    checked = subprocess.run(["haproxy", "-c", "-f", str(ROOT / "deploy/haproxy.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_balancers_check_asks_only_the_database(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/health/ready decides as /health's status code does, without waiting for Rasa (down in this app)."""
    from hotline.app import create_app

    with TestClient(create_app()) as client:
        assert client.get("/health").json()["checks"]["rasa"]["status"] == "down"
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    reset_caches()
    with TestClient(create_app()) as client:
        down = client.get("/health/ready")
        assert down.status_code == 503 and down.json()["status"] == "down" and down.json()["reason"]
    reset_caches()
