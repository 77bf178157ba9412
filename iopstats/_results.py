"""Base class for rich, frozen result objects.

Results follow the statsmodels / great_tables idiom: an immutable object with a
``.summary`` DataFrame, ``_repr_html_`` for Jupyter and ``to_html()`` for
reports. Methods never change their return type by flag.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Result"]


@dataclass(frozen=True)
class Result:
    """Frozen result with a tidy ``summary`` table and remarks.

    Subclasses are frozen dataclasses that set ``summary`` and may add fields;
    declare them ``@dataclass(frozen=True, repr=False)`` so they keep this
    readable ``__repr__`` instead of a generated one that dumps every field.
    ``remarks`` are plain-language notes the evaluator should read beside the
    table (assumptions, warnings, small cells).

    Examples
    --------
    >>> r = Result(summary=pd.DataFrame({"a": [1]}), title="Demo", remarks=("note",))
    >>> "Demo" in r.to_html() and "note" in r.to_html()
    True
    """

    summary: pd.DataFrame
    title: str = ""
    remarks: tuple[str, ...] = field(default=())

    def to_html(self, float_format: str = "{:.4g}") -> str:
        """Render title, summary table and remarks as an HTML fragment."""
        parts = []
        if self.title:
            parts.append(f"<h4>{html.escape(self.title)}</h4>")
        parts.append(
            self.summary.to_html(
                float_format=lambda x: float_format.format(x), na_rep="", border=0,
                classes="iopstats-table",
            )
        )
        if self.remarks:
            items = "".join(f"<li>{html.escape(r)}</li>" for r in self.remarks)
            parts.append(f"<ul class='iopstats-remarks'>{items}</ul>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        head = f"{type(self).__name__}: {self.title}" if self.title else type(self).__name__
        body = self.summary.to_string()
        rem = "".join(f"\n  * {r}" for r in self.remarks)
        return f"{head}\n{body}{rem}"
