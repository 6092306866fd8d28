"""The layers hold: imports point down, only the public face reads the environment,
every error shares one root."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from editions.errors import EditionsError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("editions", "worker", "schedules", "storage")
# The public face may read the environment; below it only the process entry points
# that Celery and Flower start by name: worker.app (built when `celery -A worker`
# asks for it) and `python -m worker.flower`.
FACE = {"editions/api.py", "editions/cli.py", "worker/__init__.py", "worker/flower.py"}
FACE_DIRS = ("editions/demo/",)


def _modules() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts
    )


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _reads_environment(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"environ", "getenv", "environb"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            found.append(f"os.{node.attr} (line {node.lineno})")
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "from_env":
            found.append(f"Settings.from_env() (line {node.lineno})")
        # Settings(...) reads EDITIONS_* too (pydantic-settings); below the face use defaults().
        if isinstance(node.func, ast.Name) and node.func.id == "Settings":
            found.append(f"Settings(...) (line {node.lineno})")
    return found


def test_nothing_below_the_public_face_reads_the_environment() -> None:
    offenders = {}
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel in FACE or rel.startswith(FACE_DIRS) or rel == "editions/settings.py":
            continue
        found = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offenders[rel] = found
    assert not offenders, offenders


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_public_exception_derives_from_the_root(path: Path) -> None:
    module = importlib.import_module(_module_name(path))
    for name, obj in vars(module).items():
        if not (inspect.isclass(obj) and issubclass(obj, BaseException)):
            continue
        if obj.__module__ != module.__name__ or name.startswith("_"):
            continue
        assert issubclass(obj, EditionsError), f"{module.__name__}.{name} is not an EditionsError"
        assert name.endswith("Error"), f"{module.__name__}.{name} should end in Error"


def test_errors_are_defined_in_one_module() -> None:
    import editions.errors as errors

    defined_elsewhere = []
    for path in _modules():
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if bases & {"Exception", "ValueError", "RuntimeError", "LookupError", "KeyError"}:
                    defined_elsewhere.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not defined_elsewhere, defined_elsewhere
    # The docstring draws every class of the module.
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), f"{name} is missing from the hierarchy drawing"


def test_importing_the_worker_package_builds_no_celery_app() -> None:
    code = (
        "import sys, worker, worker.pipeline, worker.fetch, schedules.scheduler, storage.archive\n"
        "assert worker._app is None\n"
        "assert 'celery' not in sys.modules, 'importing the pipeline pulled in Celery'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
