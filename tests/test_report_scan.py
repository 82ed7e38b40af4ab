"""ecglib.report.scan: each kind of raw output is caught in a small rendered page, and clean
text (an interval, "< 0.001", an em dash, code the page shows on purpose) passes."""

import pytest

from ecglib.report.scan import main, scan_book, scan_html


def page(body: str) -> str:
    return f'<html><body><article class="bd-article">{body}</article></body></html>'


def problems(body: str) -> list[str]:
    return [p.problem for p in scan_html(page(body), "p.html")]


@pytest.mark.parametrize(
    "body, problem",
    [
        ("<p>The cumulative incidence was nan% at one year.</p>", "nan"),
        ("<table><tr><td>LM</td><td>NaN</td></tr></table>", "nan"),
        ("<p>The threshold is None.</p>", "None"),
        ("<table><tr><td>RCA</td><td>&lt;NA&gt;</td></tr></table>", "<NA>"),
        ("<table><tr><td>collapsed</td><td>False</td></tr></table>", "False table cell"),
        ("<table><tr><td>True</td></tr></table>", "True table cell"),
        ("<p>settings {'epochs': 10, 'lr': 0.003}</p>", "dict repr"),
        ("<p>folds ['LAD', 'LCX']</p>", "list repr"),
        ("<p>shares [0.1, 0.25]</p>", "list repr"),
        ("<table><tr><td>Sinus rhythm. Normal E...</td></tr></table>", "truncated (...)"),
        ("<p>prevalence 0.157895 in fold 2</p>", "float with more than 4 decimals"),
        ("<p>p was 1.2e-05</p>", "unformatted float (exponent)"),
        ('<p>The AUC was <span class="pasted-text"></span>.</p>', "empty glue"),
        ("<p>see {glue:text}`auc_LAD`</p>", "unrendered glue"),
        ('<div class="system-message">Could not find key auc</div>', "build warning shown"),
    ],
)
def test_each_kind_of_raw_output_is_caught(body, problem):
    assert problem in problems(body)


def test_the_snippet_shows_the_offending_text():
    (found,) = scan_html(page("<p>Among the 557 patients, nan% had an event.</p>"), "x.html")
    assert found.page == "x.html" and "nan%" in found.snippet


def test_clean_text_passes():
    body = (
        "<h1>Discrimination</h1>"
        "<p>None of the vessels had fewer than 5 events. The AUC was 0.712 [0.650-0.768],\n"
        "p &lt; 0.001, in 557 patients (85 events); the difference was -0.05 to 0.07.</p>"
        "<table><tr><th>Vessel</th><th>n</th><th>p</th></tr>"
        "<tr><td>LAD</td><td>557</td><td>&lt; 0.001</td></tr>"
        "<tr><td>LM</td><td>—</td><td>yes</td></tr></table>"
        "<p>A nanometre, a banana, Nancy and n/a are words, not missing values.</p>"
    )
    assert problems(body) == []


def test_code_the_page_shows_on_purpose_is_not_scanned_but_its_output_is():
    inputs = '<div class="cell_input"><pre>x = None; d = {"a": 1}; f(...)</pre></div>'
    prose = "<p>Set <code>model.pretrained: None</code> for [8, 16] filters.</p>"
    assert problems(inputs + prose.replace("[8, 16]", "two stages of")) == []
    output = "<div class=\"cell_output\"><pre>{'epochs': 2}</pre></div>"
    assert problems(output) == ["dict repr"]


def test_scan_book_and_the_cli_report_each_page(tmp_path, capsys):
    (tmp_path / "index.html").write_text(page("<p>All fine: 0.71 [0.65-0.77].</p>"))
    (tmp_path / "a.html").write_text(page("<p>rate nan%</p>"))
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text(page("<p>nan</p>"))
    found = scan_book(tmp_path)
    assert found[["page", "problem"]].values.tolist() == [["a.html", "nan"]]
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "a.html: nan:" in out and "rate nan%" in out
    (tmp_path / "a.html").write_text(page("<p>rate 12.0%</p>"))
    assert main([str(tmp_path)]) == 0


def test_a_folder_without_a_built_book_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="index.html"):
        scan_book(tmp_path)
    assert main([str(tmp_path)]) == 2


@pytest.mark.parametrize(
    "body",
    [
        "<p>A missing  here.</p>",  # the glue between the two spaces did not render
        "<p>the AUC was\n and more</p>",  # ... at the start of a line
        "<p>the AUC was \nand more</p>",  # ... at the end of a line
        "<p>an interval ( ) here</p>",
        "<p>the rate was .</p>",
    ],
)
def test_a_glue_that_rendered_nothing_is_caught_by_the_space_it_leaves(body):
    assert "empty glue" in problems(body)


def test_the_tiny_book_html_of_a_failed_glue(tmp_path):
    """The paragraph myst-nb writes when a key is missing or its format fails (copied from a
    build): no element marks it, only the spaces."""
    html = (
        '<p>A missing  here. Missing: <span class="pasted-text">nan</span> there. Int '
        '<span class="pasted-text">3</span> ok.</p>'
    )
    assert sorted(problems(html)) == ["empty glue", "nan"]


def test_a_quoted_message_is_not_read_as_raw_output():
    cell = "<td><code class=\"ecglib-verbatim\">got {'a': 1}, NaN and ['b', 'c']</code></td>"
    assert problems(f'<div class="cell_output"><table><tr>{cell}</tr></table></div>') == []


def test_the_spacing_of_an_outputs_data_is_not_taken_for_a_failed_glue():
    table = '<div class="cell_output"><table><tr><td>RIVA  60%,</td></tr></table></div>'
    assert problems(table) == []


def test_the_bibliography_is_not_read_as_results():
    entry = '<div class="citation-list"><div class="citation">doi:10.23919/CinC53138.2021.9662687</div></div>'
    assert problems(entry) == []
