"""The hidden checks' side: the runner, the checker process and the student's notebook as
the checks reach it (requests to the kernel's agent, plain data back)."""
