"""Grading on submission: a service of the course's JupyterHub, run as the instructor, that
grades each new submission with the kit's engine and releases that student's feedback
(README: "Grading on submission")."""
