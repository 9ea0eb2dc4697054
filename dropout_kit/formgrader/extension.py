"""What the extension adds to an instructor's server (dropout_kit.formgrader): the kit's routes,
the policy, and nbgrader's list pages rendered without inline scripts."""
from __future__ import annotations

from jinja2 import Environment
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.formgrader import handlers as nbgrader_handlers

from dropout_kit.formgrader import policy, routes
from dropout_kit.pages import scriptless

NBGRADER_ENV = "nbgrader_jinja2_env"
# Added to every list page (nbgrader's base.tpl): the kit's styles and the banner of grading
# on submission.
LIST_PAGE_HEAD = (
    '<link rel="stylesheet" href="{{ base_url }}/dropout-kit/static/formgrader.css">\n'
    '<script src="{{ base_url }}/dropout-kit/static/service-status.js" defer></script>')


def load(serverapp) -> None:
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    scriptless.preload(nbgrader_handlers.template_path)
    web_app.add_handlers(".*$", routes.handlers(base_url))
    web_app.add_transform(_formgrader_transform(web_app, url_path_join(base_url, "formgrader")))
    serverapp.log.info("dropout-kit: the formgrader's pages without inline scripts, with a "
                       "Content-Security-Policy")


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
