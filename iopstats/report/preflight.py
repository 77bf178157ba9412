"""Checks the nightly job makes on the inputs before any notebook runs.

:func:`preflight` loads the input tables once in the runner (the notebooks
load them again with the same function, :func:`iopstats.report.config.load_inputs`):

* every quarantined row is written to the run's **private** folder
  (``quarantine/<table>.csv``, owner-only) and the log says where;
* the **quarantine gate**: when the share of a table's rows quarantined for
  data errors passes ``[privacy] max_quarantine_share`` (episodes 0.05 by
  default; follow-ups and sessions, which only feed secondary outcomes, 0.5)
  the run fails before publishing, naming the top reasons. Rows outside a
  table's scope (e.g. urine screens taken during treatment offered as
  follow-ups) are not data errors and do not count;
* an **empty reporting period** (no episode admitted in the configured
  months) is detected so the runner publishes a page saying so instead of
  failing in the first table.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from pathlib import Path

from iopstats.exceptions import IopstatsError
from iopstats.report.config import ReportConfig, load_inputs
from iopstats.report.runfiles import make_private_dir, write_private_text

__all__ = ["Preflight", "QuarantineGateError", "preflight", "empty_period_page"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


class QuarantineGateError(IopstatsError):
    """Too large a share of rows was quarantined: the run is not published."""

    def __init__(self, message: str, *, public: str, fix: str) -> None:
        super().__init__(message, column="privacy.max_quarantine_share", fix=fix)
        self.public = public


@dataclass(frozen=True)
class Preflight:
    """What the checks found: row counts per table, quarantine files, empty period."""

    rows: dict = field(default_factory=dict)
    quarantine_files: dict = field(default_factory=dict)
    empty_period: bool = False


def _error_share(report) -> tuple[float, int, list[tuple[str, str, int]]]:
    from iopstats.io.validate import OUT_OF_SCOPE_REASONS

    reasons = []
    out_of_scope = 0
    if len(report.reasons):
        for r in report.reasons[["reason", "column", "n"]].itertuples(index=False):
            if r.reason in OUT_OF_SCOPE_REASONS:
                out_of_scope += int(r.n)
            else:
                reasons.append((str(r.reason), str(r.column), int(r.n)))
    errors = int(report.n_quarantined) - out_of_scope
    in_scope = int(report.n_input) - out_of_scope
    share = errors / in_scope if in_scope > 0 else 0.0
    reasons.sort(key=lambda t: -t[2])
    return share, errors, reasons


def _gate(data: dict, limits: dict, files: dict) -> None:
    for name, res in data.items():
        if res is None:
            continue
        limit = limits.get(name, 1.0)
        share, errors, reasons = _error_share(res.report)
        if share <= limit:
            continue
        top = reasons[:3]
        private = (
            f"{name}: {errors:,} of {res.report.n_input:,} rows ({share:.1%}) quarantined as data errors, "
            f"above the limit of {limit:.0%}; top reasons: "
            + "; ".join(f"{r} in {c} ({n:,} rows)" for r, c, n in top)
            + (f". Quarantined rows: {files[name]}" if name in files else "")
        )
        names = sorted({r for r, _, _ in top}, key=[r for r, _, _ in top].index)
        public = (f"more than {limit:.0%} of the {name} rows were quarantined (top reasons: {', '.join(names)}); "
                  "nothing was published")
        raise QuarantineGateError(
            private, public=public,
            fix="correct the export or the mapping for these reasons and run again, or raise "
                f"[privacy] max_quarantine_share for {name} if this share is expected",
        )


def _write_quarantine(data: dict, folder: Path, log: logging.Logger) -> dict:
    files = {}
    for name, res in data.items():
        if res is None or not len(res.quarantine):
            continue
        make_private_dir(folder)
        path = folder / f"{name}.csv"
        write_private_text(path, res.quarantine.to_csv(index=False))
        files[name] = path
        log.info("quarantined %s rows written to %s (private)", name, path)
    return files


def preflight(config: ReportConfig, private_run: Path, log: logging.Logger) -> Preflight:
    """Load the inputs, keep their quarantine privately, apply the gate, detect an empty period.

    A Parquet source is checked by the notebook's count pass instead (its rows
    never reach the runner); an empty :class:`Preflight` is returned.
    """
    if config.source == "parquet":
        return Preflight()
    p = config.notebook_parameters()
    data = load_inputs(p["source"], p["episodes_path"], p["followups_path"], p["sessions_path"],
                       p["mapping_path"], p["ctn0094_folder"])
    rows = {name: {"input": int(r.report.n_input), "loaded": int(r.report.n_loaded),
                   "quarantined": int(r.report.n_quarantined)}
            for name, r in data.items() if r is not None}
    files = _write_quarantine(data, private_run / "quarantine", log)
    _gate(data, config.quarantine_limits(), files)
    empty = False
    eps = data["episodes"].data
    if not len(eps):
        empty = True
    elif config.period_start or config.period_end:
        import iopstats
        from iopstats.report.tables_outcomes import filter_period

        outcomes = iopstats.build_outcomes(eps)
        in_period = filter_period(outcomes, config.period_start, config.period_end)
        rows.setdefault("outcomes", {})["episodes_in_period"] = int(len(in_period))
        empty = not len(in_period)
    return Preflight(rows=rows, quarantine_files={k: str(v) for k, v in files.items()}, empty_period=empty)


def empty_period_page(title: str, period: str) -> str:
    """A self-contained page saying the reporting period holds no episodes."""
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    esc = html.escape
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{esc(title)}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f"<p class='iopstats-statement'>The reporting period ({esc(period)}) holds no episodes: no episode "
        "among the loaded rows was admitted in these months, so there are no outcomes to report for it.</p>\n"
        "<p class='iopstats-statement'>If this is unexpected, check [analysis] period_start and period_end "
        "in the report configuration against the months the export covers; the data-quality report shows "
        "what was loaded.</p>\n</body>\n</html>\n"
    )
