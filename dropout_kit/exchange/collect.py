"""`VerifiedCollect`: nbgrader's collect (command line and formgrader) that refuses submission
folders made in another student's name or dated in the future (refusal.check_submission).

Stock `ExchangeCollect.init_src` takes each student's latest folder by the time in its name
and `copy_files` only warns when the folder's owner is not that student; one student could
replace another's submission, for good with a time far ahead. Here every candidate folder
is checked first: a refused one is logged as an error, recorded once in the course's
refused_submissions.jsonl (refusal_record) and left where it is, out of submitted/; each
student's latest remaining folder is then chosen and copied exactly as nbgrader does
(before_duedate, --update, the owner warning for the trusted accounts).
"""
from __future__ import annotations

import datetime
import glob
import os
from collections import defaultdict
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import check_mode

from dropout_kit.exchange.refusal import Refusal, check_submission, parse_submission_name
from dropout_kit.exchange.refusal_record import append_refusals, read_refusals, record_path


class VerifiedCollect(ExchangeCollect):
    """nbgrader's collect, without the submissions `check_submission` refuses."""

    def init_src(self):
        course_id, assignment = self.coursedir.course_id, self.coursedir.assignment_id
        if course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail("Course not found: {}".format(self.inbound_path))
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail("You don't have read permissions for the directory: {}".format(self.inbound_path))
        student = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, "{}+{}+*".format(student, assignment))
        records, refused = self._checked(sorted(glob.glob(pattern)))
        if refused:
            self._tell(refused)
        self.duedate = self._duedate()
        self.src_records = self._chosen(records)

    def _checked(self, paths: list[str]) -> tuple[list[dict], list[Refusal]]:
        """nbgrader's records of the folders that pass, and the refusals of the others."""
        now = datetime.datetime.now(datetime.timezone.utc)
        course_root = Path(self.coursedir.root)
        # A folder once refused for its future time stays refused when that time has come.
        dated_ahead = {r.refusal.folder: r.refusal for r in read_refusals(course_root)
                       if r.course_id == self.coursedir.course_id and r.refusal.reason == "future_time"}
        records, refused = [], []
        for path in paths:
            folder = os.path.basename(path)
            try:
                refusal = dated_ahead.get(folder) or check_submission(
                    Path(path), now, assignment=self.coursedir.assignment_id, check_owner=self.check_owner,
                    max_bytes=1000 * self.coursedir.max_dir_size)
            except FileNotFoundError:  # removed since the listing
                continue
            if refusal is not None:
                refused.append(refusal)
                continue
            name = parse_submission_name(folder)
            records.append({"username": name.student, "filename": folder, "timestamp": name.time})
        return records, refused

    def _tell(self, refused: list[Refusal]) -> None:
        """One error line per refused folder, in English and Korean, and the durable record."""
        course_root = Path(self.coursedir.root)
        try:
            new = append_refusals(course_root, refused, course_id=self.coursedir.course_id,
                                  assignment=self.coursedir.assignment_id)
            where = str(record_path(course_root))
        except OSError as error:
            new, where = refused, None
            self.log.error("Could not record refused submissions (거부된 제출을 기록하지 못함) in %s: %s",
                           record_path(course_root), error)
        for refusal in refused:
            recorded = ("recorded in" if refusal in new else "already recorded in") if where else "NOT recorded"
            # Folder and student names are the student's choice: shown with repr (no forged log lines).
            self.log.error(
                "Refused submission · 제출 거부: %r (student %r, owner %r): %s. / %s. "
                "Not collected · 수집하지 않음; %s %s",
                refusal.folder, refusal.student, refusal.owner, refusal.detail, refusal.detail_ko,
                recorded, where or "")

    def _duedate(self):
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                return gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None

    def _chosen(self, records: list[dict]) -> list[dict]:
        """Each student's latest folder; with before_duedate, the latest before the due date
        if there is one (nbgrader's choice, among the folders that passed)."""
        by_student: dict[str, list[dict]] = defaultdict(list)
        for record in records:
            by_student[record["username"]].append(record)
        chosen = []
        for theirs in by_student.values():
            newest_first = sorted(theirs, key=lambda r: r["timestamp"], reverse=True)
            if self.duedate is not None and self.before_duedate:
                on_time = [r for r in newest_first if r["timestamp"] <= self.duedate]
                chosen.append((on_time or newest_first)[0])
            else:
                chosen.append(newest_first[0])
        return chosen
