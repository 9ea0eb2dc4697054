# Course configuration for nbgrader (the course root is this folder).
# Instructors on JupyterHub: set NBGRADER_COURSE_ID and NBGRADER_EXCHANGE_ROOT in the
# environment (or edit the two defaults below); everything else can stay as it is.
import os
from pathlib import Path

from dropout_kit import engine

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

# --- The grading engine (dropout_kit/engine.py) ---
# Hidden checks in a sandboxed checker process, sandboxed and limited kernels (threat model
# in the README; DROPOUT_KIT_SANDBOX=off|rlimits|namespaces|auto), bounded time, robust
# intake of submissions, feedback without hidden code; this environment's bin/ on PATH
# (nbgrader runs alembic). The same engine without this course's settings:
# dropout_kit.engine.global_config.
engine.configure(c, COURSE_ROOT)
