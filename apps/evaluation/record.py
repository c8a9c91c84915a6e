"""Play 5's sign-off record: one self-contained HTML document (styles inline, charts as inline SVG) and
the PDF printed from it.

The record is what an auditor reads later, so it must render the same offline and years on: it links to
nothing, and printing it fetches nothing, neither from the network nor from this server's files.
"""
from __future__ import annotations

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher


class RefusingFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that refuses every URL (http, https, file, data alike). WeasyPrint logs the
    refusal and leaves the resource out; the rest of the document still prints."""

    def __init__(self):
        super().__init__(allowed_protocols=())

    def fetch(self, url, headers=None):
        raise ValueError(f"the sign-off record loads nothing from outside itself: {url}")


def record_html(report: dict, meta: dict) -> str:
    """The record of one evaluation: the decision, the sign-off owner's answers to the three questions,
    the full report and the hashes that pin what was evaluated. ``meta`` is described in record.html."""
    return render_to_string("evaluation/record.html", {"report": report, "meta": meta})


def record_pdf(html: str) -> bytes:
    """The record printed to PDF (A4, from the record's own @page rules)."""
    return HTML(string=html, url_fetcher=RefusingFetcher()).write_pdf()
