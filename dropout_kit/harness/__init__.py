"""A course driven the way instructors and students drive it (nbgrader's own commands), and
sample submissions: the demo, the tests and the benchmarks build on it."""
