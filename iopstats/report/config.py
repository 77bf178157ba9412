"""Report configuration: a small TOML file for the nightly job.

Example ``report.toml`` (every key optional; relative paths are read from the
file's folder)::

    [data]
    source = "files"                  # "files", "sample" or "ctn0094"
    episodes = "extract/episodes.csv"  # CSV, Parquet or Excel
    followups = "extract/followups.csv"
    sessions = "extract/sessions.csv"
    mapping = "extract/mapping.toml"   # column/code mapping for all three files
    ctn0094 = "/data/ctn0094"          # folder, when source = "ctn0094"

    [analysis]
    period_start = "2023-01"           # admission months included (YYYY-MM)
    period_end = "2024-12"
    reference = "iop"                  # level every other level is compared with
    margin = 0.10                      # non-inferiority margin (risk difference)
    adjust = ["age_group", "sex", "primary_substance", "psych_problem", "prior_treatment"]
    seed = 0

    [privacy]
    threshold = 11                     # counts 1-10 are suppressed

    [run]
    out = "reports"
    cell_timeout = 600                 # seconds per notebook cell
    engine = "nbclient"                # papermill engine
    kernel = "python3"
    notebooks = ["iop_outcomes", "data_quality"]
    keep_runs = 30                     # dated run folders kept
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import CODE_SETS

__all__ = ["ReportConfig", "load_config", "load_inputs", "sample_dir", "NOTEBOOKS", "DEFAULT_ADJUST"]

#: Notebooks the nightly job can run, in run order.
NOTEBOOKS: tuple[str, ...] = ("iop_outcomes", "data_quality")

#: Case-mix covariates used for adjusted comparisons unless configured.
DEFAULT_ADJUST: tuple[str, ...] = (
    "age_group",
    "sex",
    "primary_substance",
    "psych_problem",
    "prior_treatment",
)

_SECTIONS = {
    "data": {"source", "episodes", "followups", "sessions", "mapping", "ctn0094"},
    "analysis": {"period_start", "period_end", "reference", "margin", "adjust", "seed"},
    "privacy": {"threshold"},
    "run": {"out", "cell_timeout", "engine", "kernel", "notebooks", "keep_runs"},
}
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def sample_dir() -> Path:
    """Folder of the bundled sample (``episodes.csv`` etc.).

    ``IOPSTATS_SAMPLE_DIR`` wins; otherwise ``<repo>/data/sample`` next to the
    package, then ``iopstats/data/sample`` inside an installed package.
    """
    env = os.environ.get("IOPSTATS_SAMPLE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    pkg = Path(__file__).resolve().parents[1]  # .../iopstats
    for cand in (pkg.parent / "data" / "sample", pkg / "data" / "sample"):
        if (cand / "episodes.csv").exists():
            return cand
    raise IopstatsError(
        "bundled sample data not found",
        fix="set IOPSTATS_SAMPLE_DIR to a folder holding episodes.csv, followups.csv and sessions.csv, "
        "or pass --episodes",
    )


@dataclass(frozen=True)
class ReportConfig:
    """Settings of a report run (see the module docstring for the TOML form)."""

    source: str = "sample"
    episodes: str | None = None
    followups: str | None = None
    sessions: str | None = None
    mapping: str | None = None
    ctn0094: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    reference: str = "iop"
    margin: float = 0.10
    adjust: tuple[str, ...] = DEFAULT_ADJUST
    seed: int = 0
    threshold: int = 11
    out: str = "reports"
    cell_timeout: int = 600
    engine: str | None = None
    kernel: str = "python3"
    notebooks: tuple[str, ...] = NOTEBOOKS
    keep_runs: int = 30
    config_file: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.source not in ("files", "sample", "ctn0094"):
            raise IopstatsError(
                "unknown data source", column="data.source", value=self.source,
                fix='use "files", "sample" or "ctn0094"',
            )
        if self.source == "files" and not self.episodes:
            raise IopstatsError(
                "no episodes file configured", column="data.episodes",
                fix="set [data] episodes = 'path/to/episodes.csv' or pass --episodes",
            )
        for key in ("period_start", "period_end"):
            v = getattr(self, key)
            if v is not None and not _PERIOD.match(str(v)):
                raise IopstatsError(
                    "period must be a month written YYYY-MM", column=f"analysis.{key}", value=v,
                    fix='write e.g. "2024-01"',
                )
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise IopstatsError("period_start is after period_end", column="analysis.period_start")
        if self.reference not in CODE_SETS["level_of_care"]:
            raise IopstatsError(
                "unknown reference level of care", column="analysis.reference", value=self.reference,
                fix=f"use one of {', '.join(CODE_SETS['level_of_care'])}",
            )
        if not (isinstance(self.margin, (int, float)) and 0 < self.margin < 1):
            raise IopstatsError(
                "non-inferiority margin must be a risk difference between 0 and 1",
                column="analysis.margin", value=self.margin, fix="e.g. margin = 0.10 (10 percentage points)",
            )
        if not isinstance(self.threshold, int) or self.threshold < 11:
            raise IopstatsError(
                "suppression threshold must be a whole number of at least 11",
                column="privacy.threshold", value=self.threshold,
                fix="keep the CMS minimum of 11 or raise it",
            )
        if not isinstance(self.cell_timeout, int) or self.cell_timeout <= 0:
            raise IopstatsError(
                "cell timeout must be a positive number of seconds", column="run.cell_timeout",
                value=self.cell_timeout,
            )
        unknown = [n for n in self.notebooks if n not in NOTEBOOKS]
        if unknown or not self.notebooks:
            raise IopstatsError(
                "unknown report notebook", column="run.notebooks", value=unknown[0] if unknown else "",
                fix=f"choose from {list(NOTEBOOKS)}",
            )
        if not isinstance(self.keep_runs, int) or self.keep_runs < 1:
            raise IopstatsError("keep_runs must be a whole number of at least 1", column="run.keep_runs")

    def with_overrides(self, **kw: Any) -> ReportConfig:
        """Copy with the given non-``None`` settings replaced."""
        kw = {k: v for k, v in kw.items() if v is not None}
        if kw.get("episodes") and "source" not in kw:
            kw["source"] = "files"
        return replace(self, **kw)

    def input_paths(self) -> dict[str, Path]:
        """Input files of this run (for hashing), by table name."""
        if self.source == "sample":
            d = sample_dir()
            return {t: d / f"{t}.csv" for t in ("episodes", "followups", "sessions") if (d / f"{t}.csv").exists()}
        if self.source == "ctn0094":
            d = Path(self.ctn0094 or "../shared/data/ctn0094")
            return {p.stem: p for p in sorted(d.glob("*.csv"))}
        out = {}
        for t in ("episodes", "followups", "sessions", "mapping"):
            v = getattr(self, t)
            if v:
                out[t] = Path(v)
        return out

    def notebook_parameters(self) -> dict[str, Any]:
        """Parameters injected into the notebooks' ``parameters`` cell."""
        src = self.source
        paths = {}
        if src == "sample":
            d = sample_dir()
            paths = {t: str(d / f"{t}.csv") for t in ("episodes", "followups", "sessions")}
            paths = {t: (p if Path(p).exists() else None) for t, p in paths.items()}
            src = "files"
        else:
            paths = {t: (str(Path(getattr(self, t)).resolve()) if getattr(self, t) else None)
                     for t in ("episodes", "followups", "sessions")}
        return {
            "source": src,
            "episodes_path": paths.get("episodes"),
            "followups_path": paths.get("followups"),
            "sessions_path": paths.get("sessions"),
            "mapping_path": str(Path(self.mapping).resolve()) if self.mapping else None,
            "ctn0094_folder": str(Path(self.ctn0094).resolve()) if self.ctn0094 else None,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "reference": self.reference,
            "margin": float(self.margin),
            "adjust": list(self.adjust),
            "threshold": int(self.threshold),
            "seed": int(self.seed),
        }


def load_config(path: str | os.PathLike | None = None) -> ReportConfig:
    """Read a report TOML file (or the defaults when ``path`` is ``None``).

    Examples
    --------
    >>> cfg = load_config()
    >>> cfg.source, cfg.threshold, cfg.reference
    ('sample', 11, 'iop')
    """
    if path is None:
        return ReportConfig()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IopstatsError("config file not found", file=p, fix="pass --config with an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise IopstatsError(f"config file is not valid TOML: {exc}", file=p) from None
    kw: dict[str, Any] = {}
    for section, values in raw.items():
        if section not in _SECTIONS or not isinstance(values, dict):
            raise IopstatsError(
                "unknown config section", file=p, column=section, fix=f"use sections {sorted(_SECTIONS)}"
            )
        for key, value in values.items():
            if key not in _SECTIONS[section]:
                raise IopstatsError(
                    "unknown config key", file=p, column=f"{section}.{key}",
                    fix=f"keys of [{section}] are {sorted(_SECTIONS[section])}",
                )
            kw[key] = value
    base = p.resolve().parent
    for key in ("episodes", "followups", "sessions", "mapping", "ctn0094", "out"):
        if key in kw and kw[key] is not None:
            v = Path(str(kw[key])).expanduser()
            kw[key] = str(v if v.is_absolute() else base / v)
    for key in ("adjust", "notebooks"):
        if key in kw:
            if not isinstance(kw[key], list) or not all(isinstance(x, str) for x in kw[key]):
                raise IopstatsError("expected a list of names", file=p, column=key)
            kw[key] = tuple(kw[key])
    if "source" not in kw and "episodes" in kw:
        kw["source"] = "files"
    return ReportConfig(config_file=str(p.resolve()), **kw)


def load_inputs(
    source: str = "files",
    episodes_path: str | None = None,
    followups_path: str | None = None,
    sessions_path: str | None = None,
    mapping_path: str | None = None,
    ctn0094_folder: str | None = None,
) -> dict[str, Any]:
    """Load the report's input tables as ``{"episodes", "followups", "sessions"}`` -> LoadResult.

    Follow-ups and sessions are optional (``None`` when not supplied). This is
    what the report notebooks call with their parameters.
    """
    import iopstats

    if source == "ctn0094":
        return dict(iopstats.load_ctn0094(ctn0094_folder or "../shared/data/ctn0094"))
    if source == "sample":
        d = sample_dir()
        episodes_path = str(d / "episodes.csv")
        followups_path = str(d / "followups.csv") if (d / "followups.csv").exists() else None
        sessions_path = str(d / "sessions.csv") if (d / "sessions.csv").exists() else None
    elif source != "files":
        raise IopstatsError("unknown data source", value=source, fix='use "files", "sample" or "ctn0094"')
    if not episodes_path:
        raise IopstatsError("no episodes file given", fix="set episodes_path (or [data] episodes in the config)")
    eps = iopstats.load_episodes(episodes_path, mapping_path)
    fu = iopstats.load_followups(followups_path, mapping_path, episodes=eps.data) if followups_path else None
    ses = iopstats.load_sessions(sessions_path, mapping_path, episodes=eps.data) if sessions_path else None
    return {"episodes": eps, "followups": fu, "sessions": ses}
