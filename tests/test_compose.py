"""compose.yaml cannot run here (no Docker engine): check that it is whole and that every
command it runs exists in this project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from editions.cli import cli
from editions.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def own_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services built from this project's Dockerfile."""
    return {name: s for name, s in services.items() if "build" in s}


def test_the_stack_is_complete(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {
        "redis",
        "postgres",
        "migrate",
        "worker",
        "feeds",
        "scheduler",
        "flower",
    }
    assert set(own_services(services)) == {"migrate", "worker", "feeds", "scheduler", "flower"}
    assert (ROOT / "Dockerfile").is_file()


def test_health_checks_volumes_and_restart_policies(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    assert declared == {"redis-data", "postgres-data"}
    for name in ("redis", "postgres"):
        assert any(v.split(":")[0] in declared for v in services[name]["volumes"]), name
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"  # one-shot
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_services_start_in_order(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "feeds", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    # --scale worker=N needs no fixed name and no host port.
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_flower_needs_basic_auth_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    flower = services["flower"]
    auth = flower["environment"]["FLOWER_BASIC_AUTH"]
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?.+\}", auth), auth  # required, no default
    # Read-only unless the operator says otherwise.
    assert flower["environment"]["FLOWER_READ_ONLY"] == "${FLOWER_READ_ONLY:-true}"
    # Published on the host's loopback only; the hardened launcher (tested with a
    # real Flower in test_distributed.py) puts every endpoint behind the auth.
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    assert command_of(flower)[:3] == ["python", "-m", "worker.flower"]
    assert flower["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "worker.flower",
        "--healthcheck",
    ]
    # Flower reads FLOWER_<OPTION> variables; these must be its options.
    from flower.options import default_options

    assert all(o in default_options for o in ("basic_auth", "read_only", "port", "address"))


def test_redis_needs_a_password_and_never_evicts(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    redis_service = services["redis"]
    argv = command_of(redis_service)
    password = argv[argv.index("--requirepass") + 1]
    assert re.fullmatch(r"\$\{REDIS_PASSWORD:\?.+\}", password), password  # required
    assert argv[argv.index("--maxmemory-policy") + 1] == "noeviction"
    # redis-cli (the health check) reads the password from REDISCLI_AUTH.
    assert redis_service["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD")
    # Every Celery URL carries it.
    for name, service in own_services(services).items():
        url = service["environment"]["EDITIONS_BROKER_URL"]
        assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?.+\}@redis:6379/0", url), (name, url)

    # The same command line, run by a real redis-server here (on a free port).
    import redis as redis_client

    from tests.servers import free_port

    secret = "t" + uuid.uuid4().hex
    port = free_port()
    real = [secret if arg == password else arg for arg in argv]
    real += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    if shutil.which("redis-server") is None:
        from tests.conftest import _missing

        _missing("redis-server", "needed to run compose's Redis command")
    server = subprocess.Popen(real, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        anonymous = redis_client.Redis(port=port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                anonymous.ping()
            except redis_client.AuthenticationError:
                break  # up, and refusing us
            except redis_client.ResponseError as exc:
                assert "NOAUTH" in str(exc)
                break
            except redis_client.ConnectionError:
                assert time.monotonic() < deadline, "compose's redis-server did not start"
                time.sleep(0.1)
            else:
                raise AssertionError("redis answered without the password")
        with redis_client.Redis.from_url(f"redis://:{secret}@127.0.0.1:{port}/0") as client:
            assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        anonymous.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_polls_have_workers_of_their_own(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    queues = {}
    for name, service in own_services(services).items():
        argv = command_of(service)
        if argv[:4] == ["celery", "-A", "worker", "worker"]:
            queues[name] = argv[argv.index("-Q") + 1].split(",")
            assert "-E" in argv, f"{name}: task events off"  # Flower sees every task
    assert queues == {"feeds": [settings.feeds_queue], "worker": [settings.articles_queue]}


def test_all_services_share_one_configuration(services: dict[str, dict[str, Any]]) -> None:
    names = set(Settings().as_dict())
    for name, service in own_services(services).items():
        env = service["environment"]
        for key in env:
            if key.startswith("EDITIONS_"):
                assert key.removeprefix("EDITIONS_").lower() in names, f"{name}: unknown setting {key}"
        assert env["EDITIONS_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD")
        assert env["EDITIONS_DATABASE_URL"].startswith("postgresql+psycopg://")


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def test_editions_commands_exist(services: dict[str, dict[str, Any]]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    runner = CliRunner()
    checked = 0
    for name, service in own_services(services).items():
        argv = command_of(service)
        if argv[0] != "editions":
            continue
        assert scripts["editions"] == "editions.cli:main"
        result = runner.invoke(cli, [*argv[1:], "--help"])
        assert result.exit_code == 0, f"{name}: {argv}: {result.output}"
        checked += 1
    assert checked == 2  # migrate and scheduler


def test_celery_commands_exist(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    checked = 0
    for name, service in own_services(services).items():
        argv = command_of(service)
        if argv[:3] == ["python", "-m", "worker.flower"]:
            argv = ["celery", "-A", "worker", "flower"]  # what the launcher runs
            launcher = [str(BIN / "python"), "-m", "worker.flower", "--help"]
        elif argv[0] == "celery":
            launcher = [str(BIN / "celery"), *argv[1:4], "--help"]
        else:
            continue
        assert argv[1:3] == ["-A", "worker"], name
        for queue in argv[argv.index("-Q") + 1].split(",") if "-Q" in argv else []:
            assert queue in {settings.feeds_queue, settings.articles_queue}, (name, queue)
        # The real command line, asked for its help: the app imports and the
        # subcommand (worker, flower) exists.
        done = subprocess.run(
            launcher,
            cwd=ROOT,
            env={**os.environ, "EDITIONS_BROKER_URL": service["environment"]["EDITIONS_BROKER_URL"]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {argv}\n{done.stdout}\n{done.stderr}"
        checked += 1
    assert checked == 3  # worker, feeds and flower


def test_the_celery_app_is_found_as_worker_app(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker

    monkeypatch.setenv("EDITIONS_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setattr(worker, "_app", None)
    assert worker.app.main == "editions"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        worker.nothing  # noqa: B018


def test_health_check_commands_exist(services: dict[str, dict[str, Any]]) -> None:
    scheduler = services["scheduler"]["healthcheck"]["test"]
    assert scheduler[1:3] == ["editions", "status"]
    assert CliRunner().invoke(cli, ["status", "--help"]).exit_code == 0
    worker = " ".join(services["worker"]["healthcheck"]["test"][1:])
    assert worker.startswith("celery -A worker inspect ping")


def test_dockerfile_installs_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    for pattern in packages:
        assert f"COPY {pattern.rstrip('*')} " in dockerfile, pattern
    assert "pip install ." in dockerfile
    assert "USER editions" in dockerfile


def seconds_of(duration: str | int) -> float:
    """A compose duration ('330s', '5m30s', '1h') in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[u] for n, u in parts)


def test_a_stopped_worker_has_time_to_finish_its_tasks(services: dict[str, dict[str, Any]]) -> None:
    # `docker compose stop` sends SIGTERM (Celery's warm shutdown: running tasks
    # finish), then SIGKILL after stop_grace_period. A task killed that way only
    # comes back after the visibility timeout, so the grace period must outlast
    # the longest a task may run: the hard time limit (which is above the soft one).
    assert seconds_of("5m30s") == 330 and seconds_of("90s") == 90
    workers = [s for s in own_services(services).values() if command_of(s)[3:4] == ["worker"]]
    assert workers
    for service in workers:
        env = {k: str(v) for k, v in service["environment"].items()}
        settings = Settings.from_env(env)
        grace = seconds_of(service["stop_grace_period"])
        assert grace > settings.task_soft_time_limit
        assert grace > settings.task_time_limit, (grace, settings.task_time_limit)
