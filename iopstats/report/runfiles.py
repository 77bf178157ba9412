"""Folders and files of the nightly job: published versus private, atomic writes, faults.

Two trees (see :mod:`iopstats.report.nightly`):

* the **published** folder ``<out>/`` holds only what may be served: the
  index, ``current``, and per run the HTML pages and a *public* manifest
  (no input paths, hashes, exact counts, ids or dates; episode counts rounded
  to tens, counts of 1-10 never shown; errors reduced to a sanitized phrase);
* the **private** folder (``[run] private_dir``, by default
  ``<out>/../<out-name>.private/``, owner-only: folders 0700, files 0600)
  holds the log, the lock, the full manifest, the executed notebooks and the
  quarantined rows of every run.

Write faults (disk full, read-only file system, permission denied) are
recognised by their ``errno`` and turned into one-line messages with the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
from pathlib import Path

from iopstats.exceptions import IopstatsError
from iopstats.report.privacy import marker

__all__ = [
    "protect_count",
    "default_private_dir",
    "prepare_folders",
    "make_private_dir",
    "restrict_tree",
    "write_json",
    "write_text_atomic",
    "write_private_text",
    "is_write_fault",
    "write_fault_message",
    "public_manifest",
    "recover_stale",
]

#: errno values that mean "this folder cannot be written now" (exit 4).
WRITE_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})

#: Keys of the full manifest that are copied into the published one unchanged.
_PUBLIC_KEYS = ("run_id", "status", "started", "finished", "seconds", "source", "period", "threshold",
                "reports", "packages", "data_engine", "years", "notebook_data", "empty_period", "quarantine_gate")


def protect_count(value: int, threshold: int = 11) -> str:
    """A count as published outside the report pages: 0, the marker for 1 to threshold-1, else rounded to tens.

    Rounding keeps differences with exact totals printed elsewhere from
    pinning a small count (e.g. rows quarantined = rows read - rows loaded).

    Examples
    --------
    >>> protect_count(0), protect_count(3), protect_count(598), protect_count(1204)
    ('0', '<11', 'about 600', 'about 1,200')
    """
    v = int(value)
    if v <= 0:
        return "0"
    if v < threshold:
        return marker(threshold)
    return f"about {(v + 5) // 10 * 10:,}"


def default_private_dir(out: Path) -> Path:
    """``<out>/../<out-name>.private``: beside the published folder, never inside it."""
    return out.parent / f"{out.name}.private"


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it owner-only (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def prepare_folders(out: Path, private: Path) -> None:
    """Check and create the published and private folders.

    Raises :class:`IopstatsError` for a usage error (a path naming a file, a
    private folder inside the published one) and lets :class:`OSError` through
    for write faults (the caller turns those into exit code 4).
    """
    for path, what, option in ((out, "output folder", "--out / [run] out"),
                               (private, "private folder", "[run] private_dir")):
        if path.exists() and not path.is_dir():
            raise IopstatsError(f"the {what} names a file, not a folder", file=path,
                                fix=f"point {option} at a folder (it is created when missing)")
    if _inside(private, out) or _inside(out, private):
        raise IopstatsError("the private folder must be outside the published folder", file=private,
                            fix=f"set [run] private_dir outside {out} (default: {default_private_dir(out)})")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    make_private_dir(private)
    (private / "runs").mkdir(mode=0o700, exist_ok=True)
    for folder in (out, private):  # fail now, with the folder named, rather than half-way through a run
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()


def restrict_tree(path: Path) -> None:
    """Owner-only permissions on a private tree: folders 0700, files 0600 (best effort)."""
    if not path.exists():
        return
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, d), 0o700)
            for f in files:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, f), 0o600)


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write through a temporary file and rename; the temporary file never outlives a failure."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        if mode is None:
            tmp.write_text(text, encoding="utf-8")
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_json(path: Path, data: dict, private: bool = False) -> None:
    """Write a manifest atomically (0600 when ``private``)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str),
                      mode=0o600 if private else None)


def write_private_text(path: Path, text: str) -> None:
    """Write an owner-only (0600) file."""
    write_text_atomic(path, text, mode=0o600)


def is_write_fault(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a disk-full / read-only / permission fault."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in WRITE_FAULTS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _fault(exc: BaseException) -> OSError | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in WRITE_FAULTS:
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def write_fault_message(exc: BaseException, out: Path, private: Path) -> str:
    """One line: what could not be written and how to fix it."""
    err = _fault(exc) or exc
    where = getattr(err, "filename", None) or out
    code = getattr(err, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        fix = ("free space on that file system (or raise the quota); the next run removes this run's "
               "temporary files and starts again")
        what = "no space left on the device"
    elif code == errno.EROFS:
        fix = "point --out / [run] private_dir at a writable file system"
        what = "read-only file system"
    elif code in (errno.EACCES, errno.EPERM):
        fix = f"give the user running the job write permission on {out} and {private}, or choose other folders"
        what = "permission denied"
    else:
        fix = f"check that {out} and {private} are folders on a working, writable file system"
        what = (getattr(err, "strerror", None) or type(err).__name__).lower()
    return f"cannot write {where}: {what}. Fix: {fix}"


def public_manifest(manifest: dict, private_rel: str | None = None) -> dict:
    """The manifest as published beside the pages: no paths, parameters, scheduler address or exact counts.

    Examples
    --------
    >>> m = {"run_id": "20240101T000000", "status": "failed", "threshold": 11, "error": "bad id C042",
    ...      "public_error": "step 'check inputs' failed", "inputs": [{"table": "episodes", "path": "/x.csv"}],
    ...      "rows": {"episodes": {"input": 598, "loaded": 595, "quarantined": 3}}}
    >>> pub = public_manifest(m)
    >>> pub["rows"], pub["inputs"], pub["error"]
    ({'episodes': {'loaded': 'about 600'}}, ['episodes'], "step 'check inputs' failed")
    """
    t = manifest.get("threshold") if isinstance(manifest.get("threshold"), int) else 11
    pub = {k: manifest[k] for k in _PUBLIC_KEYS if k in manifest}
    if isinstance(manifest.get("dataset"), dict):  # a Parquet dataset: its fingerprint, not where it lives
        pub["dataset"] = {k: v for k, v in manifest["dataset"].items() if k != "path"}
    pub["inputs"] = [i["table"] for i in manifest.get("inputs", []) if isinstance(i, dict) and "table" in i]
    pub["steps"] = [{k: s[k] for k in ("step", "status", "seconds") if k in s}
                    for s in manifest.get("steps", []) if isinstance(s, dict)]
    rows = {}
    for table, counts in (manifest.get("rows") or {}).items():
        if isinstance(counts, dict):
            shown = {k: protect_count(v, t) for k, v in counts.items()
                     if k in ("loaded", "counted", "episodes_in_period") and isinstance(v, int)}
            if shown:
                rows[table] = shown
    pub["rows"] = rows
    pub["counts_shown"] = "rounded to the nearest ten; counts of 1 to threshold-1 shown as a marker"
    if "public_error" in manifest:
        pub["error"] = manifest["public_error"]
    if private_rel:
        pub["details"] = private_rel
    return pub


def recover_stale(out: Path, private: Path, log: logging.Logger) -> None:
    """Finish temporary folders left by killed or crashed runs (lock held).

    A folder whose run can be recorded is moved to ``runs/`` as
    ``interrupted``; anything else (a malformed manifest, a disk still full)
    is removed. Nothing here can stop the new run.
    """
    for tmp in sorted(out.glob(".tmp-*")):
        try:
            _recover_one(tmp, out, private, log)
        except Exception as exc:  # noqa: BLE001 - recovery must never stop the next run
            shutil.rmtree(tmp, ignore_errors=True)
            log.warning("removed stale temporary folder %s (%s)", tmp.name, type(exc).__name__)
    for stray in list(out.glob("*.tmp[0-9]*")) + list(out.glob(".current-*")) + list(out.glob(".write-test-*")):
        with contextlib.suppress(OSError):
            stray.unlink()


def _recover_one(tmp: Path, out: Path, private: Path, log: logging.Logger) -> None:
    if not tmp.is_dir():
        tmp.unlink()
        log.warning("removed stale temporary file %s", tmp.name)
        return
    parts = tmp.name.split("-")
    rid = parts[1] if len(parts) >= 3 and re.fullmatch(r"\d{8}T\d{6}", parts[1]) else None
    dest = out / "runs" / rid if rid else None
    if rid is None or dest.exists():
        shutil.rmtree(tmp)
        log.warning("removed stale temporary folder %s", tmp.name)
        return
    m = tmp / "manifest.json"
    try:
        old = json.loads(m.read_bytes().decode("utf-8")) if m.exists() else {}
    except (OSError, UnicodeDecodeError, ValueError):
        old = {}
    if not isinstance(old, dict):
        old = {}
    kinds = {"started": str, "source": str, "period": str, "threshold": int, "steps": list}
    public = {k: old[k] for k, kind in kinds.items() if isinstance(old.get(k), kind)}
    public.update(run_id=rid, status="interrupted", reports=[],
                  error="the run was stopped before it finished; nothing was published")
    for page in tmp.glob("*.html"):  # pages of an unfinished run are not offered
        page.unlink()
    write_json(m, public)
    os.replace(tmp, dest)
    log.warning("recovered interrupted run %s (its private files, if any, are in %s)", rid, private / "runs" / rid)
