"""The nightly report run: execute the notebooks, export HTML, publish atomically.

Two folders. The **published** one (``reports/`` by default) holds only what
may be served::

    reports/
      index.html            stable entry page: current report + every earlier run
      current -> runs/<id>  symlink to the last good run (swapped atomically)
      runs/<YYYYmmddTHHMMSS>/
        iop_outcomes.html   self-contained (images embedded, no remote resources)
        data_quality.html   (national_headline.html for a Parquet source)
        manifest.json       public manifest: status, timings, package versions,
                            episode counts rounded to tens, a sanitized error

The **private** one (``[run] private_dir``, default ``reports.private/``
beside it; folders 0700, files 0600) holds what may not be served::

    reports.private/
      iopstats.log          log of every run (full error messages, where files went)
      .lock                 fcntl lock with the pid of the running job
      runs/<id>/
        manifest.json       full manifest: inputs (sha256), exact row counts, parameters
        *.ipynb             executed notebooks (kept for diagnosis)
        quarantine/*.csv    quarantined rows of each input table

A run works in ``reports/.tmp-<id>-<pid>/`` (same filesystem) and is renamed
into ``runs/`` when done. Only a fully successful run moves ``current``; a
failed, timed-out or killed run never touches it. A killed run's temporary
folder is moved to ``runs/`` as ``interrupted`` by the next run (or removed
when it cannot be recorded, e.g. a malformed manifest).

Before any notebook runs, :func:`iopstats.report.preflight.preflight` loads
the inputs once: quarantined rows go to the private folder, a quarantine
share above ``[privacy] max_quarantine_share`` fails the run, and an empty
reporting period gives a page saying so.

Exit codes: 0 published; 1 the run failed (a notebook failed or timed out,
the quarantine gate, identifier-like text in a page; the previous report is
kept); 2 usage error (bad configuration, a missing input file, ``--out``
naming a file; nothing was run); 3 another run holds the lock; 4 a folder
cannot be written (disk full, read-only, permission denied; the next run
cleans up after this one).

With ``source = "parquet"`` the run executes ``national_headline`` on the
configured data engine (pandas, or Dask: the rows stay on the workers). A
dataset can be gigabytes, so instead of hashing its bytes the manifest records
``dataset`` (path, file count, bytes and the SHA-256 of the sorted file list
with sizes, see :func:`iopstats.report.config.dataset_fingerprint`),
``data_engine`` and ``scheduler``; ``rows.episodes.counted`` is the sum of the
count table's ``n``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from iopstats.exceptions import IopstatsError
from iopstats.report.config import ReportConfig, dataset_fingerprint, dataset_years
from iopstats.report.export import export_html, first_line, kernel_manager_class, notebook_path, scan_published
from iopstats.report.index import TITLES as _TITLES
from iopstats.report.index import build_index
from iopstats.report.preflight import QuarantineGateError, empty_period_page, preflight
from iopstats.report.runfiles import (default_private_dir, is_write_fault, make_private_dir, prepare_folders,
                                      public_manifest, recover_stale, restrict_tree, write_fault_message,
                                      write_json, write_text_atomic)

__all__ = [
    "RunOutcome",
    "run_reports",
    "notebook_path",
    "export_html",
    "build_index",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_LOCKED",
    "EXIT_UNWRITABLE",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_UNWRITABLE = 4

_PACKAGES = ("iopstats", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn",
             "papermill", "nbclient", "nbconvert", "ipykernel", "pyarrow", "dask", "distributed")


@dataclass(frozen=True)
class RunOutcome:
    """What a run did: exit code, status and where its files are.

    ``run_dir`` is the published run folder, ``private_dir`` the run's private
    folder; ``manifest`` is the full (private) manifest.
    """

    exit_code: int
    status: str
    run_dir: Path | None
    manifest: dict
    private_dir: Path | None = None


# --------------------------------------------------------------------------- helpers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


# --------------------------------------------------------------------------- lock and log


@contextlib.contextmanager
def _locked(folder: Path):
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fh = os.fdopen(fd, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            yield holder
            return
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield None
    finally:
        fh.close()  # closing releases the flock


class _QuietFileHandler(logging.FileHandler):
    """A log file that never prints a traceback of its own (e.g. when the disk is full)."""

    def handleError(self, record):  # noqa: N802 - logging API
        pass


def _logger(private: Path, echo: Callable[[str], None] | None) -> tuple[logging.Logger, list[logging.Handler]]:
    log = logging.getLogger(f"iopstats.report.nightly.{os.getpid()}.{id(private)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    path = private / "iopstats.log"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    fh = _QuietFileHandler(path, encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [pid %(process)d] %(message)s"))
    handlers: list[logging.Handler] = [fh]
    if echo is not None:
        class Echo(logging.Handler):
            def emit(self, record):
                echo(f"[iopstats report] {record.getMessage()}")
        handlers.append(Echo())
    for h in handlers:
        log.addHandler(h)
    return log, handlers


# --------------------------------------------------------------------------- run


def _prune(out: Path, private: Path, keep: int, log: logging.Logger) -> None:
    cur = out / "current"
    current_id = os.readlink(cur).split("/")[-1] if cur.is_symlink() else None
    for runs in (out / "runs", private / "runs"):
        if not runs.is_dir():
            continue
        dirs = sorted((d for d in runs.iterdir() if d.is_dir()), reverse=True)
        for d in dirs[keep:]:
            if d.name != current_id:
                shutil.rmtree(d, ignore_errors=True)
                log.info("pruned old run %s", d if runs.parent == private else d.name)


def _publish_current(out: Path, run_id: str) -> None:
    cur = out / "current"
    if cur.exists() and not cur.is_symlink():
        raise IopstatsError("reports/current exists and is not a symlink", file=cur,
                            fix="move it away; the runner manages current as a symlink")
    tmp_link = out / f".current-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    os.symlink(f"runs/{run_id}", tmp_link)
    os.replace(tmp_link, cur)


def _run_id(runs: Path) -> str:
    rid = datetime.now().strftime("%Y%m%dT%H%M%S")
    while (runs / rid).exists():  # two runs within one second
        time.sleep(1.0)
        rid = datetime.now().strftime("%Y%m%dT%H%M%S")
    return rid


def _folders(config: ReportConfig) -> tuple[Path, Path]:
    out = Path(config.out).expanduser().resolve()
    private = (Path(config.private_dir).expanduser().resolve() if config.private_dir
               else default_private_dir(out))
    return out, private


def _missing_input(config: ReportConfig) -> IopstatsError | None:
    """A configured input that does not exist (a usage error: exit 2, nothing run)."""
    if config.source == "files":
        for key, path in config.input_paths().items():
            if not path.exists():
                what = "mapping file" if key.endswith("mapping") else f"{key} file"
                option = "--" + key.replace("_", "-")
                return IopstatsError(f"{what} not found", file=path, column=f"data.{key}",
                                     fix=f"pass an existing file with {option} or set [data] {key} in the config")
    if config.source == "ctn0094" and config.ctn0094 and not Path(config.ctn0094).is_dir():
        return IopstatsError("CTN-0094 folder not found", file=config.ctn0094, column="data.ctn0094",
                             fix="set [data] ctn0094 to the folder holding the CTN-0094 CSV files")
    return None


def _not_started(code: int, status: str, error: str) -> RunOutcome:
    """A run refused before its log exists (the caller prints ``error``)."""
    return RunOutcome(code, status, None, {"status": status, "logged": False, "error": error})


def run_reports(
    config: ReportConfig,
    echo: Callable[[str], None] | None = print,
    notebook_dir: str | os.PathLike | None = None,
) -> RunOutcome:
    """Execute every configured notebook and publish the HTML atomically.

    Parameters
    ----------
    config : ReportConfig
    echo : callable, optional
        Receives one progress line per step (``print`` by default).
    notebook_dir : path, optional
        Folder with site-specific versions of the notebooks (same names);
        the bundled ones by default.

    Returns
    -------
    RunOutcome
        ``exit_code`` 0 on success, 1 when a step failed or timed out (nothing
        published), 2 for a usage error (nothing run), 3 when another run holds
        the lock, 4 when a folder cannot be written (disk full, read-only,
        permission denied).
    """
    out, private = _folders(config)
    try:
        missing = _missing_input(config)
        if missing is not None:  # nothing is created for a run that cannot start
            raise missing
        prepare_folders(out, private)
        log, handlers = _logger(private, echo)
    except IopstatsError as exc:
        return _not_started(EXIT_USAGE, "usage", str(exc))
    except (NotADirectoryError, FileExistsError) as exc:  # a parent of the folder is a file
        return _not_started(EXIT_USAGE, "usage", f"a parent of the output or private folder is a file: "
                            f"{exc.filename}. Fix: point --out / [run] private_dir at a folder")
    except OSError as exc:
        return _not_started(EXIT_UNWRITABLE, "unwritable", write_fault_message(exc, out, private))
    try:
        with _locked(private) as holder:
            if holder is not None:
                msg = (f"another report run (pid {holder}) holds {private / '.lock'}; "
                       "not starting a second one. Wait for it to finish and run again.")
                log.error(msg)
                return RunOutcome(EXIT_LOCKED, "locked", None, {"status": "locked", "error": msg})
            return _run_locked(config, out, private, log, notebook_dir)
    except OSError as exc:
        if not is_write_fault(exc):
            raise
        msg = write_fault_message(exc, out, private)
        log.error(msg)
        return RunOutcome(EXIT_UNWRITABLE, "unwritable", None, {"status": "unwritable", "error": msg})
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()


class _StepFailure(Exception):
    """A failure with a public phrase (published) beside the full message (private)."""

    def __init__(self, private: str, public: str) -> None:
        super().__init__(private)
        self.public = public


def _new_manifest(config: ReportConfig, rid: str) -> dict:
    params = config.notebook_parameters()
    period = f"{config.period_start or 'start'} to {config.period_end or 'end'}"
    manifest: dict = {
        "run_id": rid,
        "status": "running",
        "started": datetime.now().isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "config_file": config.config_file,
        "source": config.source,
        "period": period if (config.period_start or config.period_end) else "all admissions",
        "threshold": config.threshold,
        "parameters": params,
        "inputs": [],
        "rows": {},
        "packages": _versions(),
        "steps": [],
        "reports": [],
    }
    if config.source == "parquet":
        manifest["data_engine"] = config.data_engine
        local = "LocalCluster (2 workers) started for the run" if config.data_engine == "dask" else None
        manifest["scheduler"] = config.scheduler or local
        manifest["years"] = list(config.years) if config.years else "all"
    else:
        manifest["quarantine_gate"] = {"max_share": config.quarantine_limits()}
    return manifest


def _run_locked(config: ReportConfig, out: Path, private: Path, log: logging.Logger,
                notebook_dir=None) -> RunOutcome:
    recover_stale(out, private, log)
    runs = out / "runs"
    rid = _run_id(runs)
    tmp = out / f".tmp-{rid}-{os.getpid()}"
    prun = private / "runs" / rid
    started = time.time()
    manifest = _new_manifest(config, rid)
    log.info("run %s started (source %s, output %s, private files %s)", rid, config.source, out, prun)
    status, error, public_error, code = "ok", None, None, EXIT_OK
    try:
        tmp.mkdir()
        make_private_dir(prun)
        _execute(config, manifest, tmp, prun, log, notebook_dir)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, never raised
        status, code = "failed", EXIT_FAILED
        if is_write_fault(exc):
            code = EXIT_UNWRITABLE
            error = write_fault_message(exc, out, private)
            public_error = "the run could not write its files (disk full or no permission)"
        elif isinstance(exc, (_StepFailure, QuarantineGateError)):
            error, public_error = str(exc), exc.public
        else:
            error = str(exc) if isinstance(exc, IopstatsError) else f"{type(exc).__name__}: {exc}"
            step = manifest["steps"][-1]["step"] if manifest["steps"] else "start"
            public_error = f"step '{step}' failed ({type(exc).__name__})"
        log.error("run %s failed: %s", rid, error)
    manifest.update(status=status, finished=datetime.now().isoformat(timespec="seconds"),
                    seconds=round(time.time() - started, 3))
    if error:
        manifest["error"] = error
        manifest["public_error"] = f"{public_error}; details in the private log (run {rid})"
        manifest["reports"] = []  # reports of a failed run are not offered as reports
    final, recorded = _finish(out, private, tmp, prun, manifest, log, keep=code != EXIT_UNWRITABLE)
    if status == "ok" and not recorded:  # the pages could not be moved into runs/: nothing to point at
        status, code = "failed", EXIT_UNWRITABLE
        manifest.update(status=status, error="the finished run could not be moved into runs/ (see the log)")
    if status == "ok":
        _publish_current(out, rid)
        log.info("published run %s as current", rid)
    else:
        log.error("previous report left in place; this run's private files (log, executed notebooks, "
                  "quarantined rows) are in %s", prun)
    try:
        _prune(out, private, config.keep_runs, log)
        build_index(out, log)
        log.info("index written: %s", out / "index.html")
    except OSError as exc:
        if not is_write_fault(exc):
            raise
        log.error("index not rewritten: %s", write_fault_message(exc, out, private))
        code = EXIT_UNWRITABLE
    restrict_tree(prun)
    return RunOutcome(code, status, final, manifest, prun)


def _finish(out: Path, private: Path, tmp: Path, prun: Path, manifest: dict, log: logging.Logger,
            keep: bool) -> tuple[Path, bool]:
    """Write both manifests and move the run into ``runs/`` (whether it got there); after a write fault free
    the space first."""
    final = out / "runs" / manifest["run_id"]
    if manifest["status"] != "ok" and tmp.is_dir():
        for page in tmp.glob("*.html"):  # a failed run's pages are never served
            page.unlink()
    if not keep:  # disk full or unwritable: remove the temporary folder, then record what we can
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_json(prun / "manifest.json", manifest, private=True)
    except OSError as exc:
        log.error("private manifest not written: %s", exc.strerror)
    try:
        tmp.mkdir(exist_ok=True)
        write_json(tmp / "manifest.json", public_manifest(manifest))
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.error("run %s not recorded in runs/: %s", manifest["run_id"], exc.strerror)
        return final, False
    return final, True


def _hash_inputs(config: ReportConfig, manifest: dict, log: logging.Logger) -> None:
    t0 = time.time()
    manifest["steps"].append({"step": "hash inputs", "status": "running"})
    if config.source == "parquet":
        manifest["dataset"] = fp = _check_dataset(config)
        manifest["inputs"].append({"table": "parquet", "path": fp["path"], "bytes": fp["bytes"],
                                   "files": fp["files"], "sha256": fp["sha256"], "hash_of": fp["hash_of"]})
        log.info("dataset %s: %d files, %d bytes (engine %s)", fp["path"], fp["files"], fp["bytes"],
                 config.data_engine)
    for table, path in ({} if config.source == "parquet" else config.input_paths()).items():
        if not path.exists():
            raise IopstatsError("input file not found", file=path, column=f"data.{table}",
                                fix=f"restore the file or change [data] {table}")
        manifest["inputs"].append({"table": table, "path": str(path), "bytes": path.stat().st_size,
                                   "sha256": _sha256(path)})
    manifest["steps"][-1].update(status="ok", seconds=round(time.time() - t0, 3))
    log.info("hashed %d input files", len(manifest["inputs"]))


def _check_inputs(config: ReportConfig, manifest: dict, prun: Path, log: logging.Logger):
    t0 = time.time()
    manifest["steps"].append({"step": "check inputs", "status": "running"})
    try:
        pre = preflight(config, prun, log)
    except QuarantineGateError:
        manifest["steps"][-1].update(status="failed", seconds=round(time.time() - t0, 3))
        raise
    except IopstatsError as exc:
        manifest["steps"][-1].update(status="failed", seconds=round(time.time() - t0, 3))
        raise _StepFailure(f"the inputs could not be loaded: {exc}",
                           "the inputs could not be loaded (the private log names the file, column and fix)") from exc
    manifest["rows"].update(pre.rows)
    if pre.quarantine_files:
        manifest["quarantine_files"] = pre.quarantine_files
    if config.source != "parquet":
        manifest["quarantine_gate"]["passed"] = True
    if pre.empty_period:
        manifest["empty_period"] = True
        log.warning("the reporting period %s holds no episodes: the outcomes page says so", manifest["period"])
    manifest["steps"][-1].update(status="ok", seconds=round(time.time() - t0, 3))
    return pre


def _execute(config: ReportConfig, manifest: dict, tmp: Path, prun: Path, log: logging.Logger,
             notebook_dir) -> None:
    """Hash and check the inputs, run and export every notebook (raises on failure)."""
    _hash_inputs(config, manifest, log)
    write_json(tmp / "manifest.json", public_manifest(manifest))
    pre = _check_inputs(config, manifest, prun, log)
    write_json(prun / "manifest.json", manifest, private=True)
    for name in config.notebooks:
        html_path = tmp / f"{name}.html"
        if pre.empty_period and name == "iop_outcomes":
            write_text_atomic(html_path, empty_period_page(_TITLES.get(name, name), manifest["period"]))
            manifest["steps"].append({"step": f"execute {name}", "status": "skipped (empty period)", "seconds": 0.0})
            manifest["reports"].append(html_path.name)
            continue
        _execute_notebook(config, name, manifest, tmp, prun, log, notebook_dir)
        if not manifest.get("notebook_data", {}).get(name, {}).get("publish", True):
            # the programs-and-sites page says itself whether the data hold more than one unit
            log.info("%s not published: the data hold a single program and site", name)
            manifest["steps"].append({"step": f"export {name}", "status": "skipped (one unit)", "seconds": 0.0})
            continue
        t0 = time.time()
        draft = prun / html_path.name  # exported and scanned privately; only a clean page enters the tree
        export_html(prun / f"{name}.ipynb", draft, _TITLES.get(name, name))
        found = scan_published(draft)
        if found:
            kinds = ", ".join(sorted(found))
            raise _StepFailure(f"report {name} contains identifier-like text ({kinds}); not published "
                               f"(the page is kept privately: {draft}). "
                               "Fix: find the source column and drop it in the mapping",
                               f"report {name} contained identifier-like text ({kinds}) and was not published")
        shutil.move(draft, html_path)
        manifest["steps"].append({"step": f"export {name}", "seconds": round(time.time() - t0, 3), "status": "ok"})
        manifest["reports"].append(html_path.name)
        write_json(tmp / "manifest.json", public_manifest(manifest))


def _execute_notebook(config: ReportConfig, name: str, manifest: dict, tmp: Path, prun: Path,
                      log: logging.Logger, notebook_dir) -> None:
    import papermill as pm

    params = config.notebook_parameters()
    nb_params = dict(params, summary_path=str(prun / f"{name}.summary.json"))
    executed = prun / f"{name}.ipynb"
    t0 = time.time()
    log.info("executing %s (cell timeout %d s)", name, config.cell_timeout)
    step = {"step": f"execute {name}", "status": "running"}
    manifest["steps"].append(step)
    write_json(tmp / "manifest.json", public_manifest(manifest))
    try:
        pm.execute_notebook(
            str(notebook_path(name, notebook_dir)), str(executed), parameters=nb_params,
            kernel_name=config.kernel, engine_name=config.engine, progress_bar=False,
            execution_timeout=config.cell_timeout, cwd=str(prun), log_output=False,
            kernel_manager_class=kernel_manager_class(config.kernel == "python3"),
        )
    except Exception as exc:  # noqa: BLE001 - any failure must be recorded, not raised
        step.update(status="failed", seconds=round(time.time() - t0, 3))
        if is_write_fault(exc):
            raise
        kind = "timed out" if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower() else "failed"
        raise _StepFailure(
            f"notebook {name} {kind}: {type(exc).__name__}: {first_line(exc)} (executed notebook: {executed})",
            f"notebook {name} {kind} ({_error_name(exc)})",
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            os.chmod(executed, 0o600)
    step.update(status="ok", seconds=round(time.time() - t0, 3))
    summary = prun / f"{name}.summary.json"
    if summary.exists():
        data = json.loads(summary.read_text(encoding="utf-8"))
        for table, counts in data.get("rows", {}).items():
            manifest["rows"].setdefault(table, {}).update(counts)
        if "data" in data:
            manifest.setdefault("notebook_data", {})[name] = data["data"]
        summary.unlink()
    log.info("%s executed in %.1f s", name, step["seconds"])


def _error_name(exc: Exception) -> str:
    """The exception class of the failing cell (papermill names it), never its message."""
    ename = getattr(exc, "ename", None)
    if isinstance(ename, str) and re.fullmatch(r"[A-Za-z_][\w.]{0,60}", ename):
        return ename
    return type(exc).__name__


def _check_dataset(config: ReportConfig) -> dict:
    """Fingerprint of the configured Parquet dataset; configured years must be in it."""
    fp = dataset_fingerprint(config.parquet)
    if config.years:
        have = dataset_years(config.parquet)
        missing = [y for y in config.years if y not in have]
        if missing:
            raise IopstatsError(
                "discharge year not in the Parquet dataset", file=config.parquet, column="data.years",
                value=missing[0], fix=f"years in the dataset: {have or 'none (not partitioned by discharge_year)'}",
            )
    return fp
