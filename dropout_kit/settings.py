"""Names and limits shared by the course config, the grading kernel and the tools."""

ASSIGNMENT = "dropout"
NOTEBOOK = "dropout.ipynb"

# Environment variable through which the grading kernel finds the hidden checks.
GRADER_TESTS_ENV = "DROPOUT_KIT_GRADER_TESTS"

# Per-cell limit while autograding (c.Execute.timeout). The reference solution's
# slowest cell trains for about 2 s on one core.
CELL_TIMEOUT_SECONDS = 120
