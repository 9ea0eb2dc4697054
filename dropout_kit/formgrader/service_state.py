"""Grading on submission, seen and respected from the formgrader (dropout_kit.on_submission).

* `GuardedAutograde`: the formgrader's per-submission Autograde, refused in plain words
  while the service grades the assignment, before nbgrader's API is called at all (the
  formgrader always autogrades with force, and nbgrader removes the student's autograded
  folder before any hook of the kit runs; the engine refuses there too, for the command
  line: dropout_kit.engine.submission_exporter).
* `ServiceState`: the service's state for the formgrader's banner (static/service-status.js):
  running, paused or stopped, queue, the deadline it uses, its last error, refused folders.
"""
from __future__ import annotations

import dataclasses
import json

from jupyter_server.base.handlers import APIHandler
from nbgrader.server_extensions.formgrader.apihandlers import AutogradeHandler
from nbgrader.server_extensions.formgrader.base import check_xsrf
from tornado import web

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.on_submission import control


def _paths(formgrader, assignment: str = "*") -> CoursePaths:
    """The formgrader's course (its coursedir, as nbgrader's handlers read it)."""
    return dataclasses.replace(CoursePaths.from_app(formgrader), assignment=assignment)


class GuardedAutograde(AutogradeHandler):
    @web.authenticated
    @check_xsrf
    def post(self, assignment_id, student_id):
        reason = control.refusal(_paths(self, assignment_id))
        if reason:
            self.log.warning("autograde of %s for %s refused: %s", assignment_id, student_id, reason)
            # The formgrader shows "log" in its dialog; an empty "error" shows no traceback.
            self.write(json.dumps({"success": False, "error": "", "log": reason}))
            return
        super().post(assignment_id, student_id)


class ServiceState(APIHandler):
    @web.authenticated
    def get(self):
        formgrader = self.settings.get("nbgrader_formgrader")
        if formgrader is None:
            raise web.HTTPError(404)
        paths = _paths(formgrader)
        self.finish(json.dumps([control.describe(dataclasses.replace(paths, assignment=name))
                                for name in control.assignments_served(paths)], ensure_ascii=False))
