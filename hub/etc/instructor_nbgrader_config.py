# The instructor's ~/.jupyter/nbgrader_config.py: the formgrader (this user's own
# server, which starts in the home folder) works on the course in ~/course, with the
# course's own configuration (sandboxed grading kernels, hidden-check feedback, limits).
# A command run inside another course folder (one with its own nbgrader_config.py) uses
# that course alone: the two configurations are never mixed.
import os

c = get_config()  # noqa: F821
if not os.path.exists("nbgrader_config.py"):
    load_subconfig(os.path.expanduser("~/course/nbgrader_config.py"))  # noqa: F821
