"""One line of the benchmark table, and the table itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """A figure: editions' value beside its peer's, their ratio, and the target.

    ``met`` is None where a figure has no target (or could not be measured);
    ``value`` None with a ``note`` prints as "n/a (note)".
    """

    figure: str
    value: float | None
    unit: str
    peer: str = ""
    peer_value: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def unavailable(figure: str, unit: str, reason: str, target: str = "") -> Row:
    """A figure that could not be measured in this run, and why."""
    return Row(figure, None, unit, target=target, note=reason)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".rstrip()


HEADERS = ("figure", "editions", "peer", "ratio", "target", "met?")


def cells(row: Row) -> list[str]:
    if row.value is None:
        editions = f"n/a ({row.note})" if row.note else "n/a"
    else:
        editions = _number(row.value, row.unit)
    peer = row.peer
    if row.peer_value is not None:
        peer = f"{row.peer}: {_number(row.peer_value, row.details.get('peer_unit', row.unit))}"
    ratio_text = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return [row.figure, editions, peer, ratio_text, row.target or "-", met]


def format_table(rows: list[Row], *, markdown: bool = False) -> str:
    """Fixed-width text (or a Markdown table) of the rows."""
    table = [list(HEADERS)] + [cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
