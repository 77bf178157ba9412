"""Read produced HTML pages as a person would see their tables (shared by the report tests)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Tables(HTMLParser):
    """Every <table> of a page as {"headers": [...], "rows": [[...], ...]} of cell text."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell, self._kind = [], None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"headers": [], "rows": []})
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._kind = [], tag

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(("".join(self._cell).strip(), self._kind))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            t = self.tables[-1]
            if self._row and all(k == "th" for _, k in self._row) and not t["headers"]:
                t["headers"] = [c for c, _ in self._row]
            else:
                t["rows"].append([c for c, _ in self._row])
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> list[dict]:
    """The tables of an HTML page's text."""
    p = _Tables()
    p.feed(text)
    return p.tables


def strip_images(text: str) -> str:
    """The page text without embedded base64 images."""
    return re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+", "", text)
