"""compose.yaml cannot run here (no Docker engine): check that it is whole and that every
command it runs exists in this project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
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
    assert set(services) == {"redis", "postgres", "migrate", "worker", "scheduler", "flower"}
    assert set(own_services(services)) == {"migrate", "worker", "scheduler", "flower"}
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
    for name in ("worker", "scheduler"):
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
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    # Flower reads FLOWER_<OPTION> variables; basic_auth must be one of its options.
    from flower.options import default_options

    assert "basic_auth" in default_options


def test_all_services_share_one_configuration(services: dict[str, dict[str, Any]]) -> None:
    names = set(Settings().as_dict())
    for name, service in own_services(services).items():
        env = service["environment"]
        for key in env:
            if key.startswith("EDITIONS_"):
                assert key.removeprefix("EDITIONS_").lower() in names, f"{name}: unknown setting {key}"
        assert env["EDITIONS_BROKER_URL"].startswith("redis://redis:")
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
        if argv[0] != "celery":
            continue
        assert argv[1:3] == ["-A", "worker"], name
        if "-Q" in argv:
            queues = argv[argv.index("-Q") + 1].split(",")
            assert sorted(queues) == sorted([settings.feeds_queue, settings.articles_queue])
        # The real command line, asked for its help: the app imports and the
        # subcommand (worker, flower) exists.
        done = subprocess.run(
            [str(BIN / "celery"), *argv[1:4], "--help"],
            cwd=ROOT,
            env={**os.environ, "EDITIONS_BROKER_URL": service["environment"]["EDITIONS_BROKER_URL"]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {argv}\n{done.stdout}\n{done.stderr}"
        checked += 1
    assert checked == 2  # worker and flower


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
