"""Pages people open: what a student controls on them is made inert (inert.py), with the
kit's formgrade and feedback templates (templates/) and the static files of the
formgrader's pages (static/)."""
