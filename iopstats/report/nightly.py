"""The nightly report run: execute the notebooks, export HTML, publish atomically.

Layout of the output folder (``reports/`` by default)::

    reports/
      index.html            stable entry page: current report + every earlier run
      current -> runs/<id>  symlink to the last good run (swapped atomically)
      runs/<YYYYmmddTHHMMSS>/
        iop_outcomes.html   self-contained (images embedded, no remote resources)
        data_quality.html   (national_headline.html for a Parquet source)
        *.ipynb             executed notebooks (kept for diagnosis)
        manifest.json       inputs (sha256), rows, package versions, timings, status
      iopstats.log          log of every run
      .lock                 fcntl lock with the pid of the running job

A run works in ``reports/.tmp-<id>-<pid>/`` (same filesystem) and is renamed
into ``runs/`` when done. Only a fully successful run moves ``current``; a
failed, timed-out or killed run never touches it. A killed run's temporary
folder is moved to ``runs/`` as ``interrupted`` by the next run.

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
import html
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from string import Template

from iopstats.exceptions import IopstatsError
from iopstats.report.config import ALL_NOTEBOOKS, ReportConfig, dataset_fingerprint, dataset_years
from iopstats.report.privacy import DEFAULT_THRESHOLD, IDENTIFIER_PATTERNS, find_identifiers, marker

__all__ = [
    "RunOutcome",
    "run_reports",
    "notebook_path",
    "export_html",
    "build_index",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_LOCKED",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_LOCKED = 3

_HERE = Path(__file__).resolve().parent
_TEMPLATES = _HERE / "templates"
_PACKAGES = ("iopstats", "numpy", "pandas", "scipy", "statsmodels", "matplotlib", "seaborn",
             "papermill", "nbclient", "nbconvert", "ipykernel", "pyarrow", "dask", "distributed")
_TITLES = {"iop_outcomes": "IOP outcomes report", "data_quality": "Data quality report",
           "national_headline": "National headline report"}


def notebook_path(name: str, notebook_dir: str | os.PathLike | None = None) -> Path:
    """Path of a report notebook: bundled in the package, or in ``notebook_dir``."""
    if name not in ALL_NOTEBOOKS:
        raise IopstatsError("unknown report notebook", value=name, fix=f"choose from {list(ALL_NOTEBOOKS)}")
    p = Path(notebook_dir or _HERE / "notebooks") / f"{name}.ipynb"
    if not p.exists():
        raise IopstatsError("report notebook not found", file=p, fix="reinstall iopstats or fix notebook_dir")
    return p


@dataclass(frozen=True)
class RunOutcome:
    """What a run did: exit code, status and where its files are."""

    exit_code: int
    status: str
    run_dir: Path | None
    manifest: dict


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


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _current_python_kernel_manager():
    """A kernel manager that runs ipykernel in *this* interpreter (the venv).

    A ``python3`` kernelspec found on the Jupyter path may point at another
    Python that cannot import iopstats; this one cannot.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager  # nbclient's default; the sync one ignores timeouts

    class CurrentPythonKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self):  # noqa: D401 - jupyter_client API
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name="Python 3 (iopstats)",
                    language="python",
                    env={"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"},
                )
            return self._kernel_spec

    return CurrentPythonKernelManager


_REMOTE_TAG = re.compile(r"<(script|link)\b[^>]*>", re.I)
_SCRIPT_BLOCK = re.compile(r"<script\b.*?</script\s*>", re.I | re.S)
_LINK_REMOTE = re.compile(r"<link\b[^>]*href=[\"']?https?://[^>]*>", re.I)


def export_html(executed: Path, out: Path, title: str) -> None:
    """Export an executed notebook as a static, self-contained HTML page.

    Code cells, prompts and stderr streams are left out; every ``<script>``
    and remote ``<link>`` is removed (the page needs no JavaScript and must
    open with the network off); figures are embedded PNGs.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"  # papermill's injected cell has a random id
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                and o.get("output_type") != "error"
            ]
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    body = _SCRIPT_BLOCK.sub("", body)
    body = _LINK_REMOTE.sub("", body)
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    body = body.replace("</head>", f"<style>\n{css}\n</style>\n</head>", 1)
    remote = re.findall(r"(?:src|href)\s*=\s*[\"']?(https?://[^\"' >]+)", body, re.I)
    if remote:
        raise IopstatsError(
            "exported HTML still references remote resources", value=remote[0],
            fix="remove the resource from the notebook output",
        )
    _write_text_atomic(out, body)


def _scan_published(path: Path) -> dict[str, int]:
    """Identifier-like text in a published page (embedded images ignored)."""
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+", "", path.read_text(encoding="utf-8"))
    text = re.sub(r"<style.*?</style>", "", text, flags=re.S | re.I)
    return find_identifiers(text, kinds=("ssn", "email", "phone", "exact_date"))


# --------------------------------------------------------------------------- index


def _load_manifests(runs: Path) -> list[dict]:
    out = []
    if not runs.is_dir():
        return out
    for d in sorted(runs.iterdir(), reverse=True):
        m = d / "manifest.json"
        if d.is_dir() and m.exists():
            try:
                out.append(json.loads(m.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError):
                out.append({"run_id": d.name, "status": "unreadable manifest"})
    return out


def _redact_text(text: str) -> str:
    for kind in ("ssn", "email", "phone", "exact_date", "ip_address"):
        text = re.sub(IDENTIFIER_PATTERNS[kind], "[redacted]", text)
    return text


def build_index(out: Path) -> Path:
    """Rewrite ``out/index.html`` from the run manifests (atomically)."""
    out = Path(out)
    manifests = _load_manifests(out / "runs")
    current = out / "current"
    current_id = os.readlink(current).split("/")[-1] if current.is_symlink() else None
    esc = html.escape
    cur_html = "<p class='none'>No report has been published yet.</p>"
    if current_id:
        cm = next((m for m in manifests if m.get("run_id") == current_id), {})
        links = "".join(
            f"<li><a href='current/{esc(r)}'>{esc(_TITLES.get(Path(r).stem, r))}</a></li>"
            for r in cm.get("reports", [])
        )
        cur_html = (f"<p>Last good run <strong>{esc(current_id)}</strong> "
                    f"(data period {esc(str(cm.get('period', 'all')))}).</p><ul class='reports'>{links}</ul>")
    latest = manifests[0] if manifests else None
    alert = ""
    if latest and latest.get("status") != "ok":
        alert = (f"<div class='alert'>The latest run <strong>{esc(str(latest.get('run_id')))}</strong> "
                 f"{esc(str(latest.get('status')))}: {esc(_redact_text(str(latest.get('error', '')))[:300])}. "
                 f"The report below is the last good one.</div>")
    rows = []
    for m in manifests:
        rid = esc(str(m.get("run_id", "")))
        status = str(m.get("status", ""))
        links = " ".join(f"<a href='runs/{rid}/{esc(r)}'>{esc(Path(r).stem)}</a>" for r in m.get("reports", []))
        if status != "ok":
            links += f" <a href='runs/{rid}/manifest.json'>manifest</a>"
        eps = m.get("rows", {}).get("episodes", {})
        loaded = eps.get("loaded", eps.get("counted", ""))
        if isinstance(loaded, int):
            t = int(m.get("threshold") or DEFAULT_THRESHOLD)
            loaded = marker(t) if 1 <= loaded < t else f"{loaded:,}"
        secs = m.get("seconds")
        rows.append(
            f"<tr class='{esc(status)}'><td>{rid}</td><td class='status'>{esc(status)}</td>"
            f"<td>{esc(str(loaded))}</td><td>{'' if secs is None else f'{secs:.0f} s'}</td><td>{links}</td></tr>"
        )
    tpl = Template((_TEMPLATES / "index.html").read_text(encoding="utf-8"))
    page = tpl.substitute(
        css=(_TEMPLATES / "report.css").read_text(encoding="utf-8"),
        alert=alert,
        current=cur_html,
        rows="\n".join(rows) or "<tr><td colspan='5'>No runs yet.</td></tr>",
    )
    path = out / "index.html"
    _write_text_atomic(path, page)
    return path


# --------------------------------------------------------------------------- lock


@contextlib.contextmanager
def _locked(out: Path):
    path = out / ".lock"
    fh = open(path, "a+")
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


# --------------------------------------------------------------------------- run


def _recover_stale(out: Path, log: logging.Logger) -> None:
    """Move temp folders of killed runs into runs/ as 'interrupted' (lock held)."""
    for tmp in sorted(out.glob(".tmp-*")):
        if not tmp.is_dir():
            continue
        m = tmp / "manifest.json"
        rid = tmp.name.split("-")[1] if tmp.name.count("-") >= 2 else None
        if m.exists() and rid:
            try:
                manifest = json.loads(m.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                manifest = {"run_id": rid}
            manifest["status"] = "interrupted"
            manifest["error"] = "the run was killed before it finished; nothing was published"
            _write_json(m, manifest)
            dest = out / "runs" / rid
            if not dest.exists():
                os.replace(tmp, dest)
                log.warning("recovered interrupted run %s", rid)
                continue
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("removed stale temporary folder %s", tmp.name)


def _prune(out: Path, keep: int, log: logging.Logger) -> None:
    runs = out / "runs"
    cur = out / "current"
    current_id = os.readlink(cur).split("/")[-1] if cur.is_symlink() else None
    dirs = sorted((d for d in runs.iterdir() if d.is_dir()), reverse=True)
    for d in dirs[keep:]:
        if d.name != current_id:
            shutil.rmtree(d, ignore_errors=True)
            log.info("pruned old run %s", d.name)


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


def _logger(out: Path, echo: Callable[[str], None] | None) -> tuple[logging.Logger, list[logging.Handler]]:
    log = logging.getLogger(f"iopstats.report.nightly.{os.getpid()}.{id(out)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    fh = logging.FileHandler(out / "iopstats.log", encoding="utf-8")
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
        published), 3 when another run holds the lock.
    """
    out = Path(config.out).resolve()
    (out / "runs").mkdir(parents=True, exist_ok=True)
    log, handlers = _logger(out, echo)
    try:
        with _locked(out) as holder:
            if holder is not None:
                msg = (f"another report run (pid {holder}) holds {out / '.lock'}; "
                       "not starting a second one. Wait for it to finish and run again.")
                log.error(msg)
                return RunOutcome(EXIT_LOCKED, "locked", None, {"status": "locked", "error": msg})
            return _run_locked(config, out, log, notebook_dir)
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()


def _run_locked(config: ReportConfig, out: Path, log: logging.Logger, notebook_dir=None) -> RunOutcome:
    import papermill as pm

    _recover_stale(out, log)
    runs = out / "runs"
    rid = _run_id(runs)
    tmp = out / f".tmp-{rid}-{os.getpid()}"
    tmp.mkdir()
    started = time.time()
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
    log.info("run %s started (source %s, output %s)", rid, config.source, out)
    status, error = "ok", None
    try:
        t0 = time.time()
        if config.source == "parquet":
            manifest["dataset"] = fp = _check_dataset(config)
            manifest["inputs"].append({"table": "parquet", "path": fp["path"], "bytes": fp["bytes"],
                                       "files": fp["files"], "sha256": fp["sha256"], "hash_of": fp["hash_of"]})
            log.info("dataset %s: %d files, %d bytes (engine %s)", manifest["dataset"]["path"],
                     manifest["dataset"]["files"], manifest["dataset"]["bytes"], config.data_engine)
        for table, path in ({} if config.source == "parquet" else config.input_paths()).items():
            if not path.exists():
                raise IopstatsError("input file not found", file=path, fix="check the paths in the config")
            manifest["inputs"].append({"table": table, "path": str(path), "bytes": path.stat().st_size,
                                       "sha256": _sha256(path)})
        manifest["steps"].append({"step": "hash inputs", "seconds": round(time.time() - t0, 3), "status": "ok"})
        log.info("hashed %d input files", len(manifest["inputs"]))
        _write_json(tmp / "manifest.json", manifest)
        km_class = _current_python_kernel_manager() if config.kernel == "python3" else None
        for name in config.notebooks:
            nb_params = dict(params, summary_path=str(tmp / f"{name}.summary.json"))
            executed = tmp / f"{name}.ipynb"
            t0 = time.time()
            log.info("executing %s (cell timeout %d s)", name, config.cell_timeout)
            step = {"step": f"execute {name}", "status": "running"}
            manifest["steps"].append(step)
            _write_json(tmp / "manifest.json", manifest)
            kw = {"kernel_manager_class": km_class} if km_class else {}
            try:
                pm.execute_notebook(
                    str(notebook_path(name, notebook_dir)), str(executed), parameters=nb_params,
                    kernel_name=config.kernel, engine_name=config.engine, progress_bar=False,
                    execution_timeout=config.cell_timeout, cwd=str(tmp), log_output=False, **kw,
                )
            except Exception as exc:  # noqa: BLE001 - any failure must be recorded, not raised
                step.update(status="failed", seconds=round(time.time() - t0, 3))
                kind = "timed out" if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower() else "failed"
                raise IopstatsError(
                    f"notebook {name} {kind}: {type(exc).__name__}: {_first_line(exc)}",
                    file=executed, fix="open the executed notebook in the run folder to see the failing cell",
                ) from exc
            step.update(status="ok", seconds=round(time.time() - t0, 3))
            summary = tmp / f"{name}.summary.json"
            if summary.exists():
                data = json.loads(summary.read_text(encoding="utf-8"))
                manifest["rows"].update(data.get("rows", {}))
                if "data" in data:
                    manifest.setdefault("notebook_data", {})[name] = data["data"]
                summary.unlink()
            t0 = time.time()
            html_path = tmp / f"{name}.html"
            export_html(executed, html_path, _TITLES.get(name, name))
            found = _scan_published(html_path)
            if found:
                raise IopstatsError(
                    f"report {name} contains identifier-like text ({', '.join(sorted(found))}); not published",
                    fix="find the source column and drop it in the mapping",
                )
            manifest["steps"].append({"step": f"export {name}", "seconds": round(time.time() - t0, 3), "status": "ok"})
            manifest["reports"].append(html_path.name)
            log.info("%s done in %.1f s", name, time.time() - t0 + step["seconds"])
    except Exception as exc:  # noqa: BLE001
        status = "failed"
        error = str(exc) if isinstance(exc, IopstatsError) else f"{type(exc).__name__}: {exc}"
        log.error("run %s failed: %s", rid, error)
    manifest.update(status=status, finished=datetime.now().isoformat(timespec="seconds"),
                    seconds=round(time.time() - started, 3))
    if error:
        manifest["error"] = error
        manifest["reports"] = []  # reports of a failed run are not offered as reports
    _write_json(tmp / "manifest.json", manifest)
    final = runs / rid
    os.replace(tmp, final)
    if status == "ok":
        _publish_current(out, rid)
        log.info("published run %s as current", rid)
    else:
        log.error("previous report left in place; executed notebooks kept in %s", final)
    _prune(out, config.keep_runs, log)
    build_index(out)
    log.info("index written: %s", out / "index.html")
    return RunOutcome(EXIT_OK if status == "ok" else EXIT_FAILED, status, final, manifest)


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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    # papermill errors carry the whole traceback; keep the exception line
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Timeout)\b", ln.strip()):
            return ln.strip()[:300]
    return (lines[0] if lines else "")[:300]
