"""The kit's grading engine as nbgrader configuration, apart from the course's own settings.

`configure(c, course_root)` sets what the kit adds to nbgrader: the hardened execute step
and its checker (SafeExecute), the sandboxed kernels (SandboxKernelManager), the intake of
submissions, the guard on the kit's autograder cells and the feedback scrubbing. The course's
nbgrader_config.py calls it; `global_config` writes the same engine as a stand-alone
nbgrader_config.py (for a JUPYTER_CONFIG_DIR), so that nbgrader's own tests can run through
it (tests/test_nbgrader_peer.py).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from dropout_kit.engine.check_key import course_check_key

# Per-cell limit while autograding (c.Execute.timeout), far above what honest work needs
# (the slowest cell of this course's reference solutions trains for about 2 s on one core).
CELL_TIMEOUT_SECONDS = 120

FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "dropout_kit.engine.feedback_detail.FeedbackDetail",  # needs the kit cells' hidden grade() call
    "dropout_kit.engine.clear_hidden_tests.ClearHiddenTests",  # nbgrader's, without a config warning
    "dropout_kit.engine.scrub_test_tracebacks.ScrubTestTracebacks",
    "dropout_kit.engine.pending_review_feedback.PendingReviewFeedback",
    "dropout_kit.engine.feedback_pending_manual.PendingManualFeedback",
    "dropout_kit.engine.feedback_submitted_at.FeedbackSubmittedAt",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
KIT_TEMPLATES = "dropout_kit.engine.kit_templates.KitTemplates"
SANITIZE_PREPROCESSORS = [
    "dropout_kit.engine.restore_instructor_cells.RestoreInstructorCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
AUTOGRADE_PREPROCESSORS = [
    "dropout_kit.engine.integrity_scan.IntegrityScan",
    "dropout_kit.engine.safe_execute.SafeExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "dropout_kit.engine.guard_grade_cells.GuardGradeCells",
    "nbgrader.preprocessors.SaveAutoGrades",
    "dropout_kit.engine.hold_for_review.HoldForReview",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def configure(c, course_root: Path) -> None:
    """Sets the engine on the nbgrader config `c`; `course_root` holds grader_tests/."""
    os.environ["PATH"] = path_with_environment_bin(os.environ.get("PATH", ""))
    configure_execution(c, course_root)
    configure_sandbox(c, course_root)
    configure_intake(c)
    # Feedback returned to students: hidden-test code and tracebacks that would show it
    # are removed (stock nbgrader leaks them: nbgrader issues #917, #1363).
    c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    # The formgrader's grading page and the feedback render with the kit's templates:
    # student content inert (README: "Student content is inert on every page").
    c.HTMLExporter.preprocessors = [KIT_TEMPLATES]


def path_with_environment_bin(path: str) -> str:
    """`path` with this environment's bin/ in it: nbgrader runs `alembic` as a subprocess,
    found on PATH, even when nobody activated the environment."""
    environment_bin = str(Path(sys.executable).parent)
    if environment_bin in path.split(os.pathsep):
        return path
    return environment_bin + os.pathsep + path if path else environment_bin


def configure_execution(c, course_root: Path) -> None:
    # Per-cell time limit while autograding; the students' two trainings take ~2 s each.
    c.Execute.timeout = CELL_TIMEOUT_SECONDS
    # The hidden checks run in a separate, sandboxed checker process that alone reads this
    # folder; the students' kernels answer its requests and cannot see it (dropout_kit/engine/broker.py).
    c.SafeExecute.grader_tests = str(course_root / "grader_tests")  # assignment A: grader_tests/A/
    # The checks' random numbers are seeded per submission from this secret (never in a
    # kernel or a checker): dropout_kit/engine/check_key.py.
    c.SafeExecute.check_key = course_check_key(course_root)
    # Bounded time: c.Execute.timeout (above) per cell, this per notebook (restarts included).
    c.SafeExecute.notebook_timeout = 900
    c.SafeExecute.max_kernel_restarts = 3
    c.SafeExecute.max_output_bytes = 1_000_000
    # The kernel's replies to the hidden checks' requests, kept in nbgrader's process: per
    # request and per submission (the reference solution's largest reply is 0.8 MB, all of
    # them 3.5 MB). Past a limit the request is refused and the kernel restarted.
    c.SafeExecute.max_reply_bytes = 32 * 1024 * 1024
    c.SafeExecute.max_submission_reply_bytes = 256 * 1024 * 1024
    # On a Dask worker the next submission's kernel is started while this one runs, and
    # imports these before the submission arrives (the assignment's first cell imports both).
    c.SafeExecute.warm_imports = ["torch", "matplotlib.pyplot"]
    c.Autograde.autograde_preprocessors = list(AUTOGRADE_PREPROCESSORS)


def configure_sandbox(c, course_root: Path) -> None:
    # Student code runs in a sandboxed, resource-limited kernel (dropout_kit/engine/sandbox_kernel_manager.py;
    # threat model in the README). DROPOUT_KIT_SANDBOX=off|rlimits|namespaces|auto (default
    # auto: namespaces with bubblewrap when available, else limits only, with a warning).
    c.SandboxKernelManager.mode = os.environ.get("DROPOUT_KIT_SANDBOX", "auto")
    c.SandboxKernelManager.course_root = str(course_root)
    c.SandboxKernelManager.memory_limit_mb = 4096
    c.SandboxKernelManager.max_processes = 256
    c.SandboxKernelManager.max_open_files = 1024
    c.SandboxKernelManager.cpu_time_limit = 1800
    c.SandboxKernelManager.max_file_size_mb = 64
    c.SandboxKernelManager.tmp_size_mb = 256
    # One torch/OpenMP thread per kernel, whoever starts the grading (two `nbgrader autograde`
    # runs at once would otherwise each spin one thread per core).
    c.SandboxKernelManager.threads = int(os.environ.get("DROPOUT_KIT_KERNEL_THREADS", "1"))


def configure_intake(c) -> None:
    # Reading submissions: damaged files, lost/duplicated/edited nbgrader cells, big files.
    c.Autograde.exporter_class = "dropout_kit.engine.submission_exporter.SubmissionExporter"
    # One gradebook writer: while grading on submission runs, nbgrader's autograde (command
    # line or formgrader) is refused before it removes anything.
    c.SubmissionExporter.before_autograde = "dropout_kit.on_submission.control.autograde_refusal"
    c.Autograde.pre_convert_hook = "dropout_kit.engine.canary.pre_convert_hook"  # canary, then unsafe files
    c.SubmissionFiles.max_file_mb = 20
    c.SubmissionFiles.max_total_mb = 100
    c.Autograde.sanitize_preprocessors = list(SANITIZE_PREPROCESSORS)
    # Collecting: a folder handed in under another student's name, or dated in the future, is refused.
    from dropout_kit import exchange
    exchange.configure(c)


GLOBAL_CONFIG = """\
# The dropout-kit grading engine, as configured for the course at {root!r}.
from pathlib import Path

from dropout_kit import engine

engine.configure(get_config(), Path({root!r}))  # noqa: F821
"""


def global_config(folder: Path, course_root: Path) -> Path:
    """Writes folder/nbgrader_config.py holding only the engine (for JUPYTER_CONFIG_DIR)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nbgrader_config.py"
    path.write_text(GLOBAL_CONFIG.format(root=str(course_root)), encoding="utf-8")
    return path
