"""Progress of a grading run: one line per submission with its time, and a bar (tqdm) with
counts, failures and the estimated time left.

On a terminal (a JupyterHub terminal too) the bar stays on the last line, redrawn in place;
in a log (output not a terminal) each submission's line is followed by the same status as
text, so the log reads top to bottom.
"""
from __future__ import annotations

import time

from tqdm import tqdm

BAR_FORMAT = "[{bar:24}] {n_fmt}/{total_fmt} | {counts} | elapsed {elapsed} | ETA {remaining}"
BAR_CHARACTERS = ".#"  # empty, full: plain ASCII in every terminal and log


class _Bar(tqdm):
    """tqdm with the run's counts as a field of its format (tqdm's own postfix adds a comma)."""
    counts = ""

    @property
    def format_dict(self):
        return {**super().format_dict, "counts": self.counts}


class Progress:
    def __init__(self, total: int, out):
        self.out = out
        self.live = bool(getattr(out, "isatty", lambda: False)())
        self.counts = {"graded": 0, "failed": 0, "timeout": 0}
        self.to_retry = 0
        self.finished = 0
        self.bar = _Bar(total=total, file=out, disable=not self.live, bar_format=BAR_FORMAT,
                        ascii=BAR_CHARACTERS, mininterval=0.5)
        self.bar.counts = self._counts()
        self.started = time.monotonic()

    # -- events -------------------------------------------------------------------------
    def done(self, outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.attempts > 1:
            self.to_retry -= 1
        if outcome.status == "graded":
            what = f"graded {outcome.auto_score:g}/{outcome.auto_max:g} auto points"
            if outcome.manual_pending:
                what += ", manual pending"
        elif outcome.status == "timeout":
            what = f"TIMED OUT in {', '.join(outcome.timed_out_cells)} (those cells scored 0)"
        else:
            what = f"FAILED: {outcome.error}"
        retried = " (2nd try)" if outcome.attempts > 1 else ""
        self._advance()
        self._line(f"{outcome.student}: {what} in {outcome.seconds:.1f} s{retried}, worker {outcome.worker}")

    def deferred(self, outcome) -> None:
        """A first attempt that timed out or failed: it is graded again at the end."""
        self.to_retry += 1
        why = (f"timed out in {', '.join(outcome.timed_out_cells)}" if outcome.status == "timeout"
               else f"failed ({outcome.error})")
        self.bar.counts = self._counts()
        self._line(f"{outcome.student}: {why} after {outcome.seconds:.1f} s; "
                   "will be graded again alone at the end")

    def note(self, text: str) -> None:
        self._line(text)

    # -- display ------------------------------------------------------------------------
    def _counts(self) -> str:
        parts = [f"{self.counts['graded']} graded", f"{self.counts['failed']} failed",
                 f"{self.counts['timeout']} timed out"]
        if self.to_retry:
            parts.append(f"{self.to_retry} to retry")
        return " | ".join(parts)

    def _advance(self) -> None:
        self.finished += 1
        self.bar.counts = self._counts()
        self.bar.update(1)

    def status(self) -> str:
        """The bar as one line of text (for logs)."""
        return tqdm.format_meter(self.finished, self.bar.total, time.monotonic() - self.started,
                                 bar_format=BAR_FORMAT, ascii=BAR_CHARACTERS, counts=self._counts())

    def refresh(self) -> None:
        if self.live:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
        self.out.flush()

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.live:
            self.bar.write(f"{stamp} {text}", file=self.out)
        else:
            self.out.write(f"{stamp} {text}\n{stamp}   {self.status()}\n")
        self.out.flush()
