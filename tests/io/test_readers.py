"""Reading sources: formats, encodings, delimiters and every unreadable-input error."""

from __future__ import annotations

import pandas as pd
import pytest

from iopstats.exceptions import IopstatsError
from iopstats.io.load import load_episodes
from iopstats.io.readers import is_missing, read_source


def test_csv_comma_reads_all_cells_as_strings(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("episode_id,age,primary_substance\ne1,034,None\ne2,,NA\n")
    raw = read_source(p)
    assert raw.frame.to_dict("list") == {"episode_id": ["e1", "e2"], "age": ["034", ""], "primary_substance": ["None", "NA"]}


def test_semicolon_delimiter_is_sniffed_and_cp1252_fallback_noted(data_dir):
    res = load_episodes(data_dir / "episodes_semicolon_latin1.csv")
    assert res.report.n_loaded == 3
    assert res.data["site"].tolist() == ["Peñasco", "Zürich", "Main"]
    assert res.report.encoding_fallback_rows == (1, 2)
    assert any("cp1252" in n and "row 1, 2" in n for n in res.report.notes)


def test_none_label_is_a_value_not_missing(data_dir):
    res = load_episodes(data_dir / "episodes_semicolon_latin1.csv")
    assert res.data["primary_substance"].tolist() == ["none", "alcohol", "none"]
    assert is_missing(pd.Series(["None", "NULL", " ", "n/a"])).tolist() == [False, True, True, True]


def test_tab_and_pipe_delimiters(tmp_path, make_episodes):
    df = make_episodes()
    for sep, ext in (("\t", "tsv"), ("|", "txt")):
        p = tmp_path / f"e.{ext}"
        df.to_csv(p, sep=sep, index=False)
        assert load_episodes(p).report.n_loaded == 5


def test_declared_wrong_encoding_raises(tmp_path, data_dir):
    with pytest.raises(IopstatsError, match="not valid utf-8 text") as ei:
        load_episodes(data_dir / "episodes_semicolon_latin1.csv", mapping={"source": {"encoding": "utf-8"}})
    assert "encoding" in ei.value.fix


def test_unknown_codec_raises(data_dir):
    with pytest.raises(IopstatsError, match="unknown text encoding"):
        load_episodes(data_dir / "episodes_semicolon_latin1.csv", mapping={"source": {"encoding": "klingon"}})


def test_missing_file_raises(tmp_path):
    with pytest.raises(IopstatsError, match="file not found"):
        load_episodes(tmp_path / "nope.csv")


def test_folder_raises(tmp_path):
    with pytest.raises(IopstatsError, match="folder"):
        load_episodes(tmp_path)


@pytest.mark.parametrize("content", [b"", b"   \n\n"])
def test_empty_file_raises(tmp_path, content):
    p = tmp_path / "e.csv"
    p.write_bytes(content)
    with pytest.raises(IopstatsError, match="empty"):
        load_episodes(p)


def test_binary_junk_raises(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(IopstatsError, match="binary|text table"):
        load_episodes(p)


def test_wrong_delimiter_gives_missing_columns_with_hint(tmp_path, make_episodes):
    p = tmp_path / "e.csv"
    make_episodes().to_csv(p, sep=";", index=False)
    with pytest.raises(IopstatsError, match="delimiter") as ei:
        load_episodes(p, mapping={"source": {"delimiter": ","}})
    assert "required episodes column(s) missing" in str(ei.value)


def test_missing_required_columns_lists_them_and_columns_found(tmp_path, make_episodes):
    p = tmp_path / "e.csv"
    make_episodes().drop(columns=["level_of_care", "admit_date"]).to_csv(p, index=False)
    with pytest.raises(IopstatsError) as ei:
        load_episodes(p)
    msg = str(ei.value)
    assert "level_of_care, admit_date" in msg and "'client_id'" in msg and "mapping" in msg


def test_unterminated_quote_raises(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text('client_id,episode_id\n"c1,e1\nc2,e2\n')
    with pytest.raises(IopstatsError, match="well-formed"):
        load_episodes(p)


def test_row_with_too_many_fields_is_quarantined(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("client_id,episode_id,level_of_care,admit_date\nc1,e1,iop,2024-01-01\nc2,e2,iop,2024-01-01,x,y\n")
    res = load_episodes(p)
    assert res.quarantine[["row", "reason", "value"]].values.tolist() == [[2, "malformed_row", "x,y"]]


def test_truncated_last_row_is_quarantined_not_raised(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("client_id,episode_id,level_of_care,admit_date\nc1,e1,iop,2024-01-01\nc2,e2")
    res = load_episodes(p)
    assert (res.report.n_loaded, res.report.n_quarantined) == (1, 1)
    assert res.quarantine["reason"].item() == "malformed_row"
    assert "2 of 4 fields" in res.quarantine["detail"].item()


def test_duplicate_header_raises(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("client_id,episode_id,episode_id,level_of_care,admit_date\nc1,e1,e1,iop,2024-01-01\n")
    with pytest.raises(IopstatsError, match="repeats a column name"):
        load_episodes(p)


def test_parquet_round_trip(tmp_path, make_episodes):
    p = tmp_path / "e.parquet"
    make_episodes().to_parquet(p)
    assert load_episodes(p).report.n_loaded == 5


def test_corrupt_parquet_raises(tmp_path):
    p = tmp_path / "e.parquet"
    p.write_bytes(b"PAR1" + b"\x00garbage" * 50)
    with pytest.raises(IopstatsError, match="Parquet"):
        load_episodes(p)


def test_excel_first_sheet_by_default(tmp_path, make_episodes):
    p = tmp_path / "e.xlsx"
    make_episodes().to_excel(p, index=False, sheet_name="Data")
    assert load_episodes(p).report.n_loaded == 5


def test_excel_wrong_sheet_lists_sheets(data_dir):
    with pytest.raises(IopstatsError) as ei:
        load_episodes(data_dir / "example_ehr.xlsx", mapping={"source": {"sheet": "Episdes"}, "drop": ["Patient Name", "SSN", "DOB"]})
    assert "['Readme', 'Episodes']" in str(ei.value)


def test_corrupt_excel_raises(tmp_path):
    p = tmp_path / "e.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(IopstatsError, match="xlsx"):
        load_episodes(p)


def test_mapping_format_contradicting_extension_is_explained(data_dir):
    with pytest.raises(IopstatsError, match=r"format is 'excel' but the file extension says 'csv'"):
        load_episodes(data_dir / "example_ehr.csv", mapping={"source": {"format": "excel"}})


@pytest.mark.parametrize("name,match", [("e.xls", "xls"), ("e.json", "format")])
def test_unsupported_extensions_raise(tmp_path, name, match):
    p = tmp_path / name
    p.write_text("x")
    with pytest.raises(IopstatsError, match=match):
        load_episodes(p)


def test_non_path_source_raises():
    with pytest.raises(IopstatsError, match="cannot read a list"):
        load_episodes([1, 2, 3])
