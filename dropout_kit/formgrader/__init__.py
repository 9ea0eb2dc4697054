"""The kit's Jupyter server extension for nbgrader's formgrader (enabled by the file
jupyter-config/jupyter_server_config.d/dropout-kit.json, which installing the kit puts in
the environment's etc/jupyter; README: "Student content is inert on every page").

* The formgrader's pages get a Content-Security-Policy without inline scripts (policy.py).
* nbgrader's list pages are rendered from its templates with their inline scripts moved out
  (dropout_kit/pages/scriptless.py) and with autoescaping on (an id taken from the address,
  such as /formgrader/manage_students/<id>, is shown as text); each shows the state of
  grading on submission at its top (service_state.py, static/service-status.js).
* The per-submission Autograde is refused in plain words while grading on submission runs
  (service_state.py).
* The files those pages and the kit's grading page load (routes.py); all of it set up by
  extension.py, in an instructor's server only (one with nbgrader's formgrader).

The grading page itself is the kit's template (dropout_kit/pages), chosen by the course's
nbgrader configuration (dropout_kit.engine.config), not by this extension; nbgrader builds
its exporter once, when the server starts: after a change to either, restart the server.
"""
from __future__ import annotations

NBGRADER_FORMGRADER = "nbgrader.server_extensions.formgrader"


def _jupyter_server_extension_points():
    return [{"module": "dropout_kit.formgrader"}]


def _load_jupyter_server_extension(serverapp) -> None:
    if not serverapp.jpserver_extensions.get(NBGRADER_FORMGRADER):
        return  # a student's server: no formgrader, nothing to add (nor to import)
    from dropout_kit.formgrader.extension import load
    load(serverapp)
