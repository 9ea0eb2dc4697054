"""Formulas as MathML, made when the feedback is generated: the page needs no script to show
them (students read it in JupyterLab's HTML viewer, which runs none, on hubs without the
internet nbgrader's MathJax would come from).

nbconvert renders markdown with mistune and leaves `$…$`, `$$…$$` and `\\begin{…}` for MathJax;
this renderer turns them into MathML with latex2mathml instead. latex2mathml copies some TeX
into its markup unescaped (`\\text{<img …>}`, `\\href`, `\\style`), so its output, like every
other piece of a student's markdown, passes the kit's allow-list afterwards (inert.py keeps
MathML's presentation elements and harmless attributes only). A formula latex2mathml cannot
read stays as TeX, escaped.
"""
from __future__ import annotations

import html

from latex2mathml.converter import convert
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath


def mathml(tex: str, display: str) -> str:
    try:
        return convert(tex, display=display)
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds on TeX it cannot read
        delimiter = "$$" if display == "block" else "$"
        return html.escape(f"{delimiter}{tex}{delimiter}")


class MathMLRenderer(IPythonRenderer):
    def block_math(self, body: str) -> str:
        return mathml(body, "block")

    def inline_math(self, body: str) -> str:
        return mathml(body, "inline")

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


def markdown_with_mathml(exporter, cell, source: str) -> str:
    """`source` rendered as the exporter's markdown2html renders it, formulas as MathML."""
    renderer = MathMLRenderer(
        escape=False,
        attachments=(cell or {}).get("attachments", {}),
        embed_images=exporter.embed_images,
        anchor_link_text=exporter.anchor_link_text,
        exclude_anchor_links=exporter.exclude_anchor_links,
        **exporter.lexer_options,
    )
    return MarkdownWithMath(renderer=renderer).render(source)
