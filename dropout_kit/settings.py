"""Names and limits shared by the course config, the grading kernel and the tools."""

ASSIGNMENT = "dropout"
NOTEBOOK = "dropout.ipynb"


# Per-cell limit while autograding (c.Execute.timeout). The reference solution's
# slowest cell trains for about 2 s on one core.
CELL_TIMEOUT_SECONDS = 120
