"""The one exception type iopstats raises for bad input and impossible requests.

Every error names what went wrong *and* what to do about it. Structured fields
(``file``, ``column``, ``row``, ``value``, ``fix``) let callers (the nightly job,
tests) act on the error without parsing the message.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IopstatsError"]


class IopstatsError(Exception):
    """Raised for unreadable input, invalid arguments and failed fits.

    Parameters
    ----------
    message : str
        What went wrong, in plain words.
    file, column, row, value : optional
        Where it went wrong. Included in the rendered message when given.
    fix : str, optional
        What the user should do. Included in the rendered message.

    Examples
    --------
    >>> err = IopstatsError("unknown level of care", file="eps.csv",
    ...                     column="level_of_care", value="IOPP",
    ...                     fix="map it in the [codes.level_of_care] table of the mapping")
    >>> print(err)
    unknown level of care (file 'eps.csv', column 'level_of_care', value 'IOPP'). Fix: map it in the [codes.level_of_care] table of the mapping
    >>> err.column
    'level_of_care'
    """

    def __init__(
        self,
        message: str,
        *,
        file: Any = None,
        column: str | None = None,
        row: int | None = None,
        value: Any = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.column = column
        self.row = row
        self.value = value
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.value is not None:
            v = str(self.value)
            if len(v) > 60:
                v = v[:57] + "..."
            where.append(f"value {v!r}")
        text = self.message
        if where:
            text += " (" + ", ".join(where) + ")"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text
