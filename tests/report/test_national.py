"""The nightly report at national scale: Parquet source on the pandas and Dask engines (issue 6, section 3).

A small partitioned dataset (synthetic TEDS-D, two discharge years, one of them
small so that some level x year cells must be suppressed) is reported through
``iopstats report`` with a Parquet config on both engines. The Dask run uses the
default LocalCluster of 2 worker processes.
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from iopstats.cli import build_parser, main
from iopstats.exceptions import IopstatsError
from iopstats.report import privacy, tables
from iopstats.report.config import (
    PARQUET_NOTEBOOKS,
    ReportConfig,
    dataset_fingerprint,
    dataset_years,
    load_config,
)
from iopstats.report.nightly import EXIT_FAILED, EXIT_OK, notebook_path, run_reports
from tests.report.html_pages import html_tables, strip_images

REPO = Path(__file__).resolve().parents[2]
YEARS = {2018: 400, 2019: 3000}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    """write_tedsd_csv -> read_tedsd -> write_episodes_parquet, two discharge years."""
    from iopstats.io.parquet import write_episodes_parquet
    from iopstats.io.tedsd import read_tedsd
    from iopstats.synthetic.tedsd import write_tedsd_csv

    root = tmp_path_factory.mktemp("national")
    path = root / "episodes.parquet"
    loaded = 0
    for year, n in YEARS.items():
        csv = write_tedsd_csv(root / f"tedsd_{year}.csv", n=n, year=year, seed=year)
        res = read_tedsd(csv, year=year)
        loaded += len(res.data)
        write_episodes_parquet(res.data, path)
    return {"path": path, "loaded": loaded, "root": root}


def _config(root: Path, name: str, dataset_path: Path, engine: str) -> Path:
    cfg = root / f"{name}.toml"
    cfg.write_text(f'[data]\nparquet = "{dataset_path}"\ndata_engine = "{engine}"\n\n'
                   f'[run]\nout = "{root / name}"\ncell_timeout = 300\n')
    return cfg


@pytest.fixture(scope="module")
def runs(dataset) -> dict:
    """`iopstats report --config` with a Parquet config, once per engine."""
    out = {}
    for engine in ("pandas", "dask"):
        cfg = _config(dataset["root"], f"reports_{engine}", dataset["path"], engine)
        code = main(["report", "--config", str(cfg), "--quiet"])
        out[engine] = {"code": code, "out": dataset["root"] / f"reports_{engine}"}
    return out


def _tables(page: Path) -> list[dict]:
    return html_tables(page.read_text(encoding="utf-8"))


def _text(page: Path) -> str:
    text = strip_images(page.read_text(encoding="utf-8"))
    return re.sub(r"<style.*?</style>", "", text, flags=re.S | re.I)


def _private_run(out: Path) -> Path:
    """The current run's private folder (``<out>.private/runs/<id>``: full manifest, executed notebook)."""
    return out.parent / f"{out.name}.private" / "runs" / (out / "current").resolve().name


def _manifest(out: Path) -> dict:
    return json.loads((_private_run(out) / "manifest.json").read_text())


# ----------------------------------------------------------------------------- runs


def test_parquet_report_publishes_on_pandas_and_dask(runs):
    for engine, run in runs.items():
        assert run["code"] == EXIT_OK, (engine, json.dumps(_last_manifest(run["out"]), default=str)[:2000])
        out = run["out"]
        assert (out / "current").is_symlink()
        current = out / "current"
        assert (current / "national_headline.html").exists() and (_private_run(out) / "national_headline.ipynb").exists()
        assert not list(out.rglob("*.ipynb"))  # executed notebooks are private
        assert not (current / "iop_outcomes.html").exists()  # the row-level notebooks are not run
        index = (out / "index.html").read_text()
        assert "current/national_headline.html" in index and "National headline report" in index
        assert not list(out.glob(".tmp-*"))


def _last_manifest(out: Path) -> dict:
    runs_dir = out / "runs"
    last = sorted(runs_dir.iterdir())[-1] if runs_dir.is_dir() and any(runs_dir.iterdir()) else None
    return json.loads((last / "manifest.json").read_text()) if last else {}


def test_dask_and_pandas_reports_have_identical_tables(runs):
    pages = {e: r["out"] / "current" / "national_headline.html" for e, r in runs.items()}
    t_pd, t_dk = _tables(pages["pandas"]), _tables(pages["dask"])
    assert len(t_pd) >= 6
    assert t_pd == t_dk
    # not only the tables: every word and number of the page (figures aside) is the same
    assert _text(pages["pandas"]) == _text(pages["dask"])
    heads = [t["headers"] for t in t_pd]
    assert ["level", "2018", "2019", "all years"] in heads
    assert any("hazard_ratio" in h and "adj_odds_ratio" in h for h in heads)
    assert any("risk_difference" in h for h in heads)
    assert ["statistic", "df", "p_value"] in heads


def test_privacy_scan_passes_no_small_counts_in_tables(runs):
    count_heads = {"n", "events", "all years", "2018", "2019"}
    for run in runs.values():
        page = run["out"] / "current" / "national_headline.html"
        checked = 0
        for table in _tables(page):
            for row in table["rows"]:
                for head, cell in zip(table["headers"], row):
                    if head in count_heads and re.fullmatch(r"[\d,]+", cell):
                        v = int(cell.replace(",", ""))
                        assert v == 0 or v >= 11, (table["headers"], row)
                        checked += 1
        assert checked > 30
        text = _text(page)
        assert "&lt;11" in text and html.escape(privacy.footnote(11), quote=False) in text  # small 2018 cells
        assert not privacy.find_identifiers(re.sub(r"<[^>]+>", " ", text),
                                            kinds=("ssn", "email", "phone", "exact_date", "url"))
        assert "<script" not in text.lower()
        # plain-language statements of estimand, method and assumptions, with the TEDS caveats
        for phrase in ("Wilson", "Newcombe", "Cox proportional hazards", "no unmeasured confounding",
                       "episodes, not people", "Dates are nominal", "binned", "Kaplan-Meier"):
            assert phrase in text, phrase


def test_cohort_table_counts_by_year_add_up_to_rows_counted(runs, dataset):
    page = runs["dask"]["out"] / "current" / "national_headline.html"
    table = next(t for t in _tables(page) if t["headers"][:1] == ["level"] and "all years" in t["headers"])
    total = sum(int(r[-1].replace(",", "")) for r in table["rows"] if re.fullmatch(r"[\d,]+", r[-1]))
    assert total == dataset["loaded"]  # no level is small over both years


def test_manifest_records_engine_scheduler_dataset_and_rows(runs, dataset):
    files = sorted((p.relative_to(dataset["path"]).as_posix(), p.stat().st_size)
                   for p in dataset["path"].rglob("*.parquet"))
    listing = "".join(f"{rel}\t{size}\n" for rel, size in files)
    for engine, run in runs.items():
        m = _manifest(run["out"])
        assert m["status"] == "ok" and m["source"] == "parquet"
        assert m["data_engine"] == engine
        if engine == "dask":
            assert "LocalCluster" in m["scheduler"]
        else:
            assert m["scheduler"] is None
        assert m["dataset"]["path"] == str(dataset["path"].resolve())
        assert m["dataset"]["files"] == len(files) == 2
        assert m["dataset"]["bytes"] == sum(s for _, s in files)
        assert m["dataset"]["sha256"] == hashlib.sha256(listing.encode()).hexdigest()
        assert m["rows"]["episodes"]["counted"] == dataset["loaded"]
        assert 0 < m["rows"]["episodes"]["patterns"] <= dataset["loaded"]
        assert m["reports"] == ["national_headline.html"]
        assert m["packages"]["dask"]
        assert m["notebook_data"]["national_headline"]["years"] == sorted(YEARS)


# ----------------------------------------------------------------------------- the notebook


def _code_names(nb) -> set[str]:
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.update(node.name.split("."))
                if node.asname:
                    names.add(node.asname)
    return names


def test_national_notebook_never_loads_episode_rows():
    nb = nbformat.read(notebook_path("national_headline"), as_version=4)
    names = _code_names(nb)
    assert "headline_from_parquet" in names
    forbidden = {"read_episodes_parquet", "load_episodes", "build_outcomes", "load_inputs", "read_tedsd",
                 "read_parquet", "read_csv", "headline_counts", "load_ctn0094", "compute", "persist"}
    assert not names & forbidden, names & forbidden
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "iopstats.io" not in source and "dask.dataframe" not in source


def test_scanner_catches_a_notebook_that_loads_rows():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from iopstats.io.parquet import read_episodes_parquet as r\nx = r('d')")]
    assert "read_episodes_parquet" in _code_names(nb)


@pytest.mark.parametrize("name", PARQUET_NOTEBOOKS)
def test_national_notebook_matches_repo_copy_has_no_outputs_and_parameters(name):
    shipped = notebook_path(name)
    assert shipped.read_bytes() == (REPO / "notebooks" / f"{name}.ipynb").read_bytes()
    nb = nbformat.read(shipped, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, re.M))
    assert names == set(ReportConfig(source="parquet", parquet="x").notebook_parameters()) | {"summary_path"}


# ----------------------------------------------------------------------------- configuration and CLI


def test_parquet_config_round_trip(tmp_path):
    (tmp_path / "ds").mkdir()
    f = tmp_path / "r.toml"
    f.write_text('[data]\nsource = "parquet"\nparquet = "ds"\ndata_engine = "dask"\n'
                 'scheduler = "tcp://10.1.2.3:8786"\nyears = [2019, 2020]\n[analysis]\nadjust = ["sex"]\n')
    cfg = load_config(f)
    assert cfg.parquet == str(tmp_path / "ds") and cfg.data_engine == "dask"
    assert cfg.scheduler == "tcp://10.1.2.3:8786" and cfg.years == (2019, 2020)
    assert cfg.notebooks == ("national_headline",) and cfg.adjust == ("sex",)
    p = cfg.notebook_parameters()
    assert p["data_engine"] == "dask" and p["years"] == [2019, 2020] and p["scheduler"] == "tcp://10.1.2.3:8786"
    # source is implied by the parquet key; engine defaults to pandas and adjust to the headline covariates
    f.write_text('[data]\nparquet = "ds"\n')
    cfg = load_config(f)
    assert cfg.source == "parquet" and cfg.data_engine == "pandas" and "race" in cfg.adjust


@pytest.mark.parametrize("text, match", [
    ('[data]\nsource = "parquet"\n', "no Parquet dataset"),
    ('[data]\nparquet = "d"\ndata_engine = "spark"\n', "unknown data engine"),
    ('[data]\nepisodes = "e.csv"\ndata_engine = "dask"\n', "Dask engine reads a Parquet"),
    ('[data]\nparquet = "d"\ndata_engine = "dask"\nscheduler = "localhost:8786"\n', "address of a Dask scheduler"),
    ('[data]\nparquet = "d"\nscheduler = "tcp://h:8786"\n', "scheduler is for the Dask engine"),
    ('[data]\nparquet = "d"\nyears = 2019\n', "list of discharge years"),
    ('[data]\nparquet = "d"\nyears = [2019, 2019]\n', "listed twice"),
    ('[data]\nparquet = "d"\nyears = ["2019"]\n', "list of discharge years"),
    ('[data]\nepisodes = "e.csv"\nyears = [2019]\n', "partitions of a Parquet"),
    ('[data]\nparquet = "d"\n[analysis]\nperiod_start = "2019-01"\n', "not admission month"),
    ('[data]\nparquet = "d"\n[analysis]\nadjust = ["age"]\n', "canonical categorical"),
    ('[data]\nparquet = "d"\n[run]\nnotebooks = ["iop_outcomes"]\n', "needs episode rows"),
    ('[data]\nepisodes = "e.csv"\n[run]\nnotebooks = ["national_headline"]\n', "reads a Parquet dataset"),
])
def test_bad_parquet_config_gives_clear_error(tmp_path, text, match):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(IopstatsError, match=match) as info:
        load_config(f)
    assert info.value.fix  # every error says what to do


def test_cli_flags_build_a_parquet_config(tmp_path, monkeypatch):
    import iopstats.report.nightly as nightly

    args = build_parser().parse_args(["report", "--parquet", "ds", "--data-engine", "dask", "--scheduler",
                                      "tcp://h:8786", "--years", "2018", "2019", "--out", str(tmp_path / "o")])
    assert (args.parquet, args.data_engine, args.scheduler, args.years) == ("ds", "dask", "tcp://h:8786", [2018, 2019])
    seen = {}

    def fake_run(cfg, echo=None):
        seen["cfg"] = cfg
        return nightly.RunOutcome(EXIT_OK, "ok", tmp_path, {"status": "ok"})

    monkeypatch.setattr(nightly, "run_reports", fake_run)
    assert args._run(args) == EXIT_OK
    cfg = seen["cfg"]
    assert (cfg.source, cfg.parquet, cfg.data_engine, cfg.scheduler, cfg.years) == (
        "parquet", "ds", "dask", "tcp://h:8786", (2018, 2019))
    assert cfg.notebooks == ("national_headline",) and "race" in cfg.adjust


def test_cli_scheduler_without_dask_exits_2(capsys):
    assert main(["report", "--parquet", "ds", "--scheduler", "tcp://h:8786"]) == 2
    assert "Dask engine" in capsys.readouterr().err


def test_missing_dataset_or_year_fails_run_and_keeps_nothing_published(tmp_path, dataset):
    out = tmp_path / "reports"
    res = run_reports(ReportConfig(source="parquet", parquet=str(tmp_path / "nope"), out=str(out)), echo=None)
    assert res.exit_code == EXIT_FAILED and "Parquet dataset not found" in res.manifest["error"]
    res = run_reports(ReportConfig(source="parquet", parquet=str(dataset["path"]), years=(2017,), out=str(out)),
                      echo=None)
    assert res.exit_code == EXIT_FAILED and "not in the Parquet dataset" in res.manifest["error"]
    assert "2018" in res.manifest["error"]
    assert not (out / "current").exists()


# ----------------------------------------------------------------------------- dataset helpers and tables


def test_dataset_fingerprint_follows_file_list_and_sizes(tmp_path):
    d = tmp_path / "ds"
    (d / "discharge_year=2019").mkdir(parents=True)
    (d / "discharge_year=2019" / "part-0.parquet").write_bytes(b"x" * 10)
    (d / "_years.done").write_bytes(b"")
    fp = dataset_fingerprint(d)
    assert fp["sha256"] == hashlib.sha256(b"discharge_year=2019/part-0.parquet\t10\n").hexdigest()
    (d / "discharge_year=2020").mkdir()
    (d / "discharge_year=2020" / "part-0.parquet").write_bytes(b"y" * 3)
    assert dataset_fingerprint(d)["sha256"] != fp["sha256"]
    assert dataset_years(d) == [2019, 2020]
    (tmp_path / "empty").mkdir()
    with pytest.raises(IopstatsError, match="no .parquet files"):
        dataset_fingerprint(tmp_path / "empty")


def _rows(m: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"level_of_care": rng.choice(["iop", "outpatient", "inpatient"], m, p=[0.4, 0.5, 0.1]),
                         "time": rng.integers(1, 120, m).astype(float),
                         "event": rng.integers(0, 2, m)})


def test_km_curve_and_at_risk_from_table_match_row_level():
    from iopstats.stats.counts import collapse
    from iopstats.stats.kaplan_meier import kaplan_meier

    rows = _rows()
    before = rows.copy()
    km = kaplan_meier(rows, "time", "event", by="level_of_care")
    times = [0, 10, 30, 60, 90, 119, 200]
    got = tables.km_at_risk_from_table(km.table, times)
    want = tables.at_risk_table(rows, "time", "level_of_care", times)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    curve = tables.km_curve_from_table(km.table)
    want_curve = tables.truncate_curve(km.table, rows, "time", "level_of_care")
    pd.testing.assert_frame_equal(curve, want_curve[curve.columns].reset_index(drop=True))
    assert (curve.groupby("group")["time"].max() < 119).any()  # truncation happened
    # a collapsed count table gives the same curve and numbers at risk (weights = counts)
    counts = collapse(rows, ["level_of_care", "time", "event"], name="n")
    kmw = kaplan_meier(counts, "time", "event", by="level_of_care", weights="n")
    pd.testing.assert_frame_equal(tables.km_at_risk_from_table(kmw.table, times), got)
    pd.testing.assert_frame_equal(tables.km_curve_from_table(kmw.table), curve, check_dtype=False)
    pd.testing.assert_frame_equal(rows, before)


def test_cohort_year_table_suppresses_small_cells_with_complements():
    c = pd.DataFrame({"level": ["iop", "iop", "op", "op", "res", "res"], "year": [2018, 2019] * 3,
                      "n": [50, 60, 70, 5, 40, 45]})
    before = c.copy()
    t = tables.cohort_year_table(c)
    assert t.summary.columns.tolist() == ["level", "2018", "2019", "all years"]
    assert t.summary.loc[1, "2019"] == "<11"
    assert (t.summary == "<11").sum().sum() >= 4  # op row and the 2019 column each lose a second cell
    assert t.summary["all years"].tolist() == ["110", "75", "85"]
    assert t.any_suppressed and html.escape(privacy.footnote(11), quote=False) in t.to_html()
    pd.testing.assert_frame_equal(c, before)


def test_describe_ratio_states_estimand_method_and_suppression():
    row = {"level": "outpatient", "adj_odds_ratio": 0.8, "adj_or_ci_low": 0.7, "adj_or_ci_high": 0.95}
    text = tables.describe_ratio(row, estimand="Odds ratio of completion",
                                 keys=("adj_odds_ratio", "adj_or_ci_low", "adj_or_ci_high"),
                                 adjusted_for=["age_group"], method="logistic regression")
    assert text.startswith("Odds ratio of completion, IOP / outpatient (adjusted for age group; logistic regression)")
    assert "0.80 (95% interval 0.70 to 0.95)" in text
    hidden = tables.describe_ratio({**row, "adj_odds_ratio": None}, estimand="Odds ratio of completion",
                                   keys=("adj_odds_ratio", "adj_or_ci_low", "adj_or_ci_high"))
    assert "not shown" in hidden and "0.8" not in hidden



# ----------------------------------------------------------------------------- SAMHSA discharge table (issue 10)


def _episodes(spec):
    """Episodes from {(level, reason): [los, ...]}."""
    rows = [(lv, rs, lo) for (lv, rs), stays in spec.items() for lo in stays]
    df = pd.DataFrame(rows, columns=["level_of_care", "discharge_reason", "los_min"])
    df["los_max"] = df["los_min"]
    return df


def test_national_table_row_percentages_and_medians_by_hand():
    from iopstats.compare.national_table import national_discharge_table

    ep = _episodes({
        ("iop", "completed"): [50.0] * 30, ("iop", "transferred"): [20.0] * 20,
        ("iop", "dropped_out"): [10.0] * 25, ("iop", "terminated"): [12.0] * 15,
        ("iop", "incarcerated"): [5.0] * 6, ("iop", "died"): [5.0] * 2, ("iop", "other"): [5.0] * 4,
        ("detox_residential", "completed"): [4.0] * 40, ("detox_ambulatory", "completed"): [6.0] * 20,
        ("detox_inpatient", "dropped_out"): [2.0] * 40, ("php", "completed"): [9.0] * 50,
    })
    before = ep.copy()
    t = national_discharge_table(ep)
    pd.testing.assert_frame_equal(ep, before)  # caller's frame untouched
    s = t.summary.set_index("Service")
    assert list(s.index) == ["Intensive outpatient", "Detoxification"]  # PHP is not a TEDS setting
    iop = s.loc["Intensive outpatient"]
    assert iop["Discharges"] == "102"
    assert [iop[c] for c in ("Completed", "Transferred", "Dropped out", "Terminated", "Other")] == [
        round(100 * 30 / 102, 1), round(100 * 20 / 102, 1), round(100 * 25 / 102, 1), round(100 * 15 / 102, 1),
        round(100 * 12 / 102, 1)]  # other = incarcerated 6 + death 2 + other 4
    # 102 stays sorted: 12 of 5 days, 25 of 10, 15 of 12, 20 of 20, 30 of 50 -> the 51st and 52nd are 12 days
    assert iop["Median LOS, all"] == 12.0 and iop["Median LOS, completed"] == 50.0
    assert iop["Median LOS, other"] == 5.0
    detox = s.loc["Detoxification"]
    assert detox["Discharges"] == "100" and detox["Completed"] == 60.0 and detox["Dropped out"] == 40.0
    assert detox["Median LOS, all"] == 4.0  # 40 of 2 days, 40 of 4, 20 of 6
    assert detox["Transferred"] == 0.0 and pd.isna(detox["Median LOS, transferred"])


def test_national_table_binned_median_is_the_bin():
    from iopstats.compare.national_table import national_discharge_table

    ep = pd.DataFrame({"level_of_care": ["outpatient"] * 30, "discharge_reason": ["completed"] * 30,
                       "los_min": [5.0] * 10 + [60.0] * 20, "los_max": [5.0] * 10 + [89.0] * 20})
    assert national_discharge_table(ep).summary.loc[0, "Median LOS, all"] == "60-89"


def test_national_table_never_shows_a_small_count_or_lets_one_be_derived():
    from iopstats.compare.national_table import REASON_COLUMNS, national_discharge_table

    rng = np.random.default_rng(5)
    levels = ["outpatient", "iop", "residential_short", "residential_long", "inpatient", "detox_residential"]
    reasons = ["completed", "transferred", "dropped_out", "terminated", "other"]
    for trial in range(40):
        n = int(rng.integers(5, 400))
        ep = pd.DataFrame({"level_of_care": rng.choice(levels, n, p=[.5, .2, .12, .1, .03, .05]),
                           "discharge_reason": rng.choice(reasons, n, p=[.45, .15, .25, .1, .05]),
                           "los_min": rng.integers(1, 30, n).astype(float)})
        ep["los_max"] = ep["los_min"]
        t = national_discharge_table(ep)
        counts = t.counts
        for _, row in t.summary.iterrows():
            c = counts.loc[row["Service"]]
            total = int(c.sum())
            if total < 11:
                assert (row.drop("Service") == "<11").all()
                continue
            hidden = [col for col in REASON_COLUMNS if row[col] == "<11"]
            for col in REASON_COLUMNS:
                if col not in hidden:
                    assert c[col] == 0 or c[col] >= 11, (trial, row["Service"], col)
            if hidden and len(hidden) < len(REASON_COLUMNS):
                # at least two hidden besides completions (published by level elsewhere), summing to 11 or
                # more: none can be worked out from n, even knowing the completions
                assert "Completed" not in hidden, (trial, row["Service"])
                assert len(hidden) >= 2 and sum(c[h] for h in hidden) >= 11, (trial, row["Service"])
    with pytest.raises(IopstatsError, match="threshold"):
        national_discharge_table(ep, threshold=5)


def test_national_table_from_a_tedsd_file_in_the_layout_of_table_2_5(tmp_path):
    """A synthetic year calibrated to TEDS 2004 Table 2.5 is reproduced within sampling and case-mix noise."""
    from iopstats.compare.national_table import national_discharge_table, national_table_from_parquet
    from iopstats.io.parquet import write_episodes_parquet
    from iopstats.io.tedsd import read_tedsd
    from iopstats.synthetic.tedsd import write_tedsd_csv

    ep = read_tedsd(write_tedsd_csv(tmp_path / "t.csv", n=60_000, year=2019, seed=10)).data
    t = national_discharge_table(ep)
    s = t.summary.set_index("Service")
    table_2_5 = {  # completed, transferred, dropped out, terminated, other (row %, DOMAIN.md)
        "Outpatient": (36.4, 11.7, 27.2, 10.5, 14.2), "Intensive outpatient": (37.7, 17.9, 23.2, 14.0, 7.2),
        "Short-term residential": (61.5, 14.3, 14.1, 6.3, 3.9), "Long-term residential": (42.9, 12.5, 28.1, 7.7, 8.8),
    }
    for svc, ref in table_2_5.items():
        got = [s.loc[svc, c] for c in ("Completed", "Transferred", "Dropped out", "Terminated", "Other")]
        assert np.allclose(got, ref, atol=5.0), (svc, got, ref)  # the writer lowers completion with severity
        assert abs(sum(got) - 100) < 0.3
    assert list(s.columns[:6]) == ["Discharges", "Completed", "Transferred", "Dropped out", "Terminated", "Other"]
    # the Parquet path gives the identical table from a collapsed count table
    write_episodes_parquet(ep, tmp_path / "ds")
    pd.testing.assert_frame_equal(national_table_from_parquet(tmp_path / "ds").summary, t.summary)


def test_national_report_has_the_discharge_table_section(runs):
    for run in runs.values():
        page = run["out"] / "current" / "national_headline.html"
        text = _text(page)
        assert "Reason for discharge by type of service" in text and "Table 2.5" in text
        table = next(t for t in _tables(page) if t["headers"][:2] == ["Service", "Discharges"])
        assert {r[0] for r in table["rows"]} >= {"Outpatient", "Intensive outpatient"}
        for row in table["rows"]:
            cell = row[1]
            assert cell == "<11" or int(cell.replace(",", "")) >= 11
