"""Grading on a Dask cluster: the coordinator sends each submission to a worker, which runs it
through the course's sandboxed execution and hidden checks; only the coordinator writes grades."""
