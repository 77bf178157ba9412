"""Hand the data-quality page from the outcomes notebook to the data-quality notebook.

Both pages of a run come from one protected ledger (:func:`iopstats.report.pages.build_run`),
which takes most of a run's time. The nightly job runs the outcomes notebook first, in the
run's private folder; it leaves the rendered data-quality page there, keyed by every
parameter and input file of the run, and the data-quality notebook displays it instead of
building the same run again. A key that does not match (other parameters, a changed input
file, a notebook run on its own) builds the run as before, so the shortcut can never show
a page of other data.

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> key = run_key(source="sample", threshold=11)
>>> save_quality_page("<p>page</p>", key, folder)
>>> shared_quality_page(key, folder)
'<p>page</p>'
>>> shared_quality_page(run_key(source="sample", threshold=20), folder) is None
True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["run_key", "save_quality_page", "shared_quality_page"]

_FILE = ".iopstats-quality-page.json"


def _fingerprint(value: Any) -> Any:
    """A parameter as JSON, with the size and modification time of a file it names."""
    if isinstance(value, str) and os.path.isfile(value):
        st = os.stat(value)
        return [value, st.st_size, st.st_mtime_ns]
    if isinstance(value, dict):
        return {k: _fingerprint(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_fingerprint(v) for v in value]
    return value


def run_key(**parameters: Any) -> str:
    """A digest of a run's parameters and of the input files they name."""
    text = json.dumps(_fingerprint(parameters), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_quality_page(html: str, key: str, folder: str | os.PathLike = ".") -> None:
    """Leave the rendered data-quality page for the next notebook of the run (owner-only file)."""
    path = Path(folder) / _FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"key": key, "html": html}, fh)
    os.replace(tmp, path)


def shared_quality_page(key: str, folder: str | os.PathLike = ".") -> str | None:
    """The page left by :func:`save_quality_page` for the same key, else ``None``."""
    path = Path(folder) / _FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("key") != key or not isinstance(saved.get("html"), str):
        return None
    return saved["html"]
