"""One module per chapter of the book: the analysis behind each page in one place.

A numbered notebook makes one set-up call and reaches its chapter in one more::

    from ecglib.chapters import discrimination, setup

    page = setup(params)                        # the run, its paths, save/glue/show
    chapter = discrimination.analyse(page.run)  # a frozen result: what the page shows
    page.publish(chapter)                       # saves its tables, glues its numbers

Each chapter module exposes ``analyse(run)``, which returns a frozen result object whose fields
and methods are the page's tables, figures' inputs and glued numbers. A part the run cannot
compute (no external site, no follow-up, no symptoms) is a :class:`~ecglib.chapters.parts.Skipped`
value of the result that says why; :meth:`~ecglib.chapters.page.Page.publish` shows those
reasons once.
"""

from ecglib.chapters.page import Page, setup

__all__ = ["Page", "setup"]
