"""What the formgrader's pages load from the kit, under <base_url>dropout-kit/:

  static/<file>         dropout_kit/pages/static (globals.js, MathJax's settings, the
                        service banner and the kit's styles of the formgrader's pages)
  inline/<sha256>.js    nbgrader's inline scripts and onclick handlers, moved out of its
                        templates (dropout_kit/pages/scriptless.py)
  mathjax/<file>        MathJax 2.7 from the machine (Debian's libjs-mathjax), or, where it is
                        missing, a stand-in that lets the grading page start (TeX shown as is)

  api/on-submission     the state of grading on submission (service_state.py; logged in)

and, in place of nbgrader's, the formgrader's per-submission autograde API (service_state.py).
The static files are nothing secret or a student's: served without login, as nbgrader serves
its static files.
"""
from __future__ import annotations

from pathlib import Path

from jupyter_server.utils import url_path_join
from tornado import web

from dropout_kit.formgrader.service_state import GuardedAutograde, ServiceState
from dropout_kit.pages import scriptless

STATIC = Path(__file__).resolve().parent.parent / "pages" / "static"
MATHJAX = Path("/usr/share/javascript/mathjax")  # Debian's libjs-mathjax (MathJax 2.7)


class InlineScript(web.RequestHandler):
    def get(self, sha: str) -> None:
        script = scriptless.SCRIPTS.get(sha)
        if script is None:
            raise web.HTTPError(404)
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(script)


class AbsentMathJax(web.RequestHandler):
    def get(self, path: str) -> None:
        if path != "MathJax.js":
            raise web.HTTPError(404)
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.finish((STATIC / "mathjax-absent.js").read_text(encoding="utf-8"))


def handlers(base_url: str, mathjax: Path = MATHJAX) -> list[tuple]:
    def at(path: str) -> str:
        return url_path_join(base_url, "dropout-kit", path)

    mathjax_route = ((at("mathjax/(.*)"), web.StaticFileHandler, {"path": str(mathjax)})
                     if (mathjax / "MathJax.js").is_file() else (at("mathjax/(.*)"), AbsentMathJax))
    return [
        (at("static/(.*)"), web.StaticFileHandler, {"path": str(STATIC)}),
        (at(r"inline/([0-9a-f]{32})\.js"), InlineScript),
        mathjax_route,
        (at("api/on-submission"), ServiceState),
        # Before nbgrader's own route: the kit's extension loads first (extensions load in the
        # order of their names), and tornado takes the first rule that matches.
        (url_path_join(base_url, r"formgrader/api/submission/([^/]+)/([^/]+)/autograde"), GuardedAutograde),
    ]
