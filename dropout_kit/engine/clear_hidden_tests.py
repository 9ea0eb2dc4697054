"""`ClearHiddenTests`: nbgrader's, quiet. nbconvert's HTMLExporter configures
`NbConvertBase.display_data_priority`, which nbgrader's preprocessor inherits without
marking it configurable, so every `generate_feedback` logged "Config option
`display_data_priority` not recognized by `ClearHiddenTests`" once per notebook."""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests as NbgraderClearHiddenTests
from traitlets import List


class ClearHiddenTests(NbgraderClearHiddenTests):
    display_data_priority = List(NbgraderClearHiddenTests.display_data_priority.default_value).tag(config=True)
