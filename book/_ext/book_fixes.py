"""Sphinx fixes for the book's HTML, found by the browser test (tests/test_book_browser.py).

- Each page carried sphinx-thebe's inline configuration script twice, and the second copy threw
  "Identifier 'THEBE_JS_URL' has already been declared" in every page (jupyter-book 1.0.4 with
  sphinx-thebe 0.3.1 registers the script once for the build and once more for the page). The
  page's script list is de-duplicated, keeping the first copy.
- A glued figure's image had its file path as alt text: myst-nb 1.4 copies ``width`` and
  ``height`` from an image output's metadata to the image, but not ``alt``, and the HTML writer
  falls back to the image's URI. ``ecglib.report.save.glue_figure`` puts the alt text (what the
  figure shows, computed from it) in the output's metadata, and :func:`_alt_from_metadata`
  wraps myst-nb's image renderer to copy it onto the image node (an ``:alt:`` option given to
  the directive still wins). myst-nb has no hook for this other than a whole renderer plugin
  registered as a package entry point, so the one method is wrapped here.
- Sphinx numbers only figures that have an id, i.e. a ``:name:``; the training page is one
  notebook executed once per fold, so its figure cannot carry one name (five pages would
  declare the same label). :func:`_id_every_figure` gives every figure without a name an id
  of its page, so every figure is numbered ("Fig. N").
- myst-nb's stylesheet sets glued text (``span.pasted-text``) in bold, so every computed number
  in the book's prose stood out as if emphasised. ``book/_static/book.css`` sets it back to the
  surrounding weight; :func:`_add_static` puts that folder on the HTML static path and adds
  the stylesheet after myst-nb's.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

from pathlib import Path


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # what the page renders: the file and the tag's attributes (the inline body among them),
        # not the sort priority, which differs between the two copies
        # (an inline script's filename is None in one copy and "" in the other)
        key = (
            getattr(script, "filename", None) or "",
            tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def _alt_from_metadata(render_image):
    """``render_image`` that also sets each image's ``alt`` from its output metadata."""
    from docutils import nodes

    def render(self, data):
        out = render_image(self, data)
        alt = (data.output_metadata or {}).get(data.mime_type, {}).get("alt")
        if alt:
            for node in out:
                if isinstance(node, nodes.image) and not node.get("alt"):
                    node["alt"] = str(alt)
        return out

    render.wrapped_for_alt = True
    return render


def patch_image_alt() -> None:
    """Wrap myst-nb's image renderer once (module docstring)."""
    from myst_nb.core.render import NbElementRenderer

    if not getattr(NbElementRenderer.render_image, "wrapped_for_alt", False):
        NbElementRenderer.render_image = _alt_from_metadata(NbElementRenderer.render_image)


def _id_every_figure(app, doctree):
    from docutils import nodes

    for figure in doctree.findall(nodes.figure):
        if not figure["ids"]:
            doctree.set_id(figure)


#: The book's own static files (stylesheet, favicon), beside this extension's folder.
STATIC = Path(__file__).resolve().parent.parent / "_static"


def _add_static(app):
    if str(STATIC) not in app.config.html_static_path:
        app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", _add_static)
    # a higher priority than myst-nb's stylesheet (default 500), so that this one wins
    app.add_css_file("book.css", priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("doctree-read", _id_every_figure)
    patch_image_alt()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
