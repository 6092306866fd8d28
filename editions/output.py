"""How the command line prints: JSON stays faithful; CSV cells and terminal text are made safe.

Archived text comes from the web, so it may hold spreadsheet formulas
(``=HYPERLINK(...)``) or control characters that move the cursor, clear the
screen or reverse text (C1 controls, bidi overrides). JSON output keeps every
character (it is data for programs); CSV neutralises formula cells as OWASP's
CSV-injection guidance says; text for people loses the control characters.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069) that can make text read
# backwards on a terminal.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Our own colour codes (SGR) survive in coloured diffs; nothing else does.
_SGR = re.compile("\x1b\\[[0-9;]*m")
# OWASP: a cell starting with one of these is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal_text(text: str, *, keep_colour: bool = False) -> str:
    """``text`` without control and bidi-override characters (our SGR colours kept if asked)."""
    if not keep_colour:
        return _UNSAFE.sub("", text)
    pieces = _SGR.split(text)
    codes = _SGR.findall(text)
    cleaned = [_UNSAFE.sub("", piece) for piece in pieces]
    return "".join(p + (codes[i] if i < len(codes) else "") for i, p in enumerate(cleaned))


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: formulas become text (a leading quote)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def echo_jsonl(rows: Iterable[Any]) -> None:
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, default=_json_default))


def echo_csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    click.echo(buffer.getvalue(), nl=False)


def say(text: str = "", *, err: bool = False, bold: bool = False, colour: bool = False) -> None:
    """Print text for people: control characters from archived text never reach the terminal."""
    safe = terminal_text(text, keep_colour=colour)
    if bold:
        click.secho(safe, bold=True, err=err)
    else:
        click.echo(safe, err=err, color=colour or None)


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int | None], None]]:
    """A ``progress(label, total)`` callback drawing on stderr when it is a terminal."""
    if not enabled or not is_terminal(sys.stderr):
        yield lambda label, total: None
        return
    state: dict[str, Any] = {"bar": None}

    def progress(label: str, total: int | None) -> None:
        if label:
            if state["bar"] is not None:
                state["bar"].render_finish()
            state["bar"] = click.progressbar(length=total or 0, label=label, file=sys.stderr)
            state["bar"].render_progress()
        elif state["bar"] is not None:
            state["bar"].update(1)

    try:
        yield progress
    finally:
        if state["bar"] is not None:
            state["bar"].render_finish()


