"""Course kit for the dropout assignment: hidden-check runner, feedback and grading tools."""
