"""Report configuration: a small TOML file for the nightly job.

Example ``report.toml`` (every key optional; relative paths are read from the
file's folder)::

    [data]
    source = "files"                  # "files", "sample", "ctn0094" or "parquet"
    episodes = "extract/episodes.csv"  # CSV, Parquet or Excel
    followups = "extract/followups.csv"
    sessions = "extract/sessions.csv"
    mapping = "extract/mapping.toml"   # mapping of the episodes file (alias: episodes_mapping)
    followups_mapping = "extract/followups.toml"  # each table has its own mapping (optional)
    sessions_mapping = "extract/sessions.toml"
    ctn0094 = "/data/ctn0094"          # folder, when source = "ctn0094"
    parquet = "/data/teds.parquet"     # dataset written by `iopstats convert`, when source = "parquet"
    data_engine = "dask"               # "pandas" (default) or "dask"; parquet source only
    scheduler = "tcp://host:8786"      # dask only; default: a LocalCluster of 2 workers per run
    years = [2019, 2020]               # parquet only: discharge years read (default: all)

    [analysis]
    period_start = "2023-01"           # admission months included (YYYY-MM)
    period_end = "2024-12"
    reference = "iop"                  # level every other level is compared with
    margin = 0.10                      # non-inferiority margin (risk difference)
    adjust = ["age_group", "sex", "primary_substance", "psych_problem", "prior_treatment"]
    seed = 0

    [privacy]
    threshold = 11                     # counts 1-10 are suppressed
    max_quarantine_share = 0.05        # fail the run when more of the episodes are quarantined;
                                       # or a table: {episodes = 0.05, followups = 0.5, sessions = 0.5}

    [run]
    out = "reports"
    cell_timeout = 600                 # seconds per notebook cell
    engine = "nbclient"                # papermill engine
    kernel = "python3"
    notebooks = ["iop_outcomes", "data_quality"]
    keep_runs = 30                     # dated run folders kept
    private_dir = "reports.private"    # log, executed notebooks, quarantined rows (default <out>.private)

With ``source = "parquet"`` the run executes the ``national_headline``
notebook instead of the row-level ones (they need episode rows in memory): it
reads the dataset only through :func:`iopstats.compare.headline.headline_from_parquet`
(one collapsed count table; on the Dask engine the rows never reach the
report process). ``adjust`` then defaults to
:data:`iopstats.compare.headline.HEADLINE_COVARIATES` and the admission
period keys do not apply (use ``years``). ``data_engine`` is separate from
``[run] engine``, which is papermill's notebook engine.
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

__all__ = [
    "ReportConfig",
    "load_config",
    "load_inputs",
    "sample_dir",
    "NOTEBOOKS",
    "PARQUET_NOTEBOOKS",
    "ALL_NOTEBOOKS",
    "DATA_ENGINES",
    "DEFAULT_ADJUST",
    "DEFAULT_QUARANTINE_LIMITS",
    "dataset_files",
    "dataset_fingerprint",
    "dataset_years",
]

#: Row-level notebooks the nightly job can run, in run order.
NOTEBOOKS: tuple[str, ...] = ("iop_outcomes", "data_quality", "programs_sites")

#: Notebooks for ``source = "parquet"`` (count table only, never episode rows).
PARQUET_NOTEBOOKS: tuple[str, ...] = ("national_headline",)

#: Every bundled report notebook.
ALL_NOTEBOOKS: tuple[str, ...] = NOTEBOOKS + PARQUET_NOTEBOOKS

#: Engines that can read a Parquet dataset (``[data] data_engine``).
DATA_ENGINES: tuple[str, ...] = ("pandas", "dask")

#: Case-mix covariates used for adjusted comparisons unless configured.
DEFAULT_ADJUST: tuple[str, ...] = (
    "age_group",
    "sex",
    "primary_substance",
    "psych_problem",
    "prior_treatment",
)

_SECTIONS = {
    "data": {"source", "episodes", "followups", "sessions", "mapping", "episodes_mapping", "followups_mapping",
             "sessions_mapping", "ctn0094", "parquet", "data_engine", "scheduler", "years"},
    "analysis": {"period_start", "period_end", "reference", "margin", "adjust", "seed"},
    "privacy": {"threshold", "max_quarantine_share"},
    "run": {"out", "cell_timeout", "engine", "kernel", "notebooks", "keep_runs", "private_dir"},
}
_PATH_KEYS = ("episodes", "followups", "sessions", "mapping", "followups_mapping", "sessions_mapping", "ctn0094",
              "parquet", "out", "private_dir")
_TEXT_KEYS = _PATH_KEYS + ("source", "data_engine", "scheduler", "period_start", "period_end", "reference",
                           "engine", "kernel")
#: Default quarantine limits: share of a table's rows quarantined as data errors above which a run fails.
DEFAULT_QUARANTINE_LIMITS: dict[str, float] = {"episodes": 0.05, "followups": 0.5, "sessions": 0.5}
_TABLES = ("episodes", "followups", "sessions")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SCHEDULER = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://\S+$")
_SOURCES = ("files", "sample", "ctn0094", "parquet")


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


def _default_notebooks(source: str) -> tuple[str, ...]:
    return PARQUET_NOTEBOOKS if source == "parquet" else NOTEBOOKS


def _default_adjust(source: str) -> tuple[str, ...]:
    if source == "parquet":
        from iopstats.compare.headline import HEADLINE_COVARIATES

        return tuple(HEADLINE_COVARIATES)
    return DEFAULT_ADJUST


@dataclass(frozen=True)
class ReportConfig:
    """Settings of a report run (see the module docstring for the TOML form).

    ``notebooks`` and ``adjust`` left as ``None`` take the defaults of the
    source: the row-level notebooks and :data:`DEFAULT_ADJUST`, or for
    ``source="parquet"`` the ``national_headline`` notebook and the headline
    covariates.

    Examples
    --------
    >>> cfg = ReportConfig(source="parquet", parquet="/data/teds.parquet", data_engine="dask")
    >>> cfg.notebooks, cfg.scheduler, cfg.years
    (('national_headline',), None, None)
    >>> ReportConfig().with_overrides(parquet="/data/teds.parquet").source
    'parquet'
    """

    source: str = "sample"
    episodes: str | None = None
    followups: str | None = None
    sessions: str | None = None
    mapping: str | None = None
    followups_mapping: str | None = None
    sessions_mapping: str | None = None
    ctn0094: str | None = None
    parquet: str | None = None
    data_engine: str = "pandas"
    scheduler: str | None = None
    years: tuple[int, ...] | None = None
    period_start: str | None = None
    period_end: str | None = None
    reference: str = "iop"
    margin: float = 0.10
    adjust: tuple[str, ...] | None = None
    seed: int = 0
    threshold: int = 11
    max_quarantine_share: float | dict | None = None
    out: str = "reports"
    cell_timeout: int = 600
    engine: str | None = None
    kernel: str = "python3"
    notebooks: tuple[str, ...] | None = None
    keep_runs: int = 30
    private_dir: str | None = None
    config_file: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise IopstatsError(
                "unknown data source", column="data.source", value=self.source,
                fix='use "files", "sample", "ctn0094" or "parquet"',
            )
        if self.source == "files" and not self.episodes:
            raise IopstatsError(
                "no episodes file configured", column="data.episodes",
                fix="set [data] episodes = 'path/to/episodes.csv' or pass --episodes",
            )
        self._check_parquet()
        if self.notebooks is None:
            object.__setattr__(self, "notebooks", _default_notebooks(self.source))
        if self.adjust is None:
            object.__setattr__(self, "adjust", _default_adjust(self.source))
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
        if not _whole(self.threshold) or self.threshold < 11:
            raise IopstatsError(
                "suppression threshold must be a whole number of at least 11",
                column="privacy.threshold", value=self.threshold,
                fix="keep the CMS minimum of 11 or raise it",
            )
        if not _whole(self.cell_timeout) or self.cell_timeout <= 0:
            raise IopstatsError(
                "cell timeout must be a positive whole number of seconds", column="run.cell_timeout",
                value=self.cell_timeout, fix="write e.g. cell_timeout = 600 (no quotes, not true/false)",
            )
        if not _whole(self.seed) or not 0 <= self.seed < 2**32:
            raise IopstatsError(
                "seed must be a whole number from 0 to 4294967295", column="analysis.seed", value=self.seed,
                fix="write e.g. seed = 0 (no quotes)",
            )
        object.__setattr__(self, "max_quarantine_share", _quarantine_limits(self.max_quarantine_share))
        allowed = _default_notebooks(self.source)
        unknown = [n for n in self.notebooks if n not in allowed]
        if unknown or not self.notebooks:
            bad = unknown[0] if unknown else ""
            if bad in ALL_NOTEBOOKS and self.source == "parquet":
                raise IopstatsError(
                    "this notebook needs episode rows, which a Parquet source does not load", column="run.notebooks",
                    value=bad, fix=f"with source = 'parquet' run {list(PARQUET_NOTEBOOKS)}",
                )
            if bad in ALL_NOTEBOOKS:
                raise IopstatsError(
                    "this notebook reads a Parquet dataset", column="run.notebooks", value=bad,
                    fix="set [data] source = 'parquet' and parquet = 'path/to/dataset'",
                )
            raise IopstatsError(
                "unknown report notebook", column="run.notebooks", value=bad,
                fix=f"choose from {list(allowed)}",
            )
        if not _whole(self.keep_runs) or self.keep_runs < 1:
            raise IopstatsError("keep_runs must be a whole number of at least 1", column="run.keep_runs",
                                value=self.keep_runs, fix="write e.g. keep_runs = 30")

    def _check_parquet(self) -> None:
        parquet = self.source == "parquet"
        if parquet and not self.parquet:
            raise IopstatsError(
                "no Parquet dataset configured", column="data.parquet",
                fix="set [data] parquet = 'path/to/dataset' (written by `iopstats convert`) or pass --parquet",
            )
        if self.data_engine not in DATA_ENGINES:
            raise IopstatsError(
                "unknown data engine", column="data.data_engine", value=self.data_engine,
                fix='use data_engine = "pandas" or "dask" (papermill\'s notebook engine is [run] engine)',
            )
        if self.data_engine == "dask" and not parquet:
            raise IopstatsError(
                "the Dask engine reads a Parquet dataset", column="data.data_engine", value=self.data_engine,
                fix="set [data] source = 'parquet' and parquet = 'path/to/dataset' (or pass --parquet)",
            )
        if self.scheduler is not None:
            if not isinstance(self.scheduler, str) or not _SCHEDULER.match(self.scheduler):
                raise IopstatsError(
                    "scheduler must be the address of a Dask scheduler", column="data.scheduler",
                    value=self.scheduler, fix='write e.g. scheduler = "tcp://10.0.0.5:8786", or leave it out '
                                              "to start a local cluster of 2 workers",
                )
            if self.data_engine != "dask":
                raise IopstatsError(
                    "scheduler is for the Dask engine", column="data.scheduler", value=self.scheduler,
                    fix='set data_engine = "dask" (or pass --data-engine dask), or leave scheduler out',
                )
        if self.years is not None:
            years = self.years
            if (not isinstance(years, tuple) or not years
                    or not all(isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2100 for y in years)):
                raise IopstatsError(
                    "years must be a non-empty list of discharge years", column="data.years", value=years,
                    fix="write e.g. years = [2019, 2020]",
                )
            if len(set(years)) != len(years):
                raise IopstatsError("a year is listed twice", column="data.years", value=list(years),
                                    fix="list each discharge year once")
            if not parquet:
                raise IopstatsError("years selects partitions of a Parquet dataset", column="data.years",
                                    fix="set [data] source = 'parquet', or use [analysis] period_start/period_end")
        if parquet and (self.period_start or self.period_end):
            raise IopstatsError(
                "a Parquet source is selected by discharge year, not admission month",
                column="analysis.period_start" if self.period_start else "analysis.period_end",
                fix="remove period_start/period_end and set [data] years = [2019, 2020]",
            )
        if parquet and self.adjust is not None:
            from iopstats.compare.headline import _check_covariates

            try:
                _check_covariates(self.adjust)
            except IopstatsError as exc:
                raise IopstatsError(exc.message, column="analysis.adjust", value=exc.value, fix=exc.fix) from None

    def with_overrides(self, **kw: Any) -> ReportConfig:
        """Copy with the given non-``None`` settings replaced.

        ``episodes`` switches the source to ``"files"``, ``parquet`` to
        ``"parquet"``; notebooks and covariates that were the old source's
        defaults become the new source's defaults.
        """
        kw = {k: v for k, v in kw.items() if v is not None}
        if kw.get("episodes") and "source" not in kw:
            kw["source"] = "files"
        if kw.get("parquet") and "source" not in kw:
            kw["source"] = "parquet"
        if "years" in kw:
            kw["years"] = tuple(kw["years"])
        new_source = kw.get("source", self.source)
        if new_source != self.source:
            if "notebooks" not in kw and self.notebooks == _default_notebooks(self.source):
                kw["notebooks"] = None
            if "adjust" not in kw and self.adjust == _default_adjust(self.source):
                kw["adjust"] = None
        return replace(self, **kw)

    def input_paths(self) -> dict[str, Path]:
        """Input files of this run (for hashing), by table name."""
        if self.source == "sample":
            d = sample_dir()
            return {t: d / f"{t}.csv" for t in ("episodes", "followups", "sessions") if (d / f"{t}.csv").exists()}
        if self.source == "ctn0094":
            d = Path(self.ctn0094 or "../shared/data/ctn0094")
            return {p.stem: p for p in sorted(d.glob("*.csv"))}
        if self.source == "parquet":
            return {"parquet": Path(self.parquet)}
        out = {}
        for t in ("episodes", "followups", "sessions", "mapping", "followups_mapping", "sessions_mapping"):
            v = getattr(self, t)
            if v:
                out[t] = Path(v)
        return out

    def quarantine_limits(self) -> dict[str, float]:
        """Quarantine share limit per input table (``[privacy] max_quarantine_share``)."""
        return dict(self.max_quarantine_share)

    def mapping_parameter(self) -> str | dict[str, str] | None:
        """``mapping_path`` of the notebooks: the episodes mapping, or one mapping per table.

        Examples
        --------
        >>> ReportConfig(source="files", episodes="e.csv", mapping="/m/e.toml").mapping_parameter()
        '/m/e.toml'
        >>> sorted(ReportConfig(source="files", episodes="e.csv", followups_mapping="/m/f.toml").mapping_parameter())
        ['followups']
        """
        per_table = {"episodes": self.mapping, "followups": self.followups_mapping,
                     "sessions": self.sessions_mapping}
        given = {t: str(Path(v).resolve()) for t, v in per_table.items() if v}
        if not given:
            return None
        if set(given) == {"episodes"}:
            return given["episodes"]
        return given

    def notebook_parameters(self) -> dict[str, Any]:
        """Parameters injected into the notebooks' ``parameters`` cell."""
        src = self.source
        if src == "parquet":
            return {
                "parquet_path": str(Path(self.parquet).resolve()),
                "data_engine": self.data_engine,
                "scheduler": self.scheduler,
                "years": list(self.years) if self.years else None,
                "reference": self.reference,
                "adjust": list(self.adjust),
                "threshold": int(self.threshold),
            }
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
            "mapping_path": self.mapping_parameter(),
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
    raw = _read_toml(p)
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
    if "episodes_mapping" in kw:
        if "mapping" in kw:
            raise IopstatsError("mapping and episodes_mapping name the same setting", file=p,
                                column="data.episodes_mapping", fix="keep one of the two keys")
        kw["mapping"] = kw.pop("episodes_mapping")
    for key in _TEXT_KEYS:
        if key in kw and not isinstance(kw[key], str):
            raise IopstatsError("expected a text value in quotes", file=p, column=key, value=kw[key],
                                fix=f'write e.g. {key} = "..."')
    base = p.resolve().parent
    for key in _PATH_KEYS:
        if key in kw and kw[key] is not None:
            v = Path(str(kw[key])).expanduser()
            kw[key] = str(v if v.is_absolute() else base / v)
    for key in ("adjust", "notebooks"):
        if key in kw:
            if not isinstance(kw[key], list) or not all(isinstance(x, str) for x in kw[key]):
                raise IopstatsError("expected a list of names", file=p, column=key)
            kw[key] = tuple(kw[key])
    if "years" in kw:
        if not isinstance(kw["years"], list):
            raise IopstatsError("years must be a list of discharge years", file=p, column="data.years",
                                value=kw["years"], fix="write e.g. years = [2019, 2020]")
        kw["years"] = tuple(kw["years"])
    if "source" not in kw and "episodes" in kw:
        kw["source"] = "files"
    if "source" not in kw and "parquet" in kw:
        kw["source"] = "parquet"
    return ReportConfig(config_file=str(p.resolve()), **kw)


def _read_toml(p: Path) -> dict:
    """Parse a config file; every way it can be unreadable is an :class:`IopstatsError` with the fix."""
    fix = "pass --config with a UTF-8 TOML file"
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise IopstatsError("config file not found", file=p, fix="pass --config with an existing TOML file") from None
    except IsADirectoryError:
        raise IopstatsError("config path is a folder, not a file", file=p, fix=fix) from None
    except UnicodeDecodeError as exc:
        raise IopstatsError(f"config file is not UTF-8 text (byte {exc.start})", file=p,
                            fix="save the file as UTF-8 (TOML files must be UTF-8)") from None
    except OSError as exc:
        raise IopstatsError(f"config file cannot be read: {exc.strerror}", file=p, fix=fix) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark some editors write
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IopstatsError(f"config file is not valid TOML: {exc}", file=p,
                            fix="see https://toml.io for the syntax; the line is given above") from None


def _whole(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _share(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= float(v) <= 1.0


def _quarantine_limits(value: object) -> dict[str, float]:
    """Normalise ``max_quarantine_share`` (a share for the episodes, or a table per input table)."""
    limits = dict(DEFAULT_QUARANTINE_LIMITS)
    if value is None:
        return limits
    fix = "write e.g. max_quarantine_share = 0.05, or {episodes = 0.05, followups = 0.5, sessions = 0.5}"
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in _TABLES:
                raise IopstatsError("unknown table in max_quarantine_share", column="privacy.max_quarantine_share",
                                    value=k, fix=fix)
            if not _share(v):
                raise IopstatsError("a quarantine share limit must be a number from 0 to 1",
                                    column=f"privacy.max_quarantine_share.{k}", value=v, fix=fix)
            limits[k] = float(v)
        return limits
    if not _share(value):
        raise IopstatsError("max_quarantine_share must be a number from 0 to 1", column="privacy.max_quarantine_share",
                            value=value, fix=fix)
    limits["episodes"] = float(value)
    return limits


def dataset_files(path: str | os.PathLike) -> list[tuple[str, int]]:
    """Files of a Parquet dataset as ``(path relative to the dataset, bytes)``, sorted.

    A single ``.parquet`` file gives itself. Only ``*.parquet`` files count
    (what the readers read); hidden files and markers are ignored.
    """
    root = Path(path)
    if root.is_file():
        return [(root.name, root.stat().st_size)]
    if not root.is_dir():
        raise IopstatsError("Parquet dataset not found", file=root,
                            fix="check [data] parquet, or create the dataset with `iopstats convert`")
    out = []
    for f in root.rglob("*.parquet"):
        rel = f.relative_to(root)
        if f.is_file() and not any(part.startswith((".", "_")) for part in rel.parts):
            out.append((rel.as_posix(), f.stat().st_size))
    if not out:
        raise IopstatsError("the Parquet dataset folder holds no .parquet files", file=root,
                            fix="point [data] parquet at a folder written by `iopstats convert`")
    return sorted(out)


def dataset_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Identify a Parquet dataset without reading gigabytes: SHA-256 of its file list and sizes.

    The digest is over one line ``relative/path<TAB>bytes`` per file, in
    sorted order: adding, removing, renaming or resizing a file changes it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "discharge_year=2019").mkdir()
    >>> _ = (d / "discharge_year=2019" / "part-0.parquet").write_bytes(b"x" * 10)
    >>> fp = dataset_fingerprint(d)
    >>> fp["files"], fp["bytes"], len(fp["sha256"])
    (1, 10, 64)
    """
    import hashlib

    files = dataset_files(path)
    listing = "".join(f"{rel}\t{size}\n" for rel, size in files)
    return {
        "path": str(Path(path).resolve()),
        "files": len(files),
        "bytes": int(sum(size for _, size in files)),
        "sha256": hashlib.sha256(listing.encode("utf-8")).hexdigest(),
        "hash_of": "sorted list of (relative path, size in bytes) of the dataset's .parquet files",
    }


def dataset_years(path: str | os.PathLike) -> list[int]:
    """Discharge years of a dataset partitioned by ``discharge_year`` (from folder names, no data read).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for y in (2020, 2019):
    ...     (d / f"discharge_year={y}").mkdir()
    ...     _ = (d / f"discharge_year={y}" / "part-0.parquet").write_bytes(b"x")
    >>> dataset_years(d)
    [2019, 2020]
    """
    years = set()
    for rel, _ in dataset_files(path):
        for part in rel.split("/")[:-1]:
            key, _, value = part.partition("=")
            if key == "discharge_year" and value.isdigit():
                years.add(int(value))
    return sorted(years)


def load_inputs(
    source: str = "files",
    episodes_path: str | None = None,
    followups_path: str | None = None,
    sessions_path: str | None = None,
    mapping_path: str | dict | None = None,
    ctn0094_folder: str | None = None,
) -> dict[str, Any]:
    """Load the report's input tables as ``{"episodes", "followups", "sessions"}`` -> LoadResult.

    Follow-ups and sessions are optional (``None`` when not supplied). This is
    what the report notebooks call with their parameters.

    ``mapping_path`` is the mapping of the episodes file (a path), or one
    mapping per table: ``{"episodes": ..., "followups": ..., "sessions": ...}``
    (each optional). A table without a mapping must use canonical columns.
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
    if isinstance(mapping_path, dict):
        unknown = [k for k in mapping_path if k not in _TABLES]
        if unknown:
            raise IopstatsError("unknown table in mapping_path", value=unknown[0],
                                fix="use the keys episodes, followups and sessions")
        maps = {t: mapping_path.get(t) for t in _TABLES}
    else:
        maps = {"episodes": mapping_path, "followups": None, "sessions": None}
    eps = iopstats.load_episodes(episodes_path, maps["episodes"])
    fu = iopstats.load_followups(followups_path, maps["followups"], episodes=eps.data) if followups_path else None
    ses = iopstats.load_sessions(sessions_path, maps["sessions"], episodes=eps.data) if sessions_path else None
    return {"episodes": eps, "followups": fu, "sessions": ses}
