"""Executing and exporting one report notebook (used by :mod:`iopstats.report.nightly`).

:func:`notebook_path` finds a bundled (or site) notebook, :func:`kernel_manager_class`
gives papermill a kernel on local IPC sockets in this interpreter, and
:func:`export_html` turns an executed notebook into a static, self-contained page.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from iopstats.exceptions import IopstatsError
from iopstats.report.config import ALL_NOTEBOOKS
from iopstats.report.privacy import find_identifiers
from iopstats.report.runfiles import write_text_atomic

__all__ = ["notebook_path", "kernel_manager_class", "export_html", "scan_published", "first_line"]

_HERE = Path(__file__).resolve().parent
_TEMPLATES = _HERE / "templates"


def notebook_path(name: str, notebook_dir: str | os.PathLike | None = None) -> Path:
    """Path of a report notebook: bundled in the package, or in ``notebook_dir``."""
    if name not in ALL_NOTEBOOKS:
        raise IopstatsError("unknown report notebook", value=name, fix=f"choose from {list(ALL_NOTEBOOKS)}")
    p = Path(notebook_dir or _HERE / "notebooks") / f"{name}.ipynb"
    if not p.exists():
        raise IopstatsError("report notebook not found", file=p, fix="reinstall iopstats or fix notebook_dir")
    return p




def kernel_manager_class(current_python: bool):
    """A kernel manager talking to the kernel over local IPC sockets (not TCP).

    Over TCP without CurveZMQ keys ipykernel logs "Kernel is running over TCP
    without encryption" to the job's stderr for every notebook (twice a run,
    even with ``--quiet``), and any local user could connect to the ports.
    IPC sockets are files in the Jupyter runtime folder (owner-only), so the
    warning is gone for the right reason. With ``current_python`` the kernel
    is ipykernel in *this* interpreter (the venv): a ``python3`` kernelspec
    found on the Jupyter path may point at another Python that cannot import
    iopstats.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager  # nbclient's default; the sync one ignores timeouts
    from traitlets import default

    class IpcKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):  # noqa: D401 - traitlets API
            return "ipc"

    if not current_python:
        return IpcKernelManager

    class CurrentPythonKernelManager(IpcKernelManager):
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
    write_text_atomic(out, body)


def scan_published(path: Path) -> dict[str, int]:
    """Identifier-like text in a published page (embedded images ignored)."""
    text = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+", "", path.read_text(encoding="utf-8"))
    text = re.sub(r"<style.*?</style>", "", text, flags=re.S | re.I)
    return find_identifiers(text, kinds=("ssn", "email", "phone", "exact_date"))




def first_line(exc: Exception) -> str:
    """The exception line of a failure (private: it may quote data values)."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if isinstance(ename, str) and isinstance(evalue, str):
        # papermill's execution error names the cell's exception; its message text differs
        # between releases (2.6 prints only the cell), so read the attributes
        return f"{ename}: {evalue}".strip()[:300]
    text = str(exc).strip()
    # papermill errors carry the whole traceback; keep the exception line
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Timeout)\b", ln.strip()):
            return ln.strip()[:300]
    return (lines[0] if lines else "")[:300]
