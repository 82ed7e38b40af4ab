"""The built ci book in a real browser: every page of ``_toc.yml`` opens in headless Chromium
without console errors or failed requests, its images load (naturalWidth > 0), its code cells are
collapsed behind their toggles (no code input visible; the parameters and the set-up cell's
imports not on the page at all), and every link inside the book points at a page (and anchor)
that exists. A full-page screenshot of each page is
saved in ``_build/test-artefacts/screenshots`` for a reader of the CI run. Every image of a
page's text is a numbered figure ("Fig. N" and a caption) whose alt text says what it shows
(:func:`figure_problems`: not empty, not a file name).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or ``$ECGLIB_CHROMIUM``) driven by
PyPI's ``playwright``; nothing is downloaded here (``playwright install`` is never run).
``.ci/run`` installs chromium and sets ``ECGLIB_REQUIRE_BROWSER=1``, so in CI a missing browser
fails instead of skipping.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from ecglib.config import PROJECT_ROOT
from ecglib.report.pipeline import toc_entries

pytestmark = pytest.mark.book

ARTEFACTS = PROJECT_ROOT / "_build" / "test-artefacts" / "screenshots"
#: Chromium's flags on these machines: no sandbox as root, and no background traffic to a
#: network that refuses it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("ECGLIB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        reason = (
            f"no Chromium at {path}: install Debian's chromium (apt-get install chromium) or "
            "set ECGLIB_CHROMIUM"
        )
        if os.environ.get("ECGLIB_REQUIRE_BROWSER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def site(ci_book):
    """The built book served over HTTP on localhost (as a collaborator's web server would)."""
    handler = functools.partial(_QuietHandler, directory=str(ci_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ci_book, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (test extra)"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k in ("id", "name") and v)


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def pages_of(entry: str, html: Path) -> list[Path]:
    if "*" in entry:
        pages = sorted(html.glob(entry + ".html"))
        assert pages, f"the toc glob {entry!r} matched no page"
        return pages
    return [html / f"{entry}.html"]


def broken_links(page: Path, links: list[str], html: Path, origin: str) -> list[str]:
    """Links of ``page`` into the book whose target file or anchor does not exist."""
    broken = []
    for link in links:
        url = urlsplit(link)
        if f"{url.scheme}://{url.netloc}" != origin:
            continue  # external links cannot be checked offline; the book has few
        target = html / unquote(url.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{link} (no such file)")
        elif (
            url.fragment
            and target.suffix == ".html"
            and unquote(url.fragment) not in anchors(target)
        ):
            broken.append(f"{link} (no anchor #{url.fragment})")
    return broken


#: Each image of the page's text: its alt text and its figure's caption ("" when it has none).
FIGURES_JS = """els => els.map(i => {
    const figure = i.closest('figure');
    const caption = figure ? figure.querySelector('figcaption') : null;
    return {src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '',
            caption: caption ? caption.innerText.trim() : ''};
})"""


def figure_problems(images: list[dict]) -> list[str]:
    """What is wrong with the page's images as figures: no numbered caption ("Fig. N" and
    text after it), or an alt text that is empty or a file name rather than words."""
    problems = []
    for image in images:
        name = image["src"].rsplit("/", 1)[-1]
        caption, alt = image["caption"], image["alt"].strip()
        words = caption.split(None, 2)
        if not (len(words) == 3 and words[0] == "Fig." and words[1].rstrip(".")[:1].isdigit()):
            problems.append(f"image {name} has no numbered caption ({caption[:40]!r})")
        if (
            not alt
            or alt == image["src"]
            or alt.endswith((".png", ".jpg", ".svg"))
            or (" " not in alt)
        ):
            problems.append(f"image {name} has no alt text that says what it shows ({alt!r})")
    return problems


def test_figure_problems_are_found():
    good = {"src": "_images/ab12.png", "alt": "4 panels. RCA: sensitivity", "caption": "Fig. 3 ROC"}
    assert figure_problems([good]) == []
    assert figure_problems([{**good, "caption": ""}]) == [
        "image ab12.png has no numbered caption ('')"
    ]
    assert figure_problems([{**good, "alt": "_images/ab12.png"}]) == [
        "image ab12.png has no alt text that says what it shows ('_images/ab12.png')"
    ]


@pytest.mark.parametrize("entry", toc_entries())
def test_every_page_loads_cleanly_in_a_browser(entry, site, browser):
    html, origin = site
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for page_file in pages_of(entry, html):
        assert page_file.is_file(), f"{entry}: {page_file.relative_to(html)} was not built"
        rel = page_file.relative_to(html).as_posix()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        record = errors.append  # each page's handlers write to that page's own list
        page.on(
            "console",
            lambda m, record=record: (
                record(f"console {m.type}: {m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e, record=record: record(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r, record=record: record(f"request failed: {r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r, record=record: (
                record(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
            ),
        )
        page.goto(f"{origin}/{rel}", wait_until="networkidle")
        title = page.title()
        images = page.eval_on_selector_all(
            "img",
            "els => els.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}))",
        )
        links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        figures = page.eval_on_selector_all("article img", FIGURES_JS)
        # Code is collapsed behind its toggle (pipeline.present_cells): a reader sees results.
        open_code = page.eval_on_selector_all(
            "div.cell_input", "els => els.filter(e => e.checkVisibility()).length"
        )
        code_text = page.eval_on_selector_all(
            "div.cell_input", "els => els.map(e => e.textContent).join('\\n')"
        )
        page.screenshot(path=str(ARTEFACTS / (rel.replace("/", "__") + ".png")), full_page=True)
        page.close()
        problems += [f"{rel}: {e}" for e in errors]
        problems += [f"{rel}: image did not load: {i['src']}" for i in images if not i["ok"]]
        problems += [f"{rel}: {p}" for p in figure_problems(figures)]
        problems += [
            f"{rel}: broken link {b}" for b in broken_links(page_file, links, html, origin)
        ]
        if open_code:
            problems.append(f"{rel}: {open_code} code cell(s) shown open (expected collapsed)")
        # The parameters and the set-up cell's imports are not on the page at all, not even
        # behind a toggle (pipeline.present_cells).
        plumbing = [s for s in ("setup(params", "params = ") if s in code_text]
        if plumbing:
            problems.append(f"{rel}: parameter or set-up code in the page ({plumbing})")
        if not title.strip():
            problems.append(f"{rel}: the page has no title")
    assert not problems, "\n".join(problems)
