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
* The files those pages and the kit's grading page load (routes.py).

The grading page itself is the kit's template (dropout_kit/pages), chosen by the course's
nbgrader configuration (dropout_kit.engine.config), not by this extension; nbgrader builds
its exporter once, when the server starts: after a change to either, restart the server.
"""
from __future__ import annotations

from jinja2 import Environment
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.formgrader import handlers as nbgrader_handlers

from dropout_kit.formgrader import policy, routes
from dropout_kit.pages import scriptless

NBGRADER_ENV = "nbgrader_jinja2_env"


def _jupyter_server_extension_points():
    return [{"module": "dropout_kit.formgrader"}]


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    scriptless.preload(nbgrader_handlers.template_path)
    web_app.add_handlers(".*$", routes.handlers(base_url))
    web_app.add_transform(_formgrader_transform(web_app, url_path_join(base_url, "formgrader")))
    serverapp.log.info("dropout-kit: the formgrader's pages without inline scripts, with a "
                       "Content-Security-Policy")


# Added to every list page (nbgrader's base.tpl): the kit's styles and the banner of grading
# on submission.
LIST_PAGE_HEAD = (
    '<link rel="stylesheet" href="{{ base_url }}/dropout-kit/static/formgrader.css">\n'
    '<script src="{{ base_url }}/dropout-kit/static/service-status.js" defer></script>')


def scriptless_environment() -> Environment:
    """The environment nbgrader's list pages render with: its templates, rewritten, with the
    kit's additions."""
    loader = scriptless.ScriptlessLoader(nbgrader_handlers.template_path,
                                         head_additions={"base.tpl": LIST_PAGE_HEAD})
    return Environment(loader=loader, autoescape=True)


def _formgrader_transform(web_app, prefix: str):
    """The policy transform; on the first formgrader request it also puts the scriptless
    environment in place of nbgrader's (nbgrader's extension, loaded after this one,
    sets its own when it loads)."""
    base = policy.transform_for(prefix)

    class Transform(base):
        def __init__(self, request):
            super().__init__(request)
            if self.applies and not getattr(web_app.settings.get(NBGRADER_ENV), "kit_scriptless", False):
                environment = scriptless_environment()
                environment.kit_scriptless = True
                web_app.settings[NBGRADER_ENV] = environment

    return Transform
