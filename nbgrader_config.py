# Course configuration for nbgrader (the course root is this folder).
# Instructors on JupyterHub: set NBGRADER_COURSE_ID and NBGRADER_EXCHANGE_ROOT in the
# environment (or edit the two defaults below); everything else can stay as it is.
import os
import sys
from pathlib import Path

from dropout_kit import settings

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)
COURSE_ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "dl-dropout")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
# The gradebook: SQLite in the course root unless NBGRADER_DB_URL names another
# database (e.g. postgresql://grader@dbhost/course).
if "NBGRADER_DB_URL" in os.environ:
    c.CourseDirectory.db_url = os.environ["NBGRADER_DB_URL"]

# Grader code never lives under source/dropout/: nbgrader releases all of it.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# What students see in place of a solution region.
c.ClearSolutions.code_stub = {"python": "# 여기에 코드를 작성하세요\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "여기에 답을 작성하세요."

# Per-cell time limit while autograding; the students' two trainings take ~2 s each.
c.Execute.timeout = settings.CELL_TIMEOUT_SECONDS

# Feedback returned to students: hidden-test code and tracebacks that would show it
# are removed (stock nbgrader leaks them: nbgrader issues #917, #1363).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "dropout_kit.feedback.ScrubTestTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# The hidden checks are found through this variable by the grading kernel, whose
# working directory is autograded/<student>/dropout/. Assigned, not defaulted: a value
# left in the environment (another course, an old clone) must not choose the checks.
os.environ[settings.GRADER_TESTS_ENV] = str(COURSE_ROOT / "grader_tests")

# nbgrader runs `alembic` as a subprocess: make this environment's bin/ reachable
# even when nobody activated it.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# --- Sandbox and limits (issue 4) ---
# Student code runs in a sandboxed, resource-limited kernel (dropout_kit/sandbox.py;
# threat model in the README). DROPOUT_KIT_SANDBOX=off|rlimits|namespaces|auto (default
# auto: namespaces with bubblewrap when available, else limits only, with a warning).
c.SandboxKernelManager.mode = os.environ.get("DROPOUT_KIT_SANDBOX", "auto")
c.SandboxKernelManager.course_root = str(COURSE_ROOT)
c.SandboxKernelManager.read_only_paths = [str(COURSE_ROOT / "grader_tests")]
c.SandboxKernelManager.memory_limit_mb = 4096
c.SandboxKernelManager.max_processes = 256
c.SandboxKernelManager.max_open_files = 1024
c.SandboxKernelManager.cpu_time_limit = 1800
c.SandboxKernelManager.max_file_size_mb = 64
c.SandboxKernelManager.tmp_size_mb = 256
# Bounded time: c.Execute.timeout (above) per cell, this per notebook (restarts included).
c.SafeExecute.notebook_timeout = 900
c.SafeExecute.max_kernel_restarts = 3
c.SafeExecute.max_output_bytes = 1_000_000
# Reading submissions: damaged files, lost/duplicated/edited nbgrader cells, big files.
c.Autograde.exporter_class = "dropout_kit.intake.SubmissionExporter"
c.Autograde.pre_convert_hook = "dropout_kit.intake.skip_unsafe_files"
c.SubmissionFiles.max_file_mb = 20
c.SubmissionFiles.max_total_mb = 100
c.Autograde.sanitize_preprocessors = [
    "dropout_kit.intake.RestoreInstructorCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "dropout_kit.execute.SafeExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "dropout_kit.grade_cells.GuardGradeCells",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
