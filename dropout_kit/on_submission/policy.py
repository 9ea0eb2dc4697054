"""The instructor's settings for grading on submission (nbgrader_config.py, c.GradeOnSubmission),
and the deadline arithmetic they need."""
from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from traitlets import Dict, Enum, Float, Int, List, Unicode
from traitlets.config import Configurable


class GradeOnSubmission(Configurable):
    assignments = List(Unicode(), help=(
        "Assignments graded as soon as a student submits (opt-in; empty: none). "
        "Run the service with `dropout-kit on-submission run --assignment NAME`.")).tag(config=True)
    deadlines = Dict(value_trait=Unicode(), help=(
        "Deadline per assignment in the course's time zone, 'YYYY-MM-DD HH:MM' "
        "(default: the due date in the gradebook, if any). After it, grading on submission stops: "
        "the instructor's round is the official one.")).tag(config=True)
    extensions = Dict(value_trait=Dict(value_trait=Unicode()), help=(
        "Per-student deadlines: {assignment: {student: 'YYYY-MM-DD HH:MM'}}.")).tag(config=True)
    timezone = Unicode("Asia/Seoul", help="The course's time zone (deadlines, times students read)."
                       ).tag(config=True)
    feedback_before_deadline = Enum(["checks", "parts"], "checks", help=(
        "What feedback shows before the deadline: 'checks', every check with its message; "
        "'parts', only ✅/❌ and the score per part.")).tag(config=True)
    per_hour = Int(4, min=1, help=(
        "Submissions of one student graded per hour; later ones wait and are graded together "
        "as the latest (against guessing answers by resubmitting).")).tag(config=True)
    poll_seconds = Float(1.0, min=0.1, help="How often inbound/ is looked at.").tag(config=True)
    workers = Int(0, min=0, help=("Grading processes (0: the number of cores, fewer if the "
                                  "machine's memory cannot hold their kernels).")).tag(config=True)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def deadline(self, assignment: str, student: str | None,
                 gradebook_due: datetime.datetime | None) -> datetime.datetime | None:
        """The student's deadline (aware, UTC; student None: the course's), from an extension,
        the course setting or the gradebook."""
        text = self.extensions.get(assignment, {}).get(student) or self.deadlines.get(assignment)
        if text:
            local = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=self.zone)
            return local.astimezone(datetime.timezone.utc)
        if gradebook_due is not None:  # nbgrader stores naive UTC
            return gradebook_due.replace(tzinfo=datetime.timezone.utc)
        return None

    def local(self, moment: datetime.datetime) -> str:
        """A moment as students read it: the course's time zone, named, and the UTC time
        that nbgrader's Assignments list shows beside it ("2026-12-11 00:00 KST (UTC 15:00)")."""
        utc = moment.astimezone(datetime.timezone.utc)
        local = moment.astimezone(self.zone)
        if local.utcoffset() == datetime.timedelta(0):
            return utc.strftime("%Y-%m-%d %H:%M UTC")
        return f"{local.strftime('%Y-%m-%d %H:%M %Z')} (UTC {utc.strftime('%H:%M')})"
