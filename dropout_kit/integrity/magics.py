"""IPython's own lines in a student's cell, as the integrity scan reads them
(dropout_kit.integrity.scan): which magics run Python and what, which run a shell command,
what IPython evaluates as Python inside their text, and what a `%config` line executes.

IPython expands `{expression}` and `$name` in the text of a `!` line and of every line magic
but %time, %timeit, %prun and %debug (`var_expand`): each expression is evaluated in the
kernel, so the scan reads it as Python (`expand`). A magic that hands its expanded line to
the shell (`%sx`, `%pip`, the `%ls` aliases ...) has it expanded a second time: text
computed by the first expansion would be evaluated again, so such a line is flagged
(SHELL_MAGICS). `%config Class.trait = value` executes `cfg.Class.trait = value` as Python
in the kernel's namespace (`config_statement`).

This module only reads text (IPython's own parsers, nothing evaluated); the rules that judge
what it finds are the scan's.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# -- the rules ----------------------------------------------------------------------------
# Magics that run their argument or body as Python: scanned like a cell (python_code_of_magic).
PYTHON_MAGICS = frozenset({"time", "timeit", "prun", "capture", "debug"})
# Magics whose line IPython does not expand (`@no_var_expand`): their text is their code.
NO_VAR_EXPAND = frozenset({"time", "timeit", "prun", "debug"})
# Magics that change nothing the checks rely on. pinfo & co. (`x?`) only look an object up:
# their argument is scanned as an expression.
HARMLESS_MAGICS = frozenset({
    "matplotlib", "pylab", "who", "whos", "who_ls", "pwd", "cd", "pushd", "popd", "dirs", "dhist",
    "lsmagic", "magic", "quickref", "precision", "xmode", "autosave", "pprint", "colors", "page",
    "pycat", "tb", "psearch", "markdown", "latex"})
LOOKUP_MAGICS = frozenset({"pinfo", "pinfo2", "pdoc", "pdef", "psource", "pfile"})
# Magics that run their (expanded) text as a shell command, in a subprocess: honest, like
# `!` lines; as line magics IPython expands that text again before the shell gets it, so a
# line whose text is computed at run time is flagged.
SHELL_MAGICS: dict[str, str] = {
    **dict.fromkeys(("sx", "system", "sc", "!"), "%sx (a shell command)"),
    **{name: f"%{name} (installs packages with a shell command)"
       for name in ("pip", "conda", "mamba", "micromamba", "uv")},
    **{name: f"%{name} (a shell alias)" for name in (
        "ls", "ll", "lsx", "lf", "lk", "lx", "ldir", "cat", "cp", "mv", "rm", "rmdir", "mkdir", "clear",
        "less", "more", "man")},
}
EXPANDED_TWICE = "with text computed at run time, which IPython expands again as Python"
FLAGGED_MAGICS: dict[str, str] = {
    "run": "%run (runs a file or module)",
    "load": "%load (loads code from a file, URL or history)",
    "loadpy": "%loadpy (loads code from a file)",
    # in the background (--bg) beside the grading, binding variables (--out): not a `!` line
    **{name: f"%%{name} (runs its body in another program)"
       for name in ("script", "bash", "sh", "python", "python2", "python3", "pypy", "perl", "ruby")},
    "writefile": "%%writefile (writes a file, e.g. a module a later import runs)",
    "file": "%%file (writes a file, e.g. a module a later import runs)",
    "alias": "%alias (defines shell commands)",
    "unalias": "%unalias (shell aliases)",
    "rehashx": "%rehashx (shell aliases)",
    "load_ext": "%load_ext (loads an IPython extension)",
    "reload_ext": "%reload_ext (loads an IPython extension)",
    "unload_ext": "%unload_ext (IPython extensions)",
    "autoreload": "%autoreload (reloads modules behind the code's back)",
    "aimport": "%aimport (reloads modules behind the code's back)",
    "macro": "%macro (code replayed from the history)",
    "store": "%store (variables kept between sessions)",
    "recall": "%recall (code from the history)",
    "rerun": "%rerun (code from the history)",
    "edit": "%edit (code from an editor or file)",
    "history": "%history (IPython's history database)",
    "hist": "%hist (IPython's history database)",
    "pdb": "%pdb (the debugger on every error)",
    "reset": "%reset (clears the kernel's namespace, where the kit's agent lives)",
    "reset_selective": "%reset_selective (clears the kernel's namespace)",
    "xdel": "%xdel (deletes from the kernel's namespace)",
    "autocall": "%autocall (changes how IPython reads the following code)",
    "automagic": "%automagic (changes how IPython reads the following code)",
    "doctest_mode": "%doctest_mode (changes how IPython reads the following code)",
    "gui": "%gui (an event loop in the kernel)",
    "connect_info": "%connect_info (the kernel's connection keys)",
    "qtconsole": "%qtconsole (connects to the kernel)",
    "killbgscripts": "%killbgscripts (background processes)",
    "javascript": "%%javascript (code run in the viewer's browser)",
    "js": "%%js (code run in the viewer's browser)",
    "html": "%%html (markup and scripts run in the viewer's browser)",
    "env": "%env setting an environment variable",
}
# The one configurable a notebook may set with %config: how the inline backend draws
# figures (`%config InlineBackend.figure_format = 'retina'`).
CONFIGURABLE = "InlineBackend"
CONFIG_OTHER = "%config of anything but InlineBackend.<trait> = <value> (changes the kernel's configuration)"
# IPython's own calls for shell lines: `!cmd` (system), `!!cmd` and `x = !cmd` (getoutput).
SHELL_METHODS = frozenset({"system", "getoutput"})
# Where a shell command's words end (Python file names are looked for among them).
SHELL_WORD_BREAKS = re.compile(r"[\s'\"`;|&<>()=,]+")


def magic_rule(name: str, line: str, cell: str | None = None) -> str | None:
    """The construct of a magic that does not run Python code (PYTHON_MAGICS are scanned),
    or None; the Python it evaluates (expansions, a %config value) is read by the scan."""
    if name in HARMLESS_MAGICS or name in LOOKUP_MAGICS:
        return None
    if name in SHELL_MAGICS:
        twice = cell is None and expand(line).text is None  # its first expansion computes text
        return f"{SHELL_MAGICS[name]} {EXPANDED_TWICE}" if twice else None
    if name == "config":
        text = expand(line).text
        return f"%config {EXPANDED_TWICE}" if text is None else config_statement(text)[0]
    if name == "env":
        return FLAGGED_MAGICS["env"] if ("=" in line or len(line.split()) > 1) else None
    return FLAGGED_MAGICS.get(name, f"%{name} (an IPython magic the scan does not know)")


# -- IPython's expansion of `{…}` and `$name` -------------------------------------------------
@dataclass(frozen=True)
class Expansion:
    fields: tuple[str, ...]  # the Python expressions IPython evaluates, in order
    text: str | None  # the text after expansion; None when it depends on those values


def expand(text: str) -> Expansion:
    """What IPython's `var_expand` evaluates in `text`, read with its own parser
    (DollarFormatter: `{expr}`, `{expr!r}`, `{expr:spec}` evaluated as `expr:spec`, `$name.attr`;
    `{{`, `}}` and `$$` are escapes). The expanded text is known when every field is a
    literal (`{'png', 'retina'}`); a format error stops the expansion after evaluating the
    fields before it, and IPython keeps the text as it was."""
    from IPython.utils.text import DollarFormatter

    formatter = DollarFormatter()
    fields: list[str] = []
    parts: list[str | None] = []
    try:
        for literal_text, field, spec, conversion in formatter.parse(text):
            parts.append(literal_text)
            if field is not None:
                expression = f"{field}:{spec}" if spec else field
                if not _parses(expression):  # eval raises before running it: the text stays as it was
                    return Expansion(tuple(fields), text)
                fields.append(expression)
                parts.append(_literal_text(formatter, expression, conversion))
    except ValueError:  # a malformed format
        return Expansion(tuple(fields), text)
    return Expansion(tuple(fields), None if None in parts else "".join(parts))


def _parses(expression: str) -> bool:
    try:
        ast.parse(expression.strip(" \t"), mode="eval")  # eval() strips spaces and tabs
    except Exception:  # noqa: BLE001 - SyntaxError, RecursionError ...
        return False
    return True


def _literal_text(formatter, expression: str, conversion: str | None) -> str | None:
    """The text of a field that is a literal, as IPython formats it; None for any other."""
    try:
        return format(formatter.convert_field(ast.literal_eval(expression), conversion), "")
    except Exception:  # noqa: BLE001 - not a literal (ValueError, SyntaxError, RecursionError ...)
        return None


def shell_words(command: str) -> list[str]:
    return [word for word in SHELL_WORD_BREAKS.split(command) if word]


# -- %config ------------------------------------------------------------------------------------
def config_statement(line: str) -> tuple[str | None, str | None]:
    """(construct, Python value it evaluates) of an expanded %config line. IPython shows the
    configuration for a line without `=`; otherwise it runs `exec("cfg." + line)` in the
    kernel's namespace: honest is one assignment to `InlineBackend.<trait>`, whose value is
    returned to be read as Python."""
    line = line.strip()
    if "=" not in line:
        return None, None
    try:
        tree = ast.parse("cfg." + line)
    except (SyntaxError, ValueError, RecursionError):  # nothing runs
        return None, None
    statement = tree.body[0] if len(tree.body) == 1 else None
    target = statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else None
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and target.value.attr == CONFIGURABLE and isinstance(target.value.value, ast.Name)
            and target.value.value.id == "cfg"):
        return CONFIG_OTHER, None
    return None, ast.unparse(statement.value)


# -- the Python code of %time, %timeit, %prun, %capture, %debug ------------------------------
class _OptionParser:
    """IPython's own option parser of %timeit and %prun, without a shell."""
    options_table: dict = {}

    def __init__(self):
        from IPython.core.magic import Magics
        self._parse = Magics.parse_options

    def parse(self, line: str, spec: str, **kw):
        return self._parse(self, line, spec, **kw)


def python_code_of_magic(name: str, line: str, cell: str | None = None) -> list[tuple[str, int]] | None:
    """The Python code IPython runs for a %time / %timeit / %prun / %capture / %debug magic,
    read with IPython's own argument parsers: (code, offset of its first line from the
    magic's line). [] when IPython refuses the arguments (nothing runs); None when `name`
    does not run Python code."""
    if name not in PYTHON_MAGICS:
        return None
    from IPython.core import magic_arguments
    from IPython.core.error import UsageError
    from IPython.core.magics.execution import ExecutionMagics
    try:
        if name == "time":
            _, extra = magic_arguments.parse_argstring(ExecutionMagics.time, line, partial=True)
            statement = " ".join(extra)
            if cell is None:
                return [(statement, 0)]
            return [] if statement else [(cell, 1)]
        if name == "timeit":
            _, statement = _OptionParser().parse(line, "n:r:tcp:qov:", posix=False, strict=False,
                                                 preserve_non_opts=True)
            return [(statement, 0)] if cell is None else [(statement, 0), (cell, 1)]
        if name == "prun":
            _, statement = _OptionParser().parse(line, "D:l:rs:T:q", list_all=True, posix=False)
            return [(statement if cell is None else statement + "\n" + cell, 0)]
        if name == "debug":
            args, extra = magic_arguments.parse_argstring(ExecutionMagics.debug, line, partial=True)
            if not (args.breakpoint or extra or cell):
                return []
            if not (args.breakpoint or cell):
                return [(line, 0)]
            return [(" ".join(extra) + ("\n" + cell if cell else ""), 0)]
        return [] if cell is None else [(cell, 1)]  # capture: a cell magic
    except (UsageError, SystemExit):
        return []
    except Exception:  # noqa: BLE001 - IPython changed: read the raw arguments instead
        return [(line, 0)] + ([(cell, 1)] if cell is not None else [])
