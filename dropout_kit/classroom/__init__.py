"""Whole-class tools: `dropout-kit grade` (every submission, in parallel, resumable) and
`dropout-kit report`, reading nbgrader's gradebook and the autograded notebooks."""
