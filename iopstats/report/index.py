"""The published index page of the nightly job (``<out>/index.html``).

Built only from the *published* run manifests (``runs/*/manifest.json``),
which hold no exact small counts, ids, dates or input paths (see
:func:`iopstats.report.runfiles.public_manifest`). A manifest that cannot be
read or is not a JSON object (``[]``, ``null``, bad bytes, a field of the
wrong type) is skipped with a logged warning, so one damaged run folder never
stops the index from being rebuilt.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path
from string import Template

from iopstats.report.privacy import IDENTIFIER_PATTERNS

__all__ = ["build_index", "TITLES"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
TITLES = {"iop_outcomes": "IOP outcomes report", "data_quality": "Data quality report",
          "programs_sites": "Programs and sites", "national_headline": "National headline report"}
_RUN_ID = re.compile(r"^\d{8}T\d{6}$")
_REPORT_NAME = re.compile(r"^[A-Za-z0-9_]+\.html$")
_log = logging.getLogger("iopstats.report.index")


def _read_manifest(path: Path, log: logging.Logger) -> dict | None:
    """A run manifest as a dict, or ``None`` (with a warning) when it is unusable."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("skipped unreadable manifest %s (%s); the index lists the other runs",
                    path, type(exc).__name__)
        return None
    if not isinstance(data, dict):
        log.warning("skipped manifest %s: it holds %s, not a JSON object", path, type(data).__name__)
        return None
    clean = {
        "run_id": path.parent.name,
        "status": data.get("status") if isinstance(data.get("status"), str) else "unknown",
        "error": data.get("error") if isinstance(data.get("error"), str) else "",
        "period": data.get("period") if isinstance(data.get("period"), str) else "",
        "reports": [r for r in data.get("reports", []) if isinstance(r, str) and _REPORT_NAME.match(r)]
        if isinstance(data.get("reports"), list) else [],
        "seconds": data.get("seconds") if isinstance(data.get("seconds"), (int, float))
        and not isinstance(data.get("seconds"), bool) else None,
        "episodes": _episodes_shown(data.get("rows"), data.get("threshold")),
    }
    return clean


def _episodes_shown(rows, threshold) -> str:
    """The published episode figure of a run: rounded to tens or marked (older manifests held exact counts)."""
    from iopstats.report.runfiles import protect_count

    if not isinstance(rows, dict) or not isinstance(rows.get("episodes"), dict):
        return ""
    v = rows["episodes"].get("loaded", rows["episodes"].get("counted"))
    if isinstance(v, str) and re.fullmatch(r"(about [\d,]+|<\d+|0)", v):
        return v
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        t = threshold if isinstance(threshold, int) and not isinstance(threshold, bool) and threshold >= 11 else 11
        return protect_count(v, t)
    return ""


def load_manifests(runs: Path, log: logging.Logger | None = None) -> list[dict]:
    """Usable published manifests of ``runs/``, newest first."""
    log = log or _log
    out = []
    if not runs.is_dir():
        return out
    for d in sorted(runs.iterdir(), reverse=True):
        m = d / "manifest.json"
        if d.is_dir() and _RUN_ID.match(d.name) and m.exists():
            data = _read_manifest(m, log)
            if data is not None:
                out.append(data)
    return out


def redact_text(text: str) -> str:
    """Replace identifier-shaped text (SSN, e-mail, phone, exact date, IP address)."""
    for kind in ("ssn", "email", "phone", "exact_date", "ip_address"):
        text = re.sub(IDENTIFIER_PATTERNS[kind], "[redacted]", text)
    return text


def _current_id(out: Path) -> str | None:
    cur = out / "current"
    return os.readlink(cur).split("/")[-1] if cur.is_symlink() else None


def build_index(out: str | os.PathLike, log: logging.Logger | None = None) -> Path:
    """Rewrite ``out/index.html`` from the published run manifests (atomically).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> (out / "runs" / "20240101T000000").mkdir(parents=True)
    >>> _ = (out / "runs" / "20240101T000000" / "manifest.json").write_text("[]")
    >>> "No runs yet" in build_index(out).read_text()
    True
    """
    from iopstats.report.runfiles import write_text_atomic

    out = Path(out)
    manifests = load_manifests(out / "runs", log)
    current_id = _current_id(out)
    esc = html.escape
    cur_html = "<p class='none'>No report has been published yet.</p>"
    if current_id:
        cm = next((m for m in manifests if m["run_id"] == current_id), {})
        links = "".join(
            f"<li><a href='current/{esc(r)}'>{esc(TITLES.get(Path(r).stem, r))}</a></li>"
            for r in cm.get("reports", [])
        )
        cur_html = (f"<p>Last good run <strong>{esc(current_id)}</strong> "
                    f"(data period {esc(cm.get('period') or 'all')}).</p><ul class='reports'>{links}</ul>")
    latest = manifests[0] if manifests else None
    alert = ""
    if latest and latest["status"] != "ok":
        alert = (f"<div class='alert'>The latest run <strong>{esc(latest['run_id'])}</strong> "
                 f"{esc(latest['status'])}: {esc(redact_text(latest['error'])[:300])}. "
                 f"The report below is the last good one.</div>")
    rows = []
    for m in manifests:
        rid = esc(m["run_id"])
        links = " ".join(f"<a href='runs/{rid}/{esc(r)}'>{esc(Path(r).stem)}</a>" for r in m["reports"])
        if m["status"] != "ok":
            links += f" <a href='runs/{rid}/manifest.json'>manifest</a>"
        secs = m["seconds"]
        rows.append(
            f"<tr class='{esc(m['status'])}'><td>{rid}</td><td class='status'>{esc(m['status'])}</td>"
            f"<td>{esc(m['episodes'])}</td><td>{'' if secs is None else f'{secs:.0f} s'}</td><td>{links}</td></tr>"
        )
    tpl = Template((_TEMPLATES / "index.html").read_text(encoding="utf-8"))
    page = tpl.substitute(
        css=(_TEMPLATES / "report.css").read_text(encoding="utf-8"),
        alert=alert,
        current=cur_html,
        rows="\n".join(rows) or "<tr><td colspan='5'>No runs yet.</td></tr>",
    )
    path = out / "index.html"
    write_text_atomic(path, page)
    return path
