"""TOML mappings: parsing, self-checks, application, the shipped example."""

from __future__ import annotations

import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.load import load_episodes, load_sessions
from iopstats.io.mapping import MAPPINGS_DIR, read_mapping

EHR = MAPPINGS_DIR / "example_ehr.toml"


def _src():
    return pd.DataFrame({"Enc": ["e1", "e2"], "Pt": ["c1", "c2"], "Lvl": ["IOP", "3.7-WM"],
                         "Adm": ["01/02/2024", "01/03/2024"]})


def _map(**extra):
    m = {"columns": {"episode_id": "Enc", "client_id": "Pt", "level_of_care": "Lvl", "admit_date": "Adm"},
         "codes": {"level_of_care": {"crosswalk": "asam3", "IOP": "iop"}}, "dates": {"format": "%m/%d/%Y"}}
    m.update(extra)
    return m


def test_mapping_renames_maps_codes_and_parses_dates():
    res = load_episodes(_src(), _map())
    assert res.data["level_of_care"].tolist() == ["iop", "detox_residential"]
    assert res.data["admit_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2024-01-03"]


@pytest.mark.parametrize("system,code,level", [("asam3", "2.5", "php"), ("asam4", "2.7", "iop"), ("teds", "6", "iop"),
                                                ("teds", "7.0", "outpatient")])
def test_crosswalk_option(system, code, level):
    src = _src().assign(Lvl=[code, code])
    m = _map(codes={"level_of_care": {"crosswalk": system}})
    assert load_episodes(src, m).data["level_of_care"].tolist() == [level, level]


def test_code_lookup_case_insensitive_and_empty_target_means_missing():
    src = _src().assign(sex=["M", "unknown"])
    m = _map()
    m["codes"]["sex"] = {"m": "male", "Unknown": ""}
    assert load_episodes(src, m).data["sex"].tolist()[0] == "male"
    assert pd.isna(load_episodes(src, m).data["sex"].tolist()[1])


def test_constants_fill_every_row():
    res = load_episodes(_src(), _map(constants={"program": "Main St IOP", "modality": "virtual"}))
    assert res.data["program"].tolist() == ["Main St IOP"] * 2
    assert res.data["modality"].tolist() == ["virtual"] * 2


def test_day_offset_dates_and_nominal_calendar_note():
    src = pd.DataFrame({"episode_id": ["e1"], "client_id": ["c1"], "level_of_care": ["iop"],
                        "admit_date": ["3"], "discharge_date": ["45"], "discharge_reason": ["completed"]})
    res = load_episodes(src, {"dates": {"kind": "day_offset", "anchor_date": "2000-01-01"}})
    assert str(res.data["admit_date"].item().date()) == "2000-01-04"
    assert res.data["los_days"].item() == 42
    assert any("nominal calendar" in n for n in res.report.notes)


def test_mapping_as_of_controls_future_date():
    src = _src()
    res = load_episodes(src, _map(as_of="2024-01-02"))
    assert res.quarantine["reason"].tolist() == ["future_date"]


@pytest.mark.parametrize(
    "bad,key",
    [
        ({"columns": {"episode": "Enc"}}, "columns.episode"),
        ({"colums": {}}, "colums"),
        ({"codes": {"level_of_care": {"IOP": "intensive"}}}, "codes.level_of_care.IOP"),
        ({"codes": {"level_of_care": {"crosswalk": "asam5"}}}, "codes.level_of_care.crosswalk"),
        ({"codes": {"sex": {"crosswalk": "asam3"}}}, "codes.sex.crosswalk"),
        ({"codes": {"site": {"A": "b"}}}, "codes.site"),
        ({"codes": {"psych_problem": {"Y": "maybe"}}}, "codes.psych_problem.Y"),
        ({"dates": {"format": "mm/dd/yyyy"}}, "dates.format"),
        ({"dates": {"kind": "day_offset"}}, "dates.anchor_date"),
        ({"dates": {"kind": "weeks"}}, "dates.kind"),
        ({"constants": {"level_of_care": "IOP"}}, "constants.level_of_care"),
        ({"table": "sessions"}, "table"),
        ({"drop": "SSN"}, "drop"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"source": {"format": "json"}}, "source.format"),
    ],
)
def test_bad_mapping_raises_naming_key(bad, key):
    with pytest.raises(IopstatsError) as ei:
        read_mapping(bad, "episodes")
    assert ei.value.column == key
    assert ei.value.file == "<dict>" and ei.value.fix


def test_source_column_not_in_file_raises_naming_mapping_file(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text('[columns]\nepisode_id = "EncounterID"\n')
    with pytest.raises(IopstatsError) as ei:
        load_episodes(_src(), p)
    assert ei.value.file == str(p) and ei.value.column == "columns.episode_id"
    assert "'Enc'" in ei.value.fix


def test_mapped_and_constant_same_column_raises():
    with pytest.raises(IopstatsError, match="both mapped and constant"):
        read_mapping({"columns": {"site": "S"}, "constants": {"site": "x"}}, "episodes")


def test_invalid_toml_and_missing_mapping_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[columns\nx = 1")
    with pytest.raises(IopstatsError, match="not valid TOML"):
        read_mapping(p, "episodes")
    with pytest.raises(IopstatsError, match="mapping file not found"):
        read_mapping(tmp_path / "none.toml", "episodes")


def test_boolean_code_table_for_sessions():
    src = pd.DataFrame({"enc": ["e1", "e1", "e1"], "d": ["2024-01-02"] * 3, "status": ["Show", "No Show", "Cancelled"]})
    m = {"columns": {"episode_id": "enc", "session_date": "d", "attended": "status"},
         "codes": {"attended": {"Show": "yes", "No Show": "no"}}}
    res = load_sessions(src, m)
    assert res.data["attended"].tolist() == [True, False]
    assert res.quarantine[["reason", "value"]].values.tolist() == [["unknown_code", "Cancelled"]]


def test_example_ehr_mapping_on_excel_fixture(data_dir):
    res = load_episodes(data_dir / "example_ehr.xlsx", EHR)
    q = res.quarantine.set_index("row")
    assert q["reason"].to_dict() == {5: "discharge_before_admission", 6: "unknown_code",
                                     7: "unparseable_date", 8: "duplicate_episode_id"}
    d = res.data.set_index("episode_id")
    assert d.loc["E002", "age"] == 90  # 92 top-coded
    assert d.loc["E003", "level_of_care"] == "detox_residential"  # via asam3 crosswalk
    assert d.loc["E009", "discharge_reason"] == "other"  # "Unknown" -> missing -> other
    assert pd.isna(d.loc["E004", "discharge_date"]) and pd.isna(d.loc["E004", "discharge_reason"])
    assert set(d["program"]) == {"Main St IOP"}
    assert res.report.dropped_columns == ("Patient Name", "SSN", "DOB")
    assert "Patient Name" not in res.quarantine.columns and "SSN" not in res.quarantine.columns


def test_example_ehr_csv_gives_same_data_as_excel(data_dir):
    m = read_mapping(EHR, "episodes")
    csv_map = {"drop": list(m.drop), "as_of": "2024-12-31", "columns": m.columns, "codes": {**m.codes},
               "dates": {"format": m.dates.format}, "constants": m.constants}
    csv_map["codes"]["level_of_care"] = {**m.codes["level_of_care"], "crosswalk": m.crosswalk}
    a = load_episodes(data_dir / "example_ehr.csv", csv_map)
    b = load_episodes(data_dir / "example_ehr.xlsx", EHR)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.quarantine["reason"].tolist() == b.quarantine["reason"].tolist()


@pytest.mark.parametrize("path", sorted(MAPPINGS_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_mapping_parses(path):
    import tomllib

    table = tomllib.loads(path.read_text())["table"]
    assert read_mapping(path, table).table == table


def test_typed_excel_dates_accepted_with_text_date_format(tmp_path):
    src = _src().assign(Adm=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    p = tmp_path / "typed.xlsx"
    src.to_excel(p, index=False)
    res = load_episodes(p, _map())  # [dates] format = "%m/%d/%Y"
    assert res.data["admit_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-02", "2024-01-03"]


# Regression: sections that are not tables (easy to write in TOML: codes = "x") raised a bare
# AttributeError; a non-string top-level key raised TypeError while sorting the unknown keys.
@pytest.mark.parametrize(
    "bad,key",
    [
        ({"codes": "level_of_care"}, "codes"),
        ({"constants": "Main St"}, "constants"),
        ({"columns": ["Enc"]}, "columns"),
        ({"dates": "%m/%d/%Y"}, "dates"),
        ({"source": "csv"}, "source"),
        ({1: "x", "colums": {}}, "1"),
        ({"constants": {"site": {"name": "Main St"}}}, "constants.site"),
        ({"columns": {"site": ""}}, "columns.site"),
        ({"source": {"sheet": 2}}, "source.sheet"),
    ],
)
def test_malformed_mapping_sections_raise_iopstats_error(bad, key):
    with pytest.raises(IopstatsError) as ei:
        read_mapping(bad, "episodes")
    assert ei.value.column == key and ei.value.fix


def test_malformed_toml_sections_raise_iopstats_error(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('codes = "level_of_care"\n')
    with pytest.raises(IopstatsError, match=r"\[codes\] must be a table"):
        load_episodes(_src(), p)


def test_unreadable_mapping_file_raises_iopstats_error(tmp_path, monkeypatch):
    from pathlib import Path

    p = tmp_path / "m.toml"
    p.write_text("[columns]\n")

    def denied(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(IopstatsError, match="cannot read the mapping: Permission denied"):
        read_mapping(p, "episodes")


def test_empty_source_option_still_means_default():
    assert read_mapping({"source": {"delimiter": ""}}, "episodes").source == {"delimiter": ""}
