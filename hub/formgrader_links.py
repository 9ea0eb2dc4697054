"""The formgrader's links, opened in its own tab, lead to the instructor's own server.

nbgrader's formgrader (static/js/utils.js, linkTo) links a notebook or folder as
/notebooks/<path>, /edit/<path> or /tree/<path>, from the root of the site: behind JupyterHub
that is the hub, which answers 404 (it redirects /x to /hub/x). These handlers, mounted by
JupyterHub under /hub/, send each such link through /hub/user-redirect/ to the logged-in
user's own JupyterLab at the same path.
"""
from urllib.parse import quote

from tornado import web


class FormgraderLink(web.RequestHandler):
    def get(self, kind: str, path: str) -> None:
        target = "lab/tree/" + quote(path)
        self.redirect(f"{self.settings['base_url']}hub/user-redirect/{target}")


HANDLERS = [(r"/(notebooks|edit|tree)/(.*)", FormgraderLink)]
