"""Page blocks read through the run's :class:`~iopstats.report.ledger.Ledger`.

A block is built before protection (it registers its counts) and rendered
after it: a count cell shows its value, ``<11`` when the count itself is
1-10, or ``n/p`` when it is hidden to protect another cell; a value derived
from counts (rate, interval, median, effect) shows ``n/p`` when any count it
rests on is hidden. Footnotes name only the marks a table shows.

Examples
--------
>>> import numpy as np
>>> from iopstats.report.ledger import Ledger
>>> led = Ledger(30); m = np.zeros(30, bool); m[:4] = True
>>> _ = led.count("a", m); _ = led.count("all", np.ones(30, bool)); led.protect()
>>> t = Table("Demo", ["Group", "Episodes"], [["a", Count("a")], ["all", Count("all")]])
>>> [r for r in t.cells(led)]
[['a', '<11'], ['all', '30']]
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from iopstats.report.ledger import Ledger

__all__ = ["Count", "Derived", "Table", "Text", "Figure", "Section", "render_page", "NP", "np_footnote",
           "small_footnote", "fmt"]

#: Mark of a cell hidden to protect another cell (complementary suppression).
NP = "n/p"


def small_footnote(threshold: int) -> str:
    return f"<{threshold}: suppressed, a count of 1-{threshold - 1} (not shown)."


def np_footnote(threshold: int) -> str:
    return (f"{NP}: not published, to protect another cell (a count of 1-{threshold - 1} could otherwise be "
            "worked out), or a rate, interval or statistic resting on a count not shown.")


def fmt(value, kind: str) -> str:
    """Format a number for a table cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    v = float(value)
    if kind == "count":
        return f"{int(round(v)):,}"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "pp":
        return f"{100 * v:+.1f}"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "p":
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    if kind == "days":
        return f"{v:.0f}"
    if kind == "stat":
        return f"{v:.1f}"
    return f"{v:.3g}"


@dataclass(frozen=True)
class Count:
    """A published count: the ledger key."""

    key: str


@dataclass(frozen=True)
class Derived:
    """A value computed from counts (shown only when every count in ``deps`` is shown).

    ``value`` may be a number (formatted by ``kind``) or text; ``why`` is the
    text shown when the value is missing although its counts are shown.
    """

    value: object
    deps: tuple = ()
    kind: str = ""
    why: str = ""


def _cell(c, led: Ledger) -> tuple[str, str]:
    """(text, mark) of one cell; mark is '', 'small' or 'np'."""
    if isinstance(c, Count):
        v = led.shown(c.key)
        if v is None:
            return (f"<{led.threshold}", "small") if led.primary(c.key) else (NP, "np")
        return f"{v:,}", ""
    if isinstance(c, Derived):
        if c.deps and led.is_hidden(*c.deps):
            return NP, "np"
        if isinstance(c.value, str):
            return c.value, ""
        if isinstance(c.value, tuple):  # interval
            lo, hi = c.value
            if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
                return c.why, ""
            return f"{fmt(lo, c.kind)} to {fmt(hi, c.kind)}", ""
        if c.value is None or (isinstance(c.value, float) and np.isnan(c.value)):
            return c.why, ""
        return fmt(c.value, c.kind), ""
    return ("" if c is None else str(c)), ""


@dataclass
class Table:
    """A table of text, :class:`Count` and :class:`Derived` cells."""

    title: str
    headers: Sequence[str]
    rows: list
    remarks: list = field(default_factory=list)  # str or callable(ledger) -> str
    empty: str = "No rows to show."

    def cells(self, led: Ledger) -> list[list[str]]:
        return [[_cell(c, led)[0] for c in row] for row in self.rows]

    def marks(self, led: Ledger) -> set[str]:
        return {_cell(c, led)[1] for row in self.rows for c in row} - {""}

    def count_keys(self) -> list[str]:
        return [c.key for row in self.rows for c in row if isinstance(c, Count)]

    def html(self, led: Ledger) -> str:
        parts = [f"<p class='iopstats-caption'>{html.escape(self.title)}</p>"] if self.title else []
        if not self.rows:
            parts.append(f"<p class='iopstats-statement iopstats-empty'>{html.escape(self.empty)}</p>")
            return "\n".join(parts)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = []
        for row in self.rows:
            tds = []
            for c in row:
                text, mark = _cell(c, led)
                cls = f" class='iopstats-{mark}'" if mark else ""
                tds.append(f"<td{cls}>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        parts.append("<div class='iopstats-table-wrap'><table class='iopstats-table'><thead><tr>" + head
                     + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")
        notes = [r(led) if callable(r) else r for r in self.remarks]
        marks = self.marks(led)
        if "small" in marks:
            notes.append(small_footnote(led.threshold))
        if "np" in marks:
            notes.append(np_footnote(led.threshold))
        parts.extend(f"<p class='iopstats-footnote'>{html.escape(n)}</p>" for n in notes if n)
        return "\n".join(parts)


@dataclass
class Text:
    """A sentence (or a callable building it from the protected ledger)."""

    text: str | Callable[[Ledger], str]
    css: str = "iopstats-statement"

    def html(self, led: Ledger) -> str:
        t = self.text(led) if callable(self.text) else self.text
        return f"<p class='{self.css}'>{html.escape(t)}</p>" if t else ""


@dataclass
class Figure:
    """A figure drawn from the protected ledger: ``draw(ledger) -> matplotlib Figure or None``."""

    draw: Callable
    alt: str
    empty: str = "Nothing to draw."

    def html(self, led: Ledger) -> str:
        from iopstats.report.figures import to_png

        f = self.draw(led)
        if f is None:
            return f"<p class='iopstats-statement iopstats-empty'>{html.escape(self.empty)}</p>"
        data = base64.b64encode(to_png(f)).decode()
        return f"<img class='iopstats-figure' alt='{html.escape(self.alt)}' src='data:image/png;base64,{data}'/>"


@dataclass
class Section:
    """A titled list of blocks; ``empty`` says why when there are none."""

    id: str
    title: str
    blocks: list = field(default_factory=list)
    empty: str = ""

    def html(self, led: Ledger, heading: bool = True) -> str:
        out = [f"<h2 id='{self.id}'>{html.escape(self.title)}</h2>"] if heading else []
        if not self.blocks:
            out.append(f"<p class='iopstats-statement iopstats-empty'>{html.escape(self.empty or 'Nothing to show.')}</p>")
        out.extend(b.html(led) for b in self.blocks)
        return "\n".join(x for x in out if x)


def render_page(sections: Sequence[Section], led: Ledger) -> str:
    """All sections of a page as HTML."""
    return "\n".join(s.html(led) for s in sections)
