"""Plain-text progress of a grading run: one line per submission with its time, and a bar
with counts, failures and the estimated time left.

On a terminal (a JupyterHub terminal too) the bar stays on the last line and is redrawn
in place with a carriage return; in a log (output not a terminal) each submission's line
carries the counts and the ETA instead, so the log reads top to bottom.
"""
from __future__ import annotations

import time

BAR_WIDTH = 24


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, out):
        self.total = total
        self.out = out
        self.live = bool(getattr(out, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.finished = 0
        self.counts = {"graded": 0, "timeout": 0, "failed": 0}
        self.to_retry = 0
        self._bar_shown = 0
        self.refresh()

    # -- events -------------------------------------------------------------------------
    def done(self, outcome) -> None:
        self.finished += 1
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
        self._line(f"{outcome.student}: {what} in {outcome.seconds:.1f} s{retried}, worker {outcome.worker}")

    def deferred(self, outcome) -> None:
        """A first attempt that timed out or failed: it is graded again at the end."""
        self.to_retry += 1
        why = (f"timed out in {', '.join(outcome.timed_out_cells)}" if outcome.status == "timeout"
               else f"failed ({outcome.error})")
        self._line(f"{outcome.student}: {why} after {outcome.seconds:.1f} s; "
                   "will be graded again alone at the end")

    def note(self, text: str) -> None:
        self._line(text)

    # -- display ------------------------------------------------------------------------
    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        left = self.total - self.finished
        eta = clock(elapsed / self.finished * left) if self.finished else "?"
        filled = BAR_WIDTH * self.finished // max(self.total, 1)
        parts = [f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.finished}/{self.total}",
                 f"{self.counts['graded']} graded", f"{self.counts['failed']} failed",
                 f"{self.counts['timeout']} timed out"]
        if self.to_retry:
            parts.append(f"{self.to_retry} to retry")
        parts += [f"elapsed {clock(elapsed)}", f"ETA {eta}"]
        return " | ".join(parts)

    def refresh(self) -> None:
        if self.live:
            self._draw_bar()

    def close(self) -> None:
        if self.live and self._bar_shown:
            self._draw_bar()
            self.out.write("\n")
            self._bar_shown = 0
        self.out.flush()

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.live:
            self._clear_bar()
            self.out.write(f"{stamp} {text}\n")
            self._draw_bar()
        else:
            self.out.write(f"{stamp} {text}\n{stamp}   {self.status()}\n")
        self.out.flush()

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.out.write("\r" + " " * self._bar_shown + "\r")
            self._bar_shown = 0

    def _draw_bar(self) -> None:
        text = self.status()
        padding = max(self._bar_shown - len(text), 0)
        self.out.write("\r" + text + " " * padding)
        self._bar_shown = len(text)
        self.out.flush()
