"""The grading engine: nbgrader plug-ins (one class per file, named after it) and what they
share. A course's nbgrader_config.py calls `configure(c, course_root)`."""
from dropout_kit.engine.config import configure, global_config  # noqa: F401
