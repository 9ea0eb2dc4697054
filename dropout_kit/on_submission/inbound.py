"""The exchange as the service sees it: submission folders in inbound/, and the pages it puts
where nbgrader's Fetch Feedback looks (feedback/<hash>.html), one per submitted notebook."""
from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbgrader.utils import notebook_hash, parse_utc


SUBMIT_WRITES_LAST = ("timestamp.txt", "submission_secret.txt")
SETTLE_SECONDS = 60.0


@dataclass(frozen=True)
class Submission:
    folder: Path  # inbound/<student>+<assignment>+<timestamp>+<random>
    student: str
    timestamp: str  # as nbgrader wrote it in the name

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def moment(self) -> datetime.datetime:
        moment = parse_utc(self.timestamp)
        return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)

    def settled(self, now: float, patience: float = SETTLE_SECONDS) -> bool:
        """Whether the folder can be judged: nbgrader submit copies the notebooks first, then
        writes timestamp.txt and submission_secret.txt (a folder judged before that would be
        refused as forged); one that never gets them is judged after `patience` seconds."""
        def written(name: str) -> bool:
            try:
                return (self.folder / name).stat().st_size > 0
            except OSError:
                return False

        if all(written(name) for name in SUBMIT_WRITES_LAST):
            return True
        try:
            return now - self.folder.stat().st_mtime > patience
        except OSError:  # gone
            return False

    def feedback_pages(self, exchange_course: Path) -> list[Path]:
        """Where nbgrader's release_feedback puts, and Fetch Feedback finds, each notebook's feedback."""
        secret_file = self.folder / "submission_secret.txt"
        if not secret_file.is_file():
            return []
        secret = secret_file.read_text()
        return [exchange_course / "feedback" / f"{notebook_hash(secret=secret, notebook_id=nb.stem)}.html"
                for nb in sorted(self.folder.glob("*.ipynb"))]


def submissions(inbound: Path, assignment: str) -> list[Submission]:
    """Every submission folder of `assignment` in inbound/ (names as nbgrader's collect reads them)."""
    found = []
    try:
        entries = list(os.scandir(inbound))
    except FileNotFoundError:
        return []
    for entry in entries:
        parts = entry.name.rsplit("+", 3)
        if len(parts) == 4 and parts[1] == assignment and entry.is_dir(follow_symlinks=False):
            found.append(Submission(Path(entry.path), parts[0], parts[2]))
    return found


def put_page(page: Path, html: str) -> None:
    """A page students may read by its name only (the folder is 0711, as nbgrader makes it),
    replaced atomically so that Fetch Feedback never copies half a page."""
    page.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=page.parent, prefix=".status-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    os.chmod(scratch, 0o644)
    os.replace(scratch, page)
