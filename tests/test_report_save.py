"""ecglib.report.save: de-identified tables, plain JSON, figures as PNG and PDF."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from ecglib.paths import RunPaths
from ecglib.report import save as results


def test_saving_refuses_identifiers_and_writes_plain_numbers(tmp_path):
    with pytest.raises(ValueError, match="patient_id"):
        results.save_table(pd.DataFrame({"patient_id": ["P1"], "auc": [0.7]}), tmp_path, "t")
    with pytest.raises(ValueError, match="when"):
        results.save_table(pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}), tmp_path, "t")
    with pytest.raises(ValueError, match="ccta_id"):
        results.check_deidentified(pd.DataFrame({"x": [1]}, index=pd.Index(["C1"], name="ccta_id")))
    path = results.save_json({"a": np.float64(0.5), "b": math.nan, "c": np.int64(3)}, tmp_path, "n")
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": 3}


def test_save_dispatches_by_type(tmp_path):
    paths = RunPaths(tmp_path)
    written = results.save(pd.DataFrame({"vessel": ["RCA"], "auc": [0.7]}), paths, "table")
    assert written == [paths.metrics / "table.csv"]
    assert pd.read_csv(paths.metrics / "table.csv").columns.tolist() == ["vessel", "auc"]
    indexed = pd.DataFrame({"auc": [0.7]}, index=pd.Index(["RCA"], name="vessel"))
    results.save(indexed, paths, "indexed")
    assert pd.read_csv(paths.metrics / "indexed.csv").columns.tolist() == ["vessel", "auc"]
    results.save({"x": 1}, paths, "numbers")
    assert json.loads((paths.metrics / "numbers.json").read_text()) == {"x": 1}
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    written = results.save(fig, paths, "figure")
    assert (paths.figures / "figure.png").exists() and (paths.figures / "figure.pdf").exists()
    assert {p.name for p in written} == {"figure.png", "figure.pdf"}
    with pytest.raises(TypeError):
        results.save(3, paths, "three")


def test_download_links_point_from_the_book_root_to_the_saved_files(tmp_path, monkeypatch):
    book = tmp_path / "_build" / "ci-book"
    files = [tmp_path / "runs" / "ci" / "metrics" / "auc.csv", tmp_path / "runs" / "x.pdf"]
    monkeypatch.setenv(results.BOOK_ROOT_ENV, str(book))
    assert results.download_links(files) == (
        "Download: {download}`auc.csv </../../runs/ci/metrics/auc.csv>` · "
        "{download}`x.pdf </../../runs/x.pdf>`"
    )
    assert results.download_links([]) == ""
