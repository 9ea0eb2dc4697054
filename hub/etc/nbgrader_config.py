# nbgrader settings for everybody on the hub (installed as
# <hub environment>/etc/jupyter/nbgrader_config.py, read by every server and every
# `nbgrader` command; an instructor's ~/.jupyter/nbgrader_config.py adds the course).
c = get_config()  # noqa: F821

# The exchange at nbgrader's documented place, shared by all users (mode 1777).
c.Exchange.root = "/srv/nbgrader/exchange"
c.CourseDirectory.course_id = "dl-dropout"

# Validate (the button and `nbgrader validate`) reports every code cell that fails,
# not only graded cells: the assignment's 자가 점검 cells and unanswered parts, with
# their Korean messages. Without it, a notebook whose self-check fails "passes all the
# tests" (the release's autograder cells hold no visible test). No grade changes:
# autograding does not read this option.
c.Validator.validate_all = True

# A submission without the assignment's notebook (e.g. renamed) is refused with
# nbgrader's message (Expected: dropout.ipynb: MISSING ...) in a dialog, instead of being
# accepted with a warning nobody sees (it is only logged) and graded 0 later. Nothing is
# lost: the student's files stay where they are.
c.ExchangeSubmit.strict = True
