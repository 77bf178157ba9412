"""The run's two pages (outcomes, data quality) built from one protected ledger.

:func:`build_run` computes every section of both pages, registers every
count they print with one :class:`~iopstats.report.ledger.Ledger` per input
table (episodes: loaded and quarantined rows together, so the data-quality
page and the outcomes page are audited jointly), protects the ledgers, and
returns a :class:`Run` whose pages render to HTML. Each notebook calls it
and displays its page, so both pages of a run print the same protection.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import iopstats
from iopstats.report import labels
from iopstats.report.blocks import Count, Derived, Section, Table, Text, render_page
from iopstats.report.ledger import Ledger
from iopstats.report.sections import Context, cohort_section, comparison_section, outcome_rates_section
from iopstats.report.sections_more import funnel_section, subgroup_section, time_section, trend_section

__all__ = ["Run", "build_run", "executive_summary", "quality_sections", "suppressed_share"]


@dataclass
class Run:
    """Both pages of a run and the ledgers that protect them."""

    outcomes: list[Section]
    quality: list[Section]
    ledgers: dict[str, Ledger]
    meta: dict = field(default_factory=dict)

    @property
    def ledger(self) -> Ledger:
        return self.ledgers["episodes"]

    def outcomes_html(self, section: str | None = None) -> str:
        secs = [s for s in self.outcomes if section is None or s.id == section]
        return render_page(secs, self.ledger)

    def quality_html(self, section: str | None = None) -> str:
        out = []
        for s in self.quality:
            if section is None or s.id == section:
                out.append(s.html(self.ledgers.get(s.id, self.ledger)))
        return "\n".join(out)


def _positions(outcomes: pd.DataFrame, loaded: pd.DataFrame) -> np.ndarray:
    if "episode_id" in outcomes and "episode_id" in loaded:
        idx = pd.Index(loaded["episode_id"].astype(str))
        if idx.is_unique:
            pos = idx.get_indexer(outcomes["episode_id"].astype(str))
            if (pos >= 0).all():
                return pos
    return np.arange(len(outcomes))


def build_run(data: Mapping[str, object], outcomes: pd.DataFrame, *, reference: str = "iop", margin: float = 0.10,
              adjust: Sequence[str] = (), threshold: int = 11, seed: int = 0, period: str = "",
              as_of=None) -> Run:
    """Build, register and protect both pages of a run (see the module docstring).

    ``data`` maps table name to :class:`~iopstats.io.result.LoadResult` (or
    ``None``); ``outcomes`` is ``build_outcomes`` of the loaded episodes
    (optionally filtered to a period).
    """
    ep = data["episodes"]
    n_loaded, n_q = len(ep.data), int(ep.report.n_quarantined)
    led = Ledger(n_loaded + n_q, threshold, "episodes")
    ctx = Context(outcomes, led, _positions(outcomes, ep.data), reference=reference, margin=margin, adjust=adjust,
                  seed=seed)
    has_sessions = data.get("sessions") is not None and "engaged" in outcomes and outcomes["engaged"].notna().any()
    cmp_sec, findings = comparison_section(ctx)
    body = [cohort_section(ctx), outcome_rates_section(ctx, has_sessions), cmp_sec, time_section(ctx),
            subgroup_section(ctx), trend_section(ctx), funnel_section(ctx)]
    ledgers = {"episodes": led}
    quality = quality_sections(data, led, threshold, ledgers)
    for lg in ledgers.values():
        lg.protect()
    meta = {"period": period or _period(outcomes), "as_of": str(as_of or _as_of(outcomes)),
            "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%d %b %Y, %H:%M UTC"),
            "version": iopstats.__version__, "run_id": _run_id(outcomes), "reference": reference, "margin": margin}
    summary = executive_summary(findings, meta, led)
    return Run([summary] + body, quality, ledgers, meta)


def _period(o: pd.DataFrame) -> str:
    p = o["admit_period"].dropna().astype(str) if "admit_period" in o else pd.Series([], dtype=str)
    return f"admissions {p.min()} to {p.max()}" if len(p) else "all admissions"


def _as_of(o: pd.DataFrame) -> str:
    d = pd.to_datetime(o.get("discharge_date"), errors="coerce") if "discharge_date" in o else pd.Series([])
    return f"{d.max():%Y-%m}" if len(d) and d.notna().any() else "unknown"


def _run_id(o: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(o["episode_id"].astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:12]


def executive_summary(findings: Mapping[str, list], meta: Mapping, led: Ledger) -> Section:
    """First section: what the page covers, then one sentence per level with the headline findings.

    Every sentence is built from the same estimates and protected counts as the
    tables below it; a finding resting on a count not shown says so.
    """
    m = float(meta.get("margin", 0.10))
    rows = [["Period covered", meta.get("period", "")], ["Data as of (latest discharge month)", meta.get("as_of", "")],
            ["Generated", meta.get("generated", "")], ["iopstats version", meta.get("version", "")],
            ["Run id (fingerprint of the episodes)", meta.get("run_id", "")]]
    blocks = [Table("About this report", ["", ""], rows),
              Text("Links: data-quality page (data_quality.html) lists every input row loaded or quarantined.",
                   "iopstats-links")]
    for label, fs in findings.items():
        for f in fs:
            blocks.append(Text(lambda ld, f=f, label=label: _finding(ld, f, label, m)))
    if not findings:
        blocks.append(Text("No comparison against IOP could be made (see section 3)."))
    blocks.append(Text("Caveats: raw differences mix case mix with effectiveness; adjusted differences assume no "
                       "unmeasured confounding; open episodes are not counted in completion; counts of 1-"
                       f"{led.threshold - 1} are never shown and some further cells are withheld (n/p)."))
    return Section("summary", "Summary", blocks)


def _finding(led: Ledger, f: Mapping, label: str, m: float) -> str:
    lvl = labels.level(f["level"])
    if led.is_hidden(*f["deps"]):
        return f"{label.capitalize()}, IOP against {lvl}: not shown, because a count it rests on is not published."
    rd, lo, hi = (100 * float(x) for x in f["raw"])
    text = (f"{label.capitalize()}, IOP minus {lvl}: {rd:+.1f} points unadjusted (95% CI {lo:+.1f} to {hi:+.1f}; "
            f"{f['raw_verdict']} at a {100 * m:.0f}-point margin)")
    if f.get("adj") is not None and not led.is_hidden(*f["adeps"]):
        a, alo, ahi = (100 * float(x) for x in f["adj"])
        text += f"; {a:+.1f} adjusted (95% CI {alo:+.1f} to {ahi:+.1f}; {f['adj_verdict']})"
    return text + "."


# --------------------------------------------------------------------------- data quality


def quality_sections(data: Mapping[str, object], led: Ledger, threshold: int,
                     ledgers: dict[str, Ledger]) -> list[Section]:
    """Data-quality sections; the episodes table's counts go into the run's ledger."""
    secs = []
    for name, res in data.items():
        if res is None:
            continue
        r = res.report
        lg = led if name == "episodes" else Ledger(int(r.n_input), threshold, name)
        ledgers[name] = lg
        n_loaded = len(res.data)
        loaded = np.zeros(lg.n_units, dtype=bool)
        loaded[:n_loaded] = True
        k_in = f"{name}|rows_read"
        lg.count(k_in, np.ones(lg.n_units, dtype=bool), priority=0)
        if name == "episodes":  # loaded episodes are the cohort: one count with the outcomes page
            lg.count("episodes|loaded", loaded, priority=0)
            k_load = "episodes|loaded"
        else:
            k_load = f"{name}|loaded"
            lg.count(k_load, loaded, priority=0)
        k_q = f"{name}|quarantined"
        lg.count(k_q, ~loaded)
        blocks = [Table(f"{name.capitalize()}: rows read, loaded and quarantined",
                        ["Rows read", "Rows loaded", "Rows quarantined"], [[Count(k_in), Count(k_load), Count(k_q)]])]
        blocks += _reasons(res, lg, name, n_loaded)
        secs.append(Section(f"{name}", f"{name.capitalize()}", blocks))
        # missing values per column: a ledger of their own (audited apart from the outcome counts)
        ml = Ledger(int(r.n_input), threshold, f"{name}:missing")
        ledgers[f"{name}:missing"] = ml
        ml.count(k_load, loaded, priority=0)
        secs.append(Section(f"{name}:missing", f"{name.capitalize()}: missing values", _missing(res, ml, name),
                            empty="No rows loaded."))
    return secs


def _reasons(res, lg, name, n_loaded):
    q = res.quarantine
    if q is None or not len(q):
        return [Text(f"{name.capitalize()}: no rows quarantined.")]
    rows_id = q["row"].astype(str) if "row" in q else pd.Series(np.arange(len(q)).astype(str))
    uniq = list(dict.fromkeys(rows_id))
    where = {r: n_loaded + i for i, r in enumerate(uniq[: lg.n_units - n_loaded])}
    out = []
    for reason, part in q.groupby(q["reason"].astype(str), sort=True):
        m = np.zeros(lg.n_units, dtype=bool)
        for r in part["row"].astype(str) if "row" in part else []:
            if r in where:
                m[where[r]] = True
        out.append([labels.label(reason), Count(lg_count(lg, f"{name}|reason|{reason}", m))])
    return [Table(f"{name.capitalize()}: quarantined rows by reason (a row can have several)", ["Reason", "Rows"], out)]


def lg_count(lg, key, m):
    lg.count(key, m)
    return key


def _missing(res, lg, name):
    d = res.data
    if not len(d):
        return []
    rows = []
    n = len(d)
    for c in d.columns:
        miss = d[c].isna().to_numpy()
        m = np.zeros(lg.n_units, dtype=bool)
        m[:n] = miss
        k = lg_count(lg, f"{name}|missing|{c}", m)
        rows.append([labels.label(c), Count(k), Derived(miss.mean(), (k,), "pct")])
    return [Table(f"{name.capitalize()}: missing values by column (loaded rows)", ["Column", "Missing values",
                                                                                 "Share missing"], rows)]


def suppressed_share(run: Run) -> dict[str, float]:
    """Share of printed count cells hidden, per page."""
    def share(sections, led_for):
        tot = hid = 0
        for s in sections:
            lg = led_for(s)
            for b in s.blocks:
                if isinstance(b, Table):
                    for k in b.count_keys():
                        tot += 1
                        hid += lg.shown(k) is None
        return hid / tot if tot else 0.0

    return {"outcomes": share(run.outcomes, lambda s: run.ledger),
            "data quality": share(run.quality, lambda s: run.ledgers.get(s.id, run.ledger))}
