"""An nbgrader course kit: hidden checks run outside the student's kernel, sandboxed grading,
feedback without hidden code, and tools for a whole class."""
