"""ecglib.chapters.page and parts: the notebooks' set-up call, notices, and skipped parts."""

import json
from dataclasses import replace

import pandas as pd
import pytest
from matplotlib.figure import Figure

from conftest import DEMO_MAP
from ecglib.chapters import parts as results
from ecglib.chapters.page import PARAMS_ENV, Page, label_notices, model_notice, setup
from ecglib.config import DataParams, ModelParams, RunParams
from ecglib.errors import MissingInputError


def test_the_model_notice_says_what_was_trained_on_every_results_page(tmp_path):
    params = RunParams(
        name="t", seed=1, data=DataParams(table="x", map=str(DEMO_MAP)), runs_dir=str(tmp_path)
    )
    assert "from random initialisation" in model_notice(params)
    assert Page(params).notices().data.startswith("> **What was trained.**")
    pretrained = replace(params, model=ModelParams(pretrained="ecgfounder.pth"))
    assert "fine-tuned" in model_notice(pretrained) and "random" not in model_notice(pretrained)
    assert Page(pretrained).notices() is not None
    assert Page(params).notices(model=False) is None


def test_label_notices_come_from_the_column_map(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        DEMO_MAP.read_text(encoding="utf-8").replace("  grade_LM: LM\n", "")
        + "not_assessed: [LM]\nnotice: >\n  These labels are\n  proxies.\n",
        encoding="utf-8",
    )
    params = RunParams(
        name="t",
        seed=1,
        data=DataParams(table="x", map=str(path)),
        model=ModelParams(pretrained="ecgfounder.pth"),
        runs_dir=str(tmp_path),
    )
    notices = label_notices(params)
    assert notices[0] == "These labels are proxies."
    assert notices[1].startswith("**Not assessed: LM.**")
    text = Page(params).notices().data
    # the model notice, then the map's two
    assert text.count("\n\n> ") == 2 and "random" not in text.lower()
    assert Page(params).notices(model=False).data.count("> ") == 2


def test_attempt_turns_only_missing_inputs_into_skips():
    def needs_symptoms(x):
        raise MissingInputError("the cohort has no symptom column")

    skipped = results.attempt("The PTP analysis", needs_symptoms, 1)
    assert isinstance(skipped, results.Skipped) and not skipped
    assert skipped.message == (
        "The PTP analysis is skipped because the cohort has no symptom column."
    )
    assert "**Skipped.**" in skipped._repr_markdown_()
    # a dependent part is not called and reports the first skip
    calls = []
    again = results.attempt("Its figure", lambda a, b=None: calls.append(a), 1, b=skipped)
    assert again is skipped and calls == []
    # any other error propagates
    with pytest.raises(ZeroDivisionError):
        results.attempt("x", lambda: 1 / 0)
    assert results.attempt("x", lambda a: a + 1, 1) == 2
    assert results.unless_skipped(lambda a: a + 1, 1) == 2
    assert results.unless_skipped(lambda a: a + 1, skipped) is skipped
    with pytest.raises(MissingInputError):
        results.unless_skipped(needs_symptoms, 1)
    assert results.skip_message(MissingInputError("no follow-up")) == (
        "This chapter is skipped because no follow-up."
    )


def test_skipped_markdown_and_skipped_of():
    assert results.skipped_markdown([1, "a", None]) is None
    md = results.skipped_markdown(
        {"external": "there is none"}, {"external": "External validation"}
    )
    assert md.data == "> **Skipped.** External validation is skipped because there is none."
    parts = results.skipped_parts({"LM": "one class"}, "Stratifying {}")
    assert parts[0].message == "Stratifying LM is skipped because one class."
    assert results.skipped_of([1, parts[0], None]) == [parts[0]]


BASE = f"name: t\nseed: 1\ndata:\n  table: x.csv\n  map: {DEMO_MAP}\n"


def test_setup_obeys_the_notebook_test_override_and_load_params_does_not(
    tmp_path, monkeypatch, capsys
):
    from ecglib.config import load_params

    other = tmp_path / "other.yaml"
    other.write_text(BASE.replace("name: t", "name: other") + f"runs_dir: {tmp_path}\n")
    monkeypatch.setenv(PARAMS_ENV, str(other))
    assert setup("params/demo.yaml").run.name == "other"
    assert "reading" in capsys.readouterr().out
    assert load_params("params/demo.yaml").name == "demo"
    monkeypatch.delenv(PARAMS_ENV)
    assert setup(other).run.name == "other"


class _Chapter:
    """A chapter result as Page.publish sees it."""

    def outputs(self):
        return {
            "table": pd.DataFrame({"vessel": ["RCA"], "auc": [0.7]}),
            "nums": {"a": 1},
            "absent": results.Skipped("The external part", "there is no external site"),
        }

    def numbers(self):
        return {}

    def skipped(self):
        return results.skipped_of(self.outputs().values())


def test_publish_saves_outputs_and_lists_skipped_parts_once(tmp_path):
    page = Page(
        RunParams(
            name="t", seed=1, data=DataParams(table="x", map=str(DEMO_MAP)), runs_dir=str(tmp_path)
        )
    )
    md = page.publish(_Chapter(), glue=False)
    assert md.data == (
        "> **Skipped.** The external part is skipped because there is no external site."
    )
    assert pd.read_csv(page.paths.metrics / "table.csv").columns.tolist() == ["vessel", "auc"]
    assert json.loads((page.paths.metrics / "nums.json").read_text()) == {"a": 1}
    assert not list(page.paths.metrics.glob("absent*"))
    assert page.show(results.Skipped("x", "y"), "nothing") is None
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    assert page.figure("fig", lambda f: f, fig) is None
    assert (page.paths.figures / "fig.png").exists()
    assert page.figure("never", lambda f: 1 / 0, results.Skipped("x", "y")) is None


def test_table_links_are_download_links_from_the_book_root(tmp_path, monkeypatch):
    # one rule for every download link of the book (report.save.download_target)
    from ecglib.chapters import page as page_module
    from ecglib.report.save import BOOK_ROOT_ENV

    params = RunParams(
        name="t", seed=1, data=DataParams(table="x", map=str(DEMO_MAP)), runs_dir=str(tmp_path)
    )
    page = Page(params)
    (page.paths.metrics / "glance.csv").write_text("vessel\nRCA\n")
    glued = {}
    monkeypatch.setattr(page_module, "glue_numbers", glued.update)
    monkeypatch.setenv(BOOK_ROOT_ENV, str(tmp_path))
    assert page.glue_table_links("links", {"glance": "this page", "absent": "not saved"}) is None
    assert glued["links"].data == "- {download}`glance.csv </t/metrics/glance.csv>`: this page"
    assert page.downloads([page.paths.metrics / "glance.csv"]).data == (
        "Download: {download}`glance.csv </t/metrics/glance.csv>`"
    )
    page.glue_table_links("none", {"absent": "not saved"})
    assert glued["none"].data == "No table of this run has been saved yet."
