"""Reproducibility, canonical dtypes and codes, internal consistency, argument errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.schema import CODE_SETS, TABLES, coerce_dtypes, empty_frame
from iopstats.synthetic import SynthData, synth
from iopstats.synthetic.truth import model_matrix


def _frames(d):
    return [d.episodes, d.followups, d.sessions, d.latent]


def test_same_seed_gives_identical_frames():
    a, b = synth(800, seed=3), synth(800, seed=3)
    for x, y in zip(_frames(a), _frames(b)):
        pd.testing.assert_frame_equal(x, y)
    assert a.truth == b.truth


def test_different_seed_differs():
    a, b = synth(800, seed=3), synth(800, seed=4)
    assert not a.episodes.equals(b.episodes)
    assert (a.episodes.admit_date.to_numpy() != b.episodes.admit_date.to_numpy()).mean() > 0.5


def test_exact_number_of_episodes_and_id_formats(small):
    ep = small.episodes
    assert len(ep) == 3000
    assert ep.episode_id.is_unique
    assert ep.episode_id.str.fullmatch(r"E\d{7}").all()
    assert ep.client_id.str.fullmatch(r"C\d{6}").all()
    assert ep.client_id.nunique() < len(ep)  # clients come back


@pytest.mark.parametrize("table", ["episodes", "followups", "sessions"])
def test_canonical_columns_and_dtypes(small, table):
    df = getattr(small, table)
    ref = empty_frame(table)
    assert list(df.columns) == list(ref.columns)
    assert df.dtypes.to_dict() == ref.dtypes.to_dict()
    pd.testing.assert_frame_equal(coerce_dtypes(df, table), df)


@pytest.mark.parametrize("table", ["episodes", "followups", "sessions"])
def test_every_value_in_its_code_set(small, table):
    df = getattr(small, table)
    for col in TABLES[table]:
        if col.codes is None:
            continue
        raw = df[col.name].astype(object).dropna()
        assert set(raw) <= set(col.codes), col.name
    for col in TABLES[table]:
        if col.required:
            assert df[col.name].notna().all(), col.name


def test_covariates_complete_and_age_topcoded(small):
    ep = small.episodes
    for col in ["level_of_care", "age", "age_group", "sex", "race", "ethnicity", "primary_substance",
                "use_freq_admit", "psych_problem", "prior_treatment", "referral_source", "payer",
                "employment", "living_arrangement", "site", "program", "modality"]:
        assert ep[col].notna().all(), col
    assert ep.age.between(12, 90).all()
    big = synth(20_000, seed=1).episodes
    assert big.age.max() <= 90
    assert set(big.level_of_care.astype(str)) == set(CODE_SETS["level_of_care"])
    community = big.level_of_care.isin(["iop", "outpatient", "php"])
    assert (big.modality[community] == "virtual").mean() > 0.05
    assert (big.modality[~community & (big.level_of_care != "early_intervention")] == "in_person").all()
    assert 3 <= big.site.nunique() <= 5


def test_episode_consistency(small):
    ep = small.episodes
    closed = ep.discharge_date.notna()
    assert (ep.discharge_date[closed] >= ep.admit_date[closed]).all()
    days = (ep.discharge_date - ep.admit_date).dt.days[closed]
    assert (ep.los_days[closed] == np.maximum(days, 1)).all()
    assert (ep.los_min[closed] == ep.los_days[closed]).all() and (ep.los_max[closed] == ep.los_days[closed]).all()
    # open episodes: no reason, no stay, admitted late
    assert ep.discharge_reason[~closed].isna().all() and ep.los_days[~closed].isna().all()
    assert ep.discharge_reason[closed].notna().all()
    assert 0.02 < (~closed).mean() < 0.25
    assert ep.admit_date[~closed].median() > pd.Timestamp("2024-06-01")
    assert ep.admit_date.min() >= pd.Timestamp("2023-01-01")
    assert ep.admit_date.max() <= pd.Timestamp("2024-12-31")
    assert ep.discharge_date.max() <= pd.Timestamp("2024-12-31")
    # no use at discharge for open episodes
    assert ep.use_freq_discharge[~closed].isna().all()


def test_readmissions_ordered_per_client(small):
    ep = small.episodes.sort_values(["client_id", "admit_date"], kind="stable")
    prev_dis = ep.groupby("client_id").discharge_date.shift()
    has_prev = ep.client_id.duplicated()
    assert prev_dis[has_prev].notna().all()  # nobody is readmitted while still open
    assert (ep.admit_date[has_prev] > prev_dis[has_prev]).all()
    assert (ep.prior_treatment[has_prev] == "one_or_more").all()
    # nobody comes back after dying
    died = ep.discharge_reason == "died"
    nxt = ep.groupby("client_id").admit_date.shift(-1)
    assert nxt[died].isna().all()
    # age never falls
    assert (ep.groupby("client_id").age.diff().dropna() >= 0).all()


def test_followups_after_discharge(small):
    ep = small.episodes.set_index("episode_id")
    fu = small.followups
    assert fu.episode_id.isin(ep.index).all()
    dis = ep.discharge_date.reindex(fu.episode_id).to_numpy()
    assert pd.notna(dis).all()
    assert (fu.days_after_discharge >= 23).all()
    assert ((fu.followup_date.to_numpy() - dis) // np.timedelta64(1, "D") == fu.days_after_discharge.to_numpy()).all()
    assert (fu.followup_date <= pd.Timestamp("2024-12-31")).all()
    assert fu.any_use[~fu.responded].isna().all() and fu.any_use[fu.responded].notna().all()
    assert fu.source[~fu.responded].isna().all()
    assert set(fu.source.dropna()) == {"self_report", "urine_test"}
    assert not ep.loc[fu.episode_id.unique(), "discharge_reason"].eq("died").any()


def test_sessions_inside_episodes(small):
    ep = small.episodes.set_index("episode_id")
    s = small.sessions
    lv = ep.level_of_care.reindex(s.episode_id)
    assert set(lv.astype(str)) == {"iop", "php", "outpatient"}
    adm = ep.admit_date.reindex(s.episode_id).to_numpy()
    dis = ep.discharge_date.reindex(s.episode_id).fillna(pd.Timestamp("2024-12-31")).to_numpy()
    assert (s.session_date.to_numpy() >= adm).all() and (s.session_date.to_numpy() <= dis).all()
    assert (s.hours[~s.attended] == 0).all()
    assert (s.groupby("episode_id").size() <= 40).all()
    held = s[s.attended].assign(level=lv.to_numpy()[s.attended.to_numpy()])
    h = held.groupby("level", observed=True).hours.agg(["min", "max"])
    assert h.loc["iop"].tolist() == [3.0, 3.0] and h.loc["outpatient"].tolist() == [1.0, 1.0]
    assert h.loc["php", "min"] >= 4 and h.loc["php", "max"] <= 6
    # every community episode has its first session on the admission day
    comm = ep.index[ep.level_of_care.isin(["iop", "php", "outpatient"])]
    first = s.groupby("episode_id").session_date.min()
    assert set(first.index) == set(comm)
    assert (first == ep.admit_date.reindex(first.index)).all()


def test_attendance_declines_before_dropout(large_default):
    d = large_default
    ep = d.episodes.set_index("episode_id")
    s = d.sessions.join(ep[["discharge_date", "discharge_reason", "los_days"]], on="episode_id")
    s = s[(s.los_days >= 60)]
    to_end = (s.discharge_date - s.session_date).dt.days
    drop = s.discharge_reason == "dropped_out"
    late = s.attended[drop & (to_end <= 7)].mean()
    early = s.attended[drop & (to_end >= 30)].mean()
    comp = s.attended[(s.discharge_reason == "completed") & (to_end <= 7)].mean()
    assert late < early - 0.2 and late < comp - 0.2


def test_truth_is_json_serialisable(small):
    text = json.dumps(small.truth)
    assert json.loads(text) == small.truth
    assert small.truth["generation"]["seed"] == 7


def test_save_csv_and_parquet_round_trip(small, tmp_path):
    for fmt in ("csv", "parquet"):
        paths = small.save(tmp_path / fmt, format=fmt)
        assert sorted(paths) == ["episodes", "followups", "sessions", "truth"]
        for table in ("episodes", "followups", "sessions"):
            p = paths[table]
            back = pd.read_csv(p) if fmt == "csv" else pd.read_parquet(p)
            pd.testing.assert_frame_equal(coerce_dtypes(back, table), getattr(small, table))
        assert json.loads(paths["truth"].read_text()) == small.truth


def test_save_rejects_unknown_format(small, tmp_path):
    with pytest.raises(IopstatsError, match="format"):
        small.save(tmp_path, format="xlsx")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_episodes": 0}, "n_episodes"),
        ({"n_episodes": 2.5}, "n_episodes"),
        ({"n_episodes": True}, "n_episodes"),
        ({"seed": -1}, "seed"),
        ({"seed": "x"}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"start": "2024-01-01", "end": "2023-01-01"}, "end must be after start"),
        ({"as_of": "2024-06-01"}, "as_of"),
    ],
)
def test_bad_arguments_raise_iopstats_error(kwargs, match):
    args = {"n_episodes": 10, **kwargs}
    with pytest.raises(IopstatsError, match=match):
        synth(**args)


def test_one_episode_and_custom_dates():
    d = synth(1, seed=0, start="2020-01-01", end="2020-03-31", as_of="2021-01-01")
    assert len(d.episodes) == 1
    assert isinstance(d, SynthData)
    assert d.episodes.admit_date.between("2020-01-01", "2020-03-31").all()


def test_model_matrix_leaves_input_unchanged(small):
    ep = small.episodes.copy(deep=True)
    before = ep.copy(deep=True)
    x = model_matrix(ep)
    pd.testing.assert_frame_equal(ep, before)
    assert x.shape == (len(ep), 11)
    assert set(np.unique(x.drop(columns="age10").to_numpy())) <= {0.0, 1.0}


def test_sessions_false_leaves_other_tables_unchanged():
    a, b = synth(600, seed=9), synth(600, seed=9, sessions=False)
    assert len(b.sessions) == 0 and list(b.sessions.columns) == list(a.sessions.columns)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    pd.testing.assert_frame_equal(a.followups, b.followups)
    with pytest.raises(IopstatsError, match="sessions"):
        synth(10, sessions="yes")


def test_model_matrix_names_missing_columns(small):
    with pytest.raises(IopstatsError, match="lack columns") as err:
        model_matrix(small.episodes.drop(columns=["employment"]))
    assert err.value.column == "employment"


def test_iopstats_synth_is_callable_in_any_import_order():
    import subprocess
    import sys

    code = (
        "import iopstats\n"
        "a = iopstats.synth(20, seed=1)\n"
        "b = iopstats.synth(20, seed=1)\n"
        "import iopstats.synthetic.truth\n"
        "from iopstats import synth\n"
        "c = synth(n_episodes=20, seed=1)\n"
        "assert a.episodes.equals(b.episodes) and a.episodes.equals(c.episodes)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
