"""The kit's templates on the nbconvert exporters nbgrader builds for the formgrader's grading
page ('formgrade') and for `generate_feedback` ('feedback').

nbgrader constructs both exporters itself; the kit's one hook is a preprocessor the exporter
constructs (dropout_kit.engine.kit_templates), which calls `use_kit_template` with it. The
kit's templates extend nbgrader's, found through the exporter's own template paths; the
kit's folder comes first among its loaders, with nbgrader's formgrade macros rewritten so that
they hold no inline script (scriptless.py).
"""
from __future__ import annotations

import re
from pathlib import Path

from jinja2 import FileSystemLoader
from nbconvert.filters import strip_files_prefix
from nbgrader.server_extensions.formgrader import handlers as formgrader_handlers

from dropout_kit.pages.inert import inert_html
from dropout_kit.pages.math import markdown_with_mathml
from dropout_kit.pages.scriptless import ScriptlessLoader

TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = Path(formgrader_handlers.template_path)
SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
# nbgrader's template name → the kit's template that extends it.
KIT_TEMPLATE = {"formgrade": "kit_formgrade.html.j2", "feedback": "kit_feedback.html.j2"}


def use_kit_template(exporter) -> bool:
    """Makes `exporter` (an HTMLExporter set up with nbgrader's template) render with the
    kit's; False, and the exporter unchanged, for any other template."""
    kit_template = KIT_TEMPLATE.get(exporter.template_name)
    if kit_template is None or exporter.template_file == kit_template:
        return False
    loaders = [FileSystemLoader(str(TEMPLATES))]
    if exporter.template_name == "formgrade":
        loaders.insert(0, ScriptlessLoader(NBGRADER_TEMPLATES / "formgrade", {"formgrade_macros.html.j2"}))
    exporter.extra_loaders = [*loaders, *exporter.extra_loaders]
    exporter.filters = {**exporter.filters, **filters(exporter)}
    exporter.template_file = kit_template
    return True


def filters(exporter) -> dict:
    """inert_html, and the exporter's markdown rendering followed by it: inert_markdown for a
    cell (its attachments resolved as nbconvert resolves them), inert_markdown_text for a
    grader's comment. On the feedback page formulas become MathML (math.py: no script
    needed to read them); the formgrader's grading page leaves them to its MathJax.
    without_scripts drops the script elements of nbgrader's own markup (the feedback's
    MathJax from a CDN)."""
    def render(cell, source: str) -> str:
        if exporter.template_name == "feedback":
            html = markdown_with_mathml(exporter, cell, source)
        else:
            html = exporter.markdown2html({"cell": cell}, source)
        return inert_html(strip_files_prefix(html))

    return {"inert_html": inert_html,
            "inert_markdown": lambda cell: render(cell, cell.source),
            "inert_markdown_text": lambda text: render({}, str(text or "")),
            "without_scripts": lambda markup: SCRIPT_ELEMENT.sub("", str(markup))}
