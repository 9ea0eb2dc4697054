"""Which submission a feedback page is about: resources["nbgrader"]["submitted_at"], the
submission's time as nbgrader records it (UTC, as the Assignments list shows it). Each
`Fetch Feedback` writes a new folder, so a tab left open on an older report stays as it was:
the time at its top tells it from the report of the latest submission."""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbgrader.api import Gradebook, MissingEntry

SUBMITTED_AT = "submitted_at"


class FeedbackSubmittedAt(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        info = (resources or {}).get("nbgrader", {})
        if not {"db_url", "assignment", "student"} <= set(info):
            return nb, resources
        with Gradebook(info["db_url"]) as gb:
            try:
                submission = gb.find_submission(info["assignment"], info["student"])
            except MissingEntry:
                return nb, resources
            if submission.timestamp is not None:
                info[SUBMITTED_AT] = submission.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")
        return nb, resources
