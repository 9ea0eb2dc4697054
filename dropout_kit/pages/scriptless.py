"""nbgrader's formgrader templates without inline scripts, so that a Content-Security-Policy
can forbid every inline script on the formgrader's pages (dropout_kit/formgrader).

nbgrader's pages (its .tpl pages and the grading page's macros) set a few globals in inline
`<script>` elements, run a little static code inline and use `onclick="…"`. Their sources are
rewritten as they are loaded, nbgrader's text left otherwise as it is:

* an inline script that only sets globals (`var name = "…{{ expression }}…";` lines) becomes
  `<script src=".../dropout-kit/static/globals.js" data-name="…">`: the values, escaped,
  travel as attributes and globals.js sets them;
* any other inline script, which must hold no template expression (static code), is served
  as a file of its own, `.../dropout-kit/inline/<sha256>.js`, at the same place in the page;
* `onclick="code"` becomes `data-kit-onclick="<sha256>"`, with a script just before the
  element that registers the code as a function under that name (globals.js runs it).

The scripts are nbgrader's, not a student's: what the pages carry from students is made inert
by the kit's templates (inert.py). A template this cannot rewrite (an inline script with other
template expressions, another event attribute) is an error, never served with a hole.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from jinja2 import BaseLoader, TemplateNotFound

# The address prefix of the kit's scripts, under the server's base URL.
KIT_PREFIX = "/dropout-kit"
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(?P<body>.*?)</script>", re.S | re.I)
GLOBAL = re.compile(r'var\s+(?P<name>\w+)\s*=\s*"(?P<value>[^"]*)"\s*;')
EXPRESSION = re.compile(r"\{\{(?P<expr>.*?)\}\}", re.S)
EVENT_ATTRIBUTE = re.compile(r'(?<=\s)on(?P<event>[a-z]+)\s*=\s*"(?P<code>[^"]*)"', re.I)
ANY_EVENT_ATTRIBUTE = re.compile(r"(?<=\s)on[a-z]+\s*=", re.I)
# How the template itself addresses the server (e.g. `{{ base_url }}` or
# `{{ resources.base_url }}`), read from its own links to nbgrader's static files.
BASE_URL = re.compile(r'(?:src|href)="(?P<base>\{\{[^}]*\}\})/formgrader/static/')

# sha256 → script text: the static inline scripts and the onclick handlers of the templates
# loaded in this process, served by the formgrader extension at /dropout-kit/inline/<sha>.js.
SCRIPTS: dict[str, str] = {}


class TemplateRewriteError(Exception):
    """A template holds inline code the rewrite does not know how to move out."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _escaped(text: str) -> str:
    """Template text for an attribute value: each expression escaped."""
    return EXPRESSION.sub(lambda m: "{{ (" + m.group("expr").strip() + ") | e }}", text)


def _globals_script(body: str, base: str) -> str | None:
    """`<script src=globals.js data-…>` for a body of global assignments only, else None."""
    pairs = GLOBAL.findall(body)
    if not pairs or GLOBAL.sub("", body).strip():
        return None
    data = " ".join(f'data-{name}="{_escaped(value)}"' for name, value in pairs)
    return f'<script src="{base}{KIT_PREFIX}/static/globals.js" {data}></script>'


def _inline_script(match: re.Match, base: str, name: str) -> str:
    body = match.group("body")
    moved = _globals_script(body, base)
    if moved is not None:
        return moved
    if "{{" in body or "{%" in body:
        raise TemplateRewriteError(f"{name}: an inline script with template code")
    sha = _sha(body)
    SCRIPTS[sha] = body
    return f'<script src="{base}{KIT_PREFIX}/inline/{sha}.js"></script>'


def _handler(match: re.Match, base: str, name: str, before: list[str]) -> str:
    event, code = match.group("event").lower(), match.group("code")
    if event != "click" or "{{" in code or "{%" in code:
        raise TemplateRewriteError(f"{name}: on{event}={code!r}")
    sha = _sha(code)
    SCRIPTS[sha] = (f"window.kitHandlers = window.kitHandlers || {{}};\n"
                    f"window.kitHandlers[{sha!r}] = function (event) {{ {code} }};\n")
    before.append(f'<script src="{base}{KIT_PREFIX}/inline/{sha}.js"></script>')
    return f'data-kit-onclick="{sha}"'


def _handlers(source: str, base: str, name: str) -> str:
    """Each element with onclick: the attribute replaced, its handler's script put before it."""
    out, last = [], 0
    for tag in re.finditer(r"<[a-zA-Z][^>]*>", source):
        if not ANY_EVENT_ATTRIBUTE.search(tag.group(0)):
            continue
        before: list[str] = []
        rewritten = EVENT_ATTRIBUTE.sub(lambda m: _handler(m, base, name, before), tag.group(0))
        out += [source[last:tag.start()], *before, rewritten]
        last = tag.end()
    return "".join(out) + source[last:]


def rewrite(source: str, name: str) -> str:
    """The template `source` with its inline scripts and onclick attributes moved out."""
    if not INLINE_SCRIPT.search(source) and not ANY_EVENT_ATTRIBUTE.search(source):
        return source
    found = BASE_URL.search(source)
    if found is None:
        raise TemplateRewriteError(f"{name}: inline code, but no link to the formgrader's static files")
    base = found.group("base")
    source = INLINE_SCRIPT.sub(lambda m: _inline_script(m, base, name), source)
    source = _handlers(source, base, name)
    if ANY_EVENT_ATTRIBUTE.search(source) or INLINE_SCRIPT.search(source):
        raise TemplateRewriteError(f"{name}: inline code left after the rewrite")
    return source


class ScriptlessLoader(BaseLoader):
    """Templates from `folder`, each rewritten by `rewrite` (nbgrader's formgrader templates);
    `head_additions` (template name → markup) is put at the end of that template's <head>."""

    def __init__(self, folder: str | Path, names: set[str] | None = None,
                 head_additions: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.names = names  # None: every template in the folder
        self.head_additions = head_additions or {}

    def get_source(self, environment, template):
        if self.names is not None and template not in self.names:
            raise TemplateNotFound(template)
        path = self.folder / template
        if not path.is_file():
            raise TemplateNotFound(template)
        source = rewrite(path.read_text(encoding="utf-8"), template)
        if template in self.head_additions:
            if source.count("</head>") != 1:
                raise TemplateRewriteError(f"{template}: no single </head> to add the kit's files to")
            source = source.replace("</head>", self.head_additions[template] + "\n</head>")
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.stat().st_mtime == mtime

    def list_templates(self):
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                      if p.is_file() and (self.names is None or p.name in self.names))


def preload(folder: str | Path) -> None:
    """Rewrites every template of `folder` once, so that SCRIPTS holds their scripts before
    a page that needs them is requested (a browser may ask for a script of a page it kept
    from before a restart)."""
    folder = Path(folder)
    for path in folder.rglob("*"):
        if path.suffix in (".tpl", ".j2"):
            rewrite(path.read_text(encoding="utf-8"), path.relative_to(folder).as_posix())
