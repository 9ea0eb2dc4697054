"""The kit's page templates for the formgrader's grading page and the feedback (dropout_kit/
pages): student content inert, formulas as MathML in the feedback, 채점 대기 for hand-graded
parts nobody graded yet.

The kit's one setting for both pages is this preprocessor in `HTMLExporter.preprocessors`
(dropout_kit.engine.config): nbgrader builds the formgrader's exporter (once, when the
instructor's Jupyter server starts) and the feedback's from the course's configuration, and
each exporter constructs its preprocessors, handing itself over as their parent. An
instructor who configured another template than nbgrader's keeps it.

On the page's copy of the notebook it gives each image a cell made an alternative text
(nbconvert otherwise writes "No description has been provided for this image" and logs a
warning per notebook that instructors read as an error).
"""
from __future__ import annotations

from nbconvert.exporters import TemplateExporter
from nbconvert.preprocessors import Preprocessor

from dropout_kit import cells
from dropout_kit.pages.exporters import use_kit_template

IMAGE_TYPES = ("image/png", "image/jpeg")


def image_alt(cell) -> str:
    name = cells.grade_id(cell)
    return f"{name} 셀이 그린 그림" if name else "코드 셀이 그린 그림"


class KitTemplates(Preprocessor):
    """Makes the exporter that registers it render with the kit's template."""

    enabled = True  # nbconvert preprocessors are off unless enabled

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if isinstance(self.parent, TemplateExporter):
            use_kit_template(self.parent)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                if mime in output.get("data", {}):
                    metadata = output.setdefault("metadata", {}).setdefault(mime, {})
                    if isinstance(metadata, dict) and not metadata.get("alt"):
                        metadata["alt"] = image_alt(cell)
        return cell, resources
