"""Settings: defaults from ``default_settings``, overridden by ``EDITIONS_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from . import default_settings

PREFIX = "EDITIONS_"


class SettingsError(ValueError):
    """An ``EDITIONS_*`` variable has a value of the wrong type."""


def _coerce(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{PREFIX}{name}={raw!r}: expected 1/0, true/false, yes/no")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name}={raw!r}: expected a whole number") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name}={raw!r}: expected a number") from None
    return raw


class Settings:
    """A read-only view of every setting; attribute names are the default_settings names."""

    def __init__(self, environ: Mapping[str, str] | None = None, **overrides: Any) -> None:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in dir(default_settings):
            if not name.isupper():
                continue
            default = getattr(default_settings, name)
            value = default
            if PREFIX + name in environ:
                value = _coerce(name, environ[PREFIX + name], default)
            values[name] = value
        for name, value in overrides.items():
            key = name.upper()
            if key not in values:
                raise SettingsError(f"unknown setting {name!r}")
            values[key] = value
        self.__dict__.update(values)

    def replace(self, **overrides: Any) -> Settings:
        """A copy with some settings changed."""
        merged = {k: v for k, v in self.__dict__.items()}
        merged.update({k.upper(): v for k, v in overrides.items()})
        return Settings(environ={}, **merged)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"Settings({self.__dict__!r})"


def get_settings() -> Settings:
    """Settings as the environment gives them now."""
    return Settings()
