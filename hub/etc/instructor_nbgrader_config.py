# The instructor's ~/.jupyter/nbgrader_config.py: the formgrader (this user's own
# server) works on the course in ~/course, with the course's own configuration
# (sandboxed grading kernels, hidden-check feedback, limits).
import os

c = get_config()  # noqa: F821
load_subconfig(os.path.expanduser("~/course/nbgrader_config.py"))  # noqa: F821
