"""Sphinx fixes for the book's HTML, found by the browser test (tests/test_book_browser.py).

- Each page carried sphinx-thebe's inline configuration script twice, and the second copy threw
  "Identifier 'THEBE_JS_URL' has already been declared" in every page (jupyter-book 1.0.4 with
  sphinx-thebe 0.3.1 registers the script once for the build and once more for the page). The
  page's script list is de-duplicated, keeping the first copy.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``.
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # what the page renders: the file and the tag's attributes (the inline body among them),
        # not the sort priority, which differs between the two copies
        # (an inline script's filename is None in one copy and "" in the other)
        key = (getattr(script, "filename", None) or "",
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
