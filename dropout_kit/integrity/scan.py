"""The integrity scan: constructs in a student's cells that can change how torch, Python,
the kernel or the grader behave, or look at the grading machinery.

The scan reads nbgrader's copy of the notebook with Python's `ast`; it never runs the
student's code. Each cell is first transformed exactly as IPython runs it (`%magics`,
`!shell` lines and `%%cell magics` become `get_ipython()` calls), then parsed. Code that a
magic runs as Python (`%time`, `%%timeit`, `%%capture`, ...) is scanned too; magics that run
anything else are flagged. A cell that does not parse is not flagged: the kernel shows the
student the error and runs nothing of it.

A flagged construct does not cost points by itself: the autograder cells after it are held
for a person (dropout_kit.engine.integrity_scan), with the evidence of each finding.

Judgement calls (the tables below): honest are %matplotlib (any backend), IPython.display,
items of os.environ and of matplotlib's rcParams, torch.backends flags, gc.collect(),
warnings filters, files opened in the working folder, reading or writing globals();
flagged are %config, `%env NAME=value`, %pip and every shell command, magics the scan does
not know, torch.load(weights_only=False), torch.set_grad_enabled(False) outside a `with`,
sockets, and strings naming a `.py` file or the grading machinery.

What a static reading cannot see: code the notebook writes to a file and imports later
(a string naming a `.py` file is flagged, a name built from pieces is not), library objects
reached through containers or function results (`[torch][0].equal = f`), names built at run
time outside the constructs below (the kit's agent found by iterating globals()), and
anything a flagged construct does.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from dropout_kit.cells import grade_id as cell_grade_id
from dropout_kit.cells import nbgrader_metadata

# -- the rules ----------------------------------------------------------------------------
# Dotted names are library paths after the aliases are resolved (`import torch.nn as nn`,
# `from torch.nn import functional as F`, `m = torch.nn`): `nn.Module` is torch.nn.Module.

# Modules and objects flagged wherever they are imported or reached: the name and
# everything under it.
FLAGGED_PATHS: dict[str, str] = {
    # code loaded or run behind the cell's back
    "importlib": "importlib (imports or reloads modules by computed names)",
    "pkgutil": "pkgutil (imports modules by computed names)",
    "zipimport": "zipimport (imports code from archives)",
    "runpy": "runpy (runs modules and files)",
    "code": "the code module (an interpreter that runs strings)",
    "codeop": "codeop (compiles strings)",
    "site": "site (changes the import path)",
    "types.FunctionType": "types.FunctionType (builds functions from code objects)",
    "types.CodeType": "types.CodeType (builds code objects)",
    "types.ModuleType": "types.ModuleType (builds fake modules)",
    "pickle": "pickle (loading a pickle runs code)",
    "_pickle": "pickle (loading a pickle runs code)",
    "cPickle": "pickle (loading a pickle runs code)",
    "marshal": "marshal (loads code objects)",
    "dill": "dill (loading a pickle runs code)",
    "cloudpickle": "cloudpickle (loading a pickle runs code)",
    "shelve": "shelve (pickles on disk)",
    "joblib": "joblib (pickles and worker processes)",
    "copyreg": "copyreg (changes how objects are pickled, the way the kernel answers the checker)",
    "pandas.read_pickle": "pandas.read_pickle (loading a pickle runs code)",
    "ctypes": "ctypes (raw memory and C calls)",
    "_ctypes": "ctypes (raw memory and C calls)",
    "cffi": "cffi (C calls)",
    "numpy.ctypeslib": "numpy.ctypeslib (C calls)",
    "torch.hub": "torch.hub (downloads and runs code)",
    "torch.package": "torch.package (packaged code, unpickled)",
    "torch.utils.cpp_extension": "torch.utils.cpp_extension (compiles and loads C++ code)",
    "torch.ops.load_library": "torch.ops.load_library (loads compiled code into torch)",
    "torch.classes": "torch.classes (loads compiled code into torch)",
    # global hooks and modes that change torch for every caller, the checks' requests included
    "torch.overrides": "torch.overrides (TorchFunctionMode: intercepts every torch call)",
    "torch.library": "torch.library (registers or replaces torch operators)",
    "torch.utils._python_dispatch": "TorchDispatchMode (intercepts every torch operation)",
    # frames, tracing and the debugger
    "sys.modules": "sys.modules (the kernel's imported modules)",
    "sys.meta_path": "sys.meta_path (the import machinery)",
    "sys.path_hooks": "sys.path_hooks (the import machinery)",
    "sys.path_importer_cache": "sys.path_importer_cache (the import machinery)",
    "sys.path": "sys.path (where imports are found: a file the notebook wrote)",
    "sys.settrace": "sys.settrace (runs code on every line)",
    "sys.setprofile": "sys.setprofile (runs code on every call)",
    "sys.addaudithook": "sys.addaudithook (runs code on every audited event)",
    "sys.monitoring": "sys.monitoring (runs code on every event)",
    "sys.call_tracing": "sys.call_tracing (tracing)",
    "sys.remote_exec": "sys.remote_exec (runs code in a process)",
    "sys.setdlopenflags": "sys.setdlopenflags (how C extensions load)",
    "inspect": "inspect (frames, callers and source of the running code)",
    "traceback.walk_stack": "traceback.walk_stack (the callers' frames)",
    "traceback.walk_tb": "traceback.walk_tb (frames)",
    "traceback.extract_stack": "traceback.extract_stack (the callers' code)",
    "traceback.format_stack": "traceback.format_stack (the callers' code)",
    "traceback.print_stack": "traceback.print_stack (the callers' code)",
    "traceback.StackSummary": "traceback.StackSummary (the callers' code)",
    "pdb": "pdb (the debugger)",
    "bdb": "bdb (the debugger)",
    "trace": "the trace module (runs code on every line)",
    "faulthandler": "faulthandler (signal handlers, dumps of every frame)",
    "signal": "signal (handlers of the signals the grader sends)",
    "resource": "resource (the kernel's limits)",
    "atexit": "atexit (code run when the kernel ends)",
    # threads and processes
    "threading": "threading (threads that run beside the grading)",
    "_thread": "threads (run beside the grading)",
    "multiprocessing": "multiprocessing (processes)",
    "torch.multiprocessing": "torch.multiprocessing (processes)",
    "concurrent": "concurrent.futures (threads or processes)",
    "subprocess": "subprocess (runs programs)",
    "pty": "pty (runs programs)",
    "asyncio": "asyncio (event loops and subprocesses)",
    "nest_asyncio": "nest_asyncio (event loops)",
    "os.system": "os.system (runs a shell command)",
    "os.popen": "os.popen (runs a shell command)",
    "os.fork": "os.fork (a process)",
    "os.forkpty": "os.forkpty (a process)",
    "os.register_at_fork": "os.register_at_fork (hooks on new processes)",
    "os.kill": "os.kill (signals to processes)",
    "os.killpg": "os.killpg (signals to processes)",
    "os.pidfd_open": "os.pidfd_open (other processes)",
    "os._exit": "os._exit (ends the kernel)",
    "os.abort": "os.abort (ends the kernel)",
    "os.setsid": "os.setsid (process groups)",
    "os.setpgid": "os.setpgid (process groups)",
    "os.setpgrp": "os.setpgrp (process groups)",
    "os.dup2": "os.dup2 (redirects the kernel's output)",
    "os.openpty": "os.openpty (terminals)",
    "os.startfile": "os.startfile (runs programs)",
    "socket": "socket (network and the kernel's sockets)",
    "socketserver": "socketserver (network)",
    # the kernel and the shell
    "IPython": "IPython's internals (the kernel's shell)",
    "ipykernel": "ipykernel (the kernel's internals)",
    "zmq": "zmq (the kernel's message channels)",
    "jupyter_client": "jupyter_client (kernel connections)",
    "jupyter_core": "jupyter_core (Jupyter's paths and configuration)",
    "comm": "comm (messages to the front end)",
    "builtins": "the builtins module (Python's own functions)",
    # the kit's machinery
    "dropout_kit": "the grading kit (dropout_kit)",
    "nbgrader": "nbgrader",
    "pytest": "pytest (the checks' test runner)",
    "_pytest": "pytest (the checks' test runner)",
    "pluggy": "pluggy (pytest's plugins)",
    "grader_tests": "the hidden checks (grader_tests)",
    "conftest": "the hidden checks' conftest",
    "lecture": "the hidden checks' lecture module",
    "sample_mistakes": "the hidden checks' sample mistakes",
}

_LONGEST_FIRST = sorted(FLAGGED_PATHS, key=len, reverse=True)  # torch.multiprocessing before torch

# Flagged by the start of the dotted name (os.exec* covers os.execv, os.execlp, ...).
FLAGGED_PREFIXES: dict[str, str] = {
    "os.exec": "os.exec* (replaces the kernel by a program)",
    "os.spawn": "os.spawn* (runs programs)",
    "os.posix_spawn": "os.posix_spawn (runs programs)",
    "os.set": "os.set* (process ids and groups)",
    "torch.nn.modules.module.register_module_": "a global hook on every torch module (register_module_…_hook)",
    "test_": "a module of the hidden checks (test_…)",
}
# ... except these (os.setxattr and friends are file metadata, not processes).
NOT_FLAGGED_PREFIXES = ("os.setxattr", "os.set_blocking", "os.set_inheritable")

# Under a flagged path, what stays honest.
ALLOWED_PATHS: dict[str, str] = {
    "IPython.display": "display(), clear_output(), Image, HTML ...: showing results",
}

# Modules whose attributes are flagged except these.
ONLY_ATTRIBUTES: dict[str, tuple[frozenset[str], str]] = {
    "gc": (frozenset({"collect", "enable", "disable", "isenabled", "get_count", "get_threshold"}),
           "gc (reaches every object in the kernel)"),
}

# Private names (a segment with one leading underscore: torch._C, torch._VF,
# torch.nn.modules.module._global_forward_hooks, sys._getframe): flagged on any access.
PRIVATE_MODULES: dict[str, str] = {
    "torch": "torch's private internals (torch._C and the like)",
    "sys": "sys's private functions (sys._getframe: the callers' frames)",
}

# Python's builtins that run or import code given as strings, or stop for a debugger.
CODE_BUILTINS: dict[str, str] = {
    "exec": "exec (runs code given as a string)",
    "eval": "eval (runs code given as a string)",
    "compile": "compile (the builtin: turns strings into code)",
    "__import__": "__import__ (imports modules by computed names)",
    "breakpoint": "breakpoint (the debugger)",
}

# Attribute names flagged on any object (and as strings, e.g. getattr(f, "__globals__")).
INTROSPECTION_ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys(("f_back", "f_globals", "f_locals", "f_code", "f_builtins", "f_trace"),
                    "frame introspection (f_back, f_globals …)"),
    **dict.fromkeys(("tb_frame", "tb_next"), "a traceback's frames"),
    **dict.fromkeys(("gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code"),
                    "a generator's or coroutine's frame"),
    **dict.fromkeys(("__closure__", "cell_contents"), "closure cells (__closure__)"),
    "__globals__": "a function's globals (__globals__)",
    "__builtins__": "__builtins__ (Python's own functions)",
    "__code__": "code objects (__code__)",
    "__subclasses__": "__subclasses__ (reaches every class in the kernel)",
    **dict.fromkeys(("__bases__", "__base__", "__mro__"), "the class hierarchy (__bases__, __mro__: library classes)"),
    "__self__": "__self__ (the module or object behind a builtin function)",
    **dict.fromkeys(("__torch_function__", "__torch_dispatch__"),
                    "a torch function override (__torch_function__ / __torch_dispatch__)"),
}

# Attribute names flagged when written or deleted, on any object.
WRITTEN_ATTRIBUTES: dict[str, str] = {
    "__class__": "assignment to __class__ (changes an object's type)",
    "__dict__": "assignment to __dict__",
    "__defaults__": "assignment to a function's defaults",
    "__kwdefaults__": "assignment to a function's defaults",
    "__module__": "assignment to __module__ (disguises a type)",
    "__qualname__": "assignment to __qualname__ (disguises a type)",
}

# Writes to library attributes and items that are configuration, not patches.
WRITABLE_ATTRIBUTES = ("torch.backends.", "pandas.options.")
WRITABLE_ITEMS = ("matplotlib.rcParams", "matplotlib.pyplot.rcParams", "pylab.rcParams", "os.environ",
                  "pandas.options")

# Calls flagged for one keyword value (`None`: any value).
KEYWORD_CALLS: tuple[tuple[str, str, object, str], ...] = (
    ("torch.load", "weights_only", False, "torch.load with weights_only=False (unpickles code)"),
    ("torch.load", "pickle_module", None, "torch.load with a pickle_module (unpickles code)"),
    ("numpy.load", "allow_pickle", True, "numpy.load with allow_pickle=True (unpickles code)"),
)

# Global switches that are honest as a `with` block only (or switching back on: `(True)`).
WITH_ONLY_CALLS: dict[str, str] = dict.fromkeys(
    ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled", "torch.autograd.grad_mode.set_grad_enabled"),
    "torch.set_grad_enabled outside a with block (autograd off for every later call)")

# Library functions that take code as strings; honest with lambdas.
STRING_CODE_CALLS: dict[str, str] = dict.fromkeys(
    ("timeit.timeit", "timeit.repeat", "timeit.Timer"), "timeit with code given as a string")

# Functions that reach attributes by names given at run time.
NAME_GETTERS = ("operator.attrgetter", "operator.methodcaller")

# `from X import *` of these hides which of their flagged names arrive.
STAR_IMPORT_FLAGGED = frozenset({"sys", "os", "gc", "types", "timeit", "operator", "traceback",
                                 "torch.nn.modules.module"})

# Words of the grading machinery, in names and in strings (case-insensitive).
MACHINERY_IN_NAMES = ("dropout_kit", "grader_tests", "nbgrader")
MACHINERY_IN_STRINGS = ("dropout_kit", "dropout-kit", "grader_tests", "nbgrader", "gradebook")
# Files an import or %run could execute. Not .pth, PyTorch's usual checkpoint name: Python
# runs a .pth file only from a site directory at start-up, and a grading kernel starts with -I
# from a read-only environment; reaching `site` in the live kernel is flagged by itself.
PYTHON_FILE = re.compile(r"\.(py|pyc|pyw|so|pyd)\s*$", re.IGNORECASE)

# -- magics -------------------------------------------------------------------------------
# Magics that run their argument or body as Python: scanned like a cell (PYTHON_MAGIC_CODE).
PYTHON_MAGICS = frozenset({"time", "timeit", "prun", "capture", "debug"})
# Magics that change nothing the checks rely on. pinfo & co. (`x?`) only look an object up:
# their argument is scanned as an expression.
HARMLESS_MAGICS = frozenset({
    "matplotlib", "pylab", "who", "whos", "who_ls", "pwd", "cd", "pushd", "popd", "dirs", "dhist",
    "lsmagic", "magic", "quickref", "precision", "xmode", "autosave", "pprint", "colors", "page",
    "pycat", "tb", "psearch", "markdown", "latex"})
LOOKUP_MAGICS = frozenset({"pinfo", "pinfo2", "pdoc", "pdef", "psource", "pfile"})
FLAGGED_MAGICS: dict[str, str] = {
    "run": "%run (runs a file or module)",
    "load": "%load (loads code from a file, URL or history)",
    "loadpy": "%loadpy (loads code from a file)",
    **{name: f"%%{name} (runs its body in another program)"
       for name in ("script", "bash", "sh", "python", "python2", "python3", "pypy", "perl", "ruby")},
    "system": "%system (a shell command)",
    "sx": "%sx (a shell command)",
    **{name: f"%{name} (a shell alias)" for name in (
        "ls", "ll", "lsx", "lf", "lk", "ldir", "cat", "cp", "mv", "rm", "rmdir", "mkdir", "clear", "less",
        "more", "man")},
    **{name: f"%{name} (installs packages with a shell command)"
       for name in ("pip", "conda", "mamba", "micromamba", "uv")},
    "writefile": "%%writefile (writes a file, e.g. a module a later import runs)",
    "file": "%%file (writes a file, e.g. a module a later import runs)",
    "alias": "%alias (defines shell commands)",
    "unalias": "%unalias (shell aliases)",
    "rehashx": "%rehashx (shell aliases)",
    "config": "%config (changes the kernel's configuration)",
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
# IPython's own calls for shell lines: `!cmd` and `x = !cmd`.
SHELL_METHODS: dict[str, str] = {
    "system": "a shell command (!…)",
    "getoutput": "a shell command (!…)",
}
GET_IPYTHON = "get_ipython() (the kernel's shell)"
MAX_MAGIC_DEPTH = 8  # magics within magics, deeper than any honest cell
TOO_DEEP = "code nested too deeply to read"

# A name for the class of an object reached through type(x) or x.__class__.
OBJECT_CLASS = "type(…)"
BUILTIN_NAMES = frozenset(dir(builtins))


# -- the notebook ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    construct: str  # short English description of the construct
    cell: int  # index of the cell in nb.cells
    line: int  # 1-based line in that cell's original source
    code: str  # that line, stripped, at most 200 characters
    grade_id: str | None  # the cell's nbgrader grade_id, None for a cell the student added

    def evidence(self) -> str:
        return (f"{self.construct} — cell {self.cell} ({self.grade_id or 'added cell'}), "
                f"line {self.line}: {self.code}")


def is_autograder_cell(cell) -> bool:
    """An nbgrader test cell: graded and not a solution."""
    meta = nbgrader_metadata(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_student_cell(cell) -> bool:
    """A code cell the student wrote: a solution cell or a cell nbgrader does not restore
    from the instructor's copy (added, or without nbgrader metadata)."""
    if cell.get("cell_type") != "code":
        return False
    meta = nbgrader_metadata(cell)
    if not meta or not cell_grade_id(cell) or meta.get("solution"):
        return True
    return not (meta.get("grade") or meta.get("locked"))


def student_cells(nb) -> list[int]:
    """Indices of the cells the scan reads."""
    return [index for index, cell in enumerate(nb.cells) if is_student_cell(cell)]


def cell_source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def scan_notebook(nb) -> dict[str, list[Finding]]:
    """For every autograder cell (by grade_id), the findings in the student's cells before it."""
    aliases = Aliases()
    for cell in nb.cells:  # names bound anywhere (the given imports too) before any cell is read
        if cell.get("cell_type") == "code" and not is_autograder_cell(cell):
            parsed = parse_cell(cell_source(cell))
            if parsed is not None:
                try:
                    aliases.learn(parsed.tree)
                except RecursionError:
                    pass  # the cell's own scan reports it if it is the student's
    found: dict[int, list[Finding]] = {}
    for index in student_cells(nb):
        cell = nb.cells[index]
        found[index] = [Finding(construct, index, line, code, cell_grade_id(cell))
                        for construct, line, code in scan_source(cell_source(cell), aliases)]
    by_autograder: dict[str, list[Finding]] = {}
    for index, cell in enumerate(nb.cells):
        if is_autograder_cell(cell) and cell_grade_id(cell):
            by_autograder[cell_grade_id(cell)] = [f for i, fs in found.items() if i < index for f in fs]
    return by_autograder


def scan_source(source: str, aliases: Aliases | None = None) -> list[tuple[str, int, str]]:
    """(construct, line, code) of every finding in one cell's source; `aliases` carries the
    names bound by earlier cells and learns this cell's."""
    lines = source.splitlines()
    return [(construct, line, code_line(lines, line))
            for construct, line in _scan(source, aliases if aliases is not None else Aliases(), 0)]


def code_line(lines: list[str], line: int) -> str:
    return lines[line - 1].strip()[:200] if 0 < line <= len(lines) else ""


# -- IPython's transformation -------------------------------------------------------------
@dataclass(frozen=True)
class ParsedCell:
    """A cell's source as IPython runs it, parsed, with the way back to the original lines."""
    tree: ast.Module
    lines: tuple[int, ...]  # original 1-based line of each transformed line

    def original_line(self, lineno: int) -> int:
        if not self.lines:
            return 1
        return self.lines[min(max(lineno, 1), len(self.lines)) - 1]


@lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager()


def parse_cell(source: str) -> ParsedCell | None:
    """The cell transformed as IPython does and parsed; None if IPython could not run it."""
    try:
        transformed = _transformer().transform_cell(source)
        tree = ast.parse(transformed)
    except Exception:  # noqa: BLE001 - SyntaxError, RecursionError, IPython's own failures: IPython runs none of it
        return None
    return ParsedCell(tree, tuple(line_map(source.splitlines(), transformed.splitlines())))


def line_map(original: list[str], transformed: list[str]) -> list[int]:
    """For each transformed line, the 1-based original line it comes from. IPython keeps
    lines as they are, except magics and `!` lines (one line each, continuation lines
    joined), cell magics (the whole cell in one call) and leading blank lines (dropped)."""
    mapping = [1] * len(transformed)
    matcher = difflib.SequenceMatcher(None, original, transformed, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(j2 - j1):
                mapping[j1 + k] = i1 + k + 1
        elif j2 > j1:
            starts = _statement_starts(original, i1, i2) or [max(min(i1, len(original) - 1), 0)]
            for k in range(j2 - j1):
                mapping[j1 + k] = starts[min(k, len(starts) - 1)] + 1
    return mapping


def _statement_starts(lines: list[str], start: int, end: int) -> list[int]:
    """Indices of the non-blank lines in [start, end) that do not continue a line ending with `\\`."""
    starts, continued = [], False
    for i in range(start, end):
        if not continued and lines[i].strip():
            starts.append(i)
        continued = lines[i].rstrip().endswith("\\")
    return starts


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


# -- aliases ------------------------------------------------------------------------------
class Aliases:
    """Local names of library objects (modules, classes, functions), learned cell after cell:
    `import torch.nn as nn`, `from torch.nn import Module as M`, `m = torch.nn`. A name once
    bound to a library object stays so (the scan cannot know which binding runs last)."""

    def __init__(self, names: dict[str, str] | None = None):
        self.names: dict[str, str] = dict(names or {})

    def learn(self, tree: ast.AST) -> None:
        for _ in range(2):  # twice: a function may use a name the cell binds further down
            for node in walk_in_order(tree):
                self._learn(node)

    def _learn(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    self.names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            self._bind(node.target, node.value)

    def _bind(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            path = self.resolve(value)
            if path:
                self.names[target.id] = path
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
                and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts):
                self._bind(t, v)

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted library path `node` stands for, or None (a value of the student's code).
        Builtins are `builtins.<name>`; the class of an object is OBJECT_CLASS."""
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            return f"builtins.{node.id}" if node.id in BUILTIN_NAMES else None
        if isinstance(node, ast.Attribute):
            if node.attr == "__class__":
                return OBJECT_CLASS
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.resolve(node.func)
            literal = string_literal(node.args[1]) if len(node.args) >= 2 else None
            if func == "builtins.getattr" and literal is not None:
                base = self.resolve(node.args[0])
                return f"{base}.{literal}" if base else None
            if func in ("importlib.import_module", "builtins.__import__") and node.args:
                return string_literal(node.args[0])
            if func == "builtins.type" and len(node.args) == 1:
                return OBJECT_CLASS
            return None
        if isinstance(node, ast.Subscript) and self.resolve(node.value) == "sys.modules":
            return string_literal(node.slice)
        if isinstance(node, ast.NamedExpr):
            return self.resolve(node.value)
        return None


def walk_in_order(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and everything under it, in source order (ast.walk goes breadth first)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def string_literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# -- the rules, one function per kind -------------------------------------------------------
def path_rule(path: str) -> str | None:
    """The construct of a library path, or None. Builtins (`builtins.<name>`, reached by a
    bare name or through the builtins module, whose import is flagged) count only when
    they run code."""
    if path == OBJECT_CLASS or path.startswith(OBJECT_CLASS + "."):
        return None
    if path.startswith("builtins."):
        return code_builtin_rule(path)
    if any(path == allowed or path.startswith(allowed + ".") for allowed in ALLOWED_PATHS):
        return None
    for flagged in _LONGEST_FIRST:
        if path == flagged or path.startswith(flagged + "."):
            return FLAGGED_PATHS[flagged]
    for prefix, construct in FLAGGED_PREFIXES.items():
        if path.startswith(prefix) and not path.startswith(NOT_FLAGGED_PREFIXES):
            return construct
    for module, (allowed, construct) in ONLY_ATTRIBUTES.items():
        if path.startswith(module + ".") and path[len(module) + 1:].split(".")[0] not in allowed:
            return construct
    return private_rule(path)


def code_builtin_rule(path: str) -> str | None:
    """exec, eval, compile, __import__, breakpoint, as `builtins.<name>`."""
    parts = path.split(".")
    return CODE_BUILTINS.get(parts[1]) if len(parts) >= 2 and parts[0] == "builtins" else None


def private_rule(path: str) -> str | None:
    parts = path.split(".")
    construct = PRIVATE_MODULES.get(parts[0])
    if construct and any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts[1:]):
        return construct
    return None


def attribute_name_rule(name: str) -> str | None:
    return INTROSPECTION_ATTRIBUTES.get(name)


def machinery_name_rule(name: str) -> str | None:
    lowered = name.lower()
    if any(word in lowered for word in MACHINERY_IN_NAMES):
        return f"a name of the grading machinery ({name[:60]})"
    return None


def string_rule(text: str) -> str | None:
    lowered = text.lower()
    if any(word in lowered for word in MACHINERY_IN_STRINGS):
        return "a string naming the grading machinery"
    if PYTHON_FILE.search(text) and "\n" not in text.strip():
        return "a Python file name (code an import or %run could execute)"
    if text in INTROSPECTION_ATTRIBUTES:
        return f"a string naming {INTROSPECTION_ATTRIBUTES[text]}"
    return None


def describe(path: str) -> str:
    return "an object's class (type(x) or x.__class__)" if path == OBJECT_CLASS else path


def write_rule(target: str) -> bool:
    """Whether writing the library attribute `target` (torch.equal) is flagged."""
    return not target.startswith(WRITABLE_ATTRIBUTES)


def item_write_rule(owner: str) -> bool:
    """Whether writing an item of the library object `owner` (sys.modules[...]) is flagged."""
    return not any(owner == allowed or owner.startswith(allowed + ".") for allowed in WRITABLE_ITEMS)


def magic_rule(name: str, line: str) -> str | None:
    """The construct of a magic that does not run Python code (PYTHON_MAGICS are scanned)."""
    if name in HARMLESS_MAGICS or name in LOOKUP_MAGICS:
        return None
    if name == "env":
        return FLAGGED_MAGICS["env"] if ("=" in line or len(line.split()) > 1) else None
    return FLAGGED_MAGICS.get(name, f"%{name} (an IPython magic the scan does not know)")


# -- the scan of one cell ---------------------------------------------------------------------
def _scan(source: str, aliases: Aliases, depth: int) -> list[tuple[str, int]]:
    """(construct, original line) of the findings in `source`, in line order, without repeats."""
    parsed = parse_cell(source)
    if parsed is None:
        return []
    scanner = _CellScanner(aliases, parsed, depth)
    try:
        aliases.learn(parsed.tree)
        scanner.visit(parsed.tree)
    except RecursionError:  # parses, but deeper than the scan's own recursion goes
        return [(TOO_DEEP, 1)]
    unique = list(dict.fromkeys(scanner.found))
    return sorted(unique, key=lambda finding: finding[1])


WRITE_STATEMENTS = {ast.Assign: "assignment to", ast.AnnAssign: "assignment to", ast.AugAssign:
                    "augmented assignment to", ast.Delete: "deletion of", ast.For: "assignment to",
                    ast.AsyncFor: "assignment to"}


class _CellScanner(ast.NodeVisitor):
    def __init__(self, aliases: Aliases, parsed: ParsedCell, depth: int):
        self.aliases = aliases
        self.parsed = parsed
        self.depth = depth
        self.found: list[tuple[str, int]] = []
        self.with_items: set[int] = set()

    def flag(self, construct: str | None, node: ast.AST) -> None:
        if construct:
            self.found.append((construct, self.parsed.original_line(getattr(node, "lineno", 1))))

    # statements that write
    def _visit_writes(self, node: ast.AST, targets: list[ast.AST]) -> None:
        verb = WRITE_STATEMENTS[type(node)]
        for target in targets:
            self._check_write(target, verb)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._visit_writes(node, node.targets)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._visit_writes(node, [node.target])

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._visit_writes(node, [node.target])

    def visit_Delete(self, node: ast.Delete) -> None:
        self._visit_writes(node, node.targets)

    def visit_For(self, node: ast.For) -> None:
        self._visit_writes(node, [node.target])

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.with_items.add(id(item.context_expr))
            if item.optional_vars is not None:
                self._check_write(item.optional_vars, "assignment to")
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def _check_write(self, target: ast.AST, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_write(element, verb)
        elif isinstance(target, ast.Starred):
            self._check_write(target.value, verb)
        elif isinstance(target, ast.Attribute):
            owner = self.aliases.resolve(target.value)
            if owner and write_rule(f"{owner}.{target.attr}"):
                self.flag(f"{verb} an attribute of {describe(owner)}", target)
            self.flag(WRITTEN_ATTRIBUTES.get(target.attr), target)
        elif isinstance(target, ast.Subscript):
            owner = self.aliases.resolve(target.value)
            if owner and item_write_rule(owner):
                self.flag(f"{verb} an item of {describe(owner)}", target)

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._flag_path(alias.name, [alias.name, alias.asname or ""], node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return  # relative: no package around a notebook
        if module.split(".")[0] == "builtins":
            self.flag(FLAGGED_PATHS["builtins"], node)
        for alias in node.names:
            if alias.name == "*":
                self.flag(path_rule(module), node)
                if module in STAR_IMPORT_FLAGGED:
                    self.flag(f"from {module} import * (hides which of its functions are used)", node)
                continue
            self._flag_path(f"{module}.{alias.name}", [alias.name, alias.asname or ""], node)
            self.flag(attribute_name_rule(alias.name), node)

    # names and attributes
    def _flag_path(self, path: str | None, names: list[str], node: ast.AST) -> None:
        """The path's rule; else the machinery words in its names (`dropout_kit` is named
        once, as the grading kit)."""
        construct = path_rule(path) if path else None
        self.flag(construct, node)
        if construct is None:
            for name in names:
                self.flag(machinery_name_rule(name), node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "get_ipython":
            self.flag(GET_IPYTHON, node)
        path = self.aliases.resolve(node)
        self._flag_path(path, [node.id], node)
        if path in ("builtins.getattr", "builtins.setattr", "builtins.delattr") and isinstance(node.ctx, ast.Load):
            self.flag(f"{path.split('.')[1]} used as a value (its target cannot be read)", node)
        self.flag(attribute_name_rule(node.id), node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = self.aliases.resolve(node)
        chain: list[ast.Attribute] = []  # this attribute and those it is read from
        inner: ast.AST = node
        while isinstance(inner, ast.Attribute):
            chain.append(inner)
            self._check_attribute(inner)
            inner = inner.value
        names = [a.attr for a in chain] + ([inner.id] if isinstance(inner, ast.Name) else [])
        self._flag_path(path, names, node)  # the chain's prefixes are paths of the same rules
        if isinstance(inner, ast.Name):
            if inner.id == "get_ipython":
                self.flag(GET_IPYTHON, inner)
            self.flag(attribute_name_rule(inner.id), inner)
        else:
            self.visit(inner)

    def _check_attribute(self, node: ast.Attribute) -> None:
        self.flag(attribute_name_rule(node.attr), node)
        if node.attr == "__dict__":
            owner = self.aliases.resolve(node.value)
            if owner:
                self.flag(f"__dict__ of {describe(owner)}", node)

    # definitions
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.flag(attribute_name_rule(node.name), node)
        self.flag(machinery_name_rule(node.name), node)
        for arg in ast.walk(node.args):
            if isinstance(arg, ast.arg):
                self.flag(machinery_name_rule(arg.arg), arg)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.flag(machinery_name_rule(node.name), node)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self.flag(machinery_name_rule(name), node)

    visit_Nonlocal = visit_Global

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.flag(string_rule(node.value), node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg:
            self.flag(machinery_name_rule(node.arg), node)
        self.generic_visit(node)

    # calls
    def visit_Call(self, node: ast.Call) -> None:
        if self._visit_ipython_call(node):
            return
        func = self.aliases.resolve(node.func)
        if func in ("builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__"):
            self._check_getattr(node)
        elif func in ("builtins.setattr", "builtins.delattr", "builtins.object.__setattr__",
                      "builtins.object.__delattr__", "builtins.type.__setattr__", "builtins.type.__delattr__"):
            self._check_setattr(node, "delattr" if "del" in func else "setattr")
        elif func == "builtins.vars" and node.args:
            owner = self.aliases.resolve(node.args[0])
            if owner:
                self.flag(f"vars() of {describe(owner)}", node)
        elif func in NAME_GETTERS and not all(string_literal(a) is not None for a in node.args):
            self.flag(f"{func} with a computed name", node)
        switched_on = bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value is True
        if func in WITH_ONLY_CALLS and id(node) not in self.with_items and not switched_on:
            self.flag(WITH_ONLY_CALLS[func], node)
        if func in STRING_CODE_CALLS and not self._code_is_lambdas(node):
            self.flag(STRING_CODE_CALLS[func], node)
        for path, keyword, value, construct in KEYWORD_CALLS:
            if func == path:
                for kw in node.keywords:
                    if kw.arg == keyword and (value is None or
                                              (isinstance(kw.value, ast.Constant) and kw.value.value is value)):
                        self.flag(construct, node)
        if func and func.startswith("builtins.") and func.split(".")[1] in ("getattr", "setattr", "delattr"):
            for child in [*node.args, *node.keywords]:  # not the function: it is called, not passed
                self.visit(child)
        else:
            self.generic_visit(node)

    def _check_getattr(self, node: ast.Call) -> None:
        if len(node.args) < 2:
            return
        owner = self.aliases.resolve(node.args[0])
        name = string_literal(node.args[1])
        if name is None:
            if owner:
                self.flag(f"getattr with a computed name on {describe(owner)}", node)
            return
        self.flag(attribute_name_rule(name), node)
        if owner:
            self.flag(path_rule(f"{owner}.{name}"), node)
            if name == "__dict__":
                self.flag(f"__dict__ of {describe(owner)}", node)

    def _check_setattr(self, node: ast.Call, verb: str) -> None:
        if not node.args:
            return
        target = node.args[0]
        owner = self.aliases.resolve(target)
        name = string_literal(node.args[1]) if len(node.args) >= 2 else None
        if owner and (name is None or write_rule(f"{owner}.{name}")):
            self.flag(f"{verb} on {describe(owner)}", node)
        elif name is None and not (isinstance(target, ast.Name) and target.id in ("self", "cls")):
            self.flag(f"{verb} with a computed name", node)
        if name is not None:
            self.flag(WRITTEN_ATTRIBUTES.get(name) or attribute_name_rule(name), node)

    @staticmethod
    def _code_is_lambdas(node: ast.Call) -> bool:
        code = node.args[:2] + [kw.value for kw in node.keywords if kw.arg in ("stmt", "setup")]
        return all(isinstance(arg, ast.Lambda) for arg in code)

    def _visit_ipython_call(self, node: ast.Call) -> bool:
        """`get_ipython().<method>(...)`, as IPython writes magics and `!` lines: the magic's
        rule, or its Python code scanned. False for any other call."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"
                and not func.value.args and not func.value.keywords):
            return False
        if func.attr in SHELL_METHODS:
            self.flag(SHELL_METHODS[func.attr], node)
            return True
        literals = [string_literal(arg) for arg in node.args]
        if func.attr not in ("run_line_magic", "run_cell_magic") or node.keywords \
                or len(literals) != (2 if func.attr == "run_line_magic" else 3) or None in literals:
            return False  # get_ipython() used some other way: visit_Name flags it
        name, line = literals[0], literals[1]
        cell = literals[2] if func.attr == "run_cell_magic" else None
        code = python_code_of_magic(name, line, cell)
        if code is None:
            self.flag(magic_rule(name, line), node)
            if name in LOOKUP_MAGICS:
                self._scan_expression(line.rstrip("?"), node)
            return True
        if self.depth >= MAX_MAGIC_DEPTH:
            self.flag(TOO_DEEP, node)
            return True
        first = self.parsed.original_line(node.lineno)
        for text, offset in code:
            for construct, line_no in _scan(text, self.aliases, self.depth + 1):
                self.found.append((construct, first + offset + line_no - 1))
        return True

    def _scan_expression(self, text: str, node: ast.AST) -> None:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except Exception:  # noqa: BLE001 - not an expression: IPython looks nothing up
            return
        line = self.parsed.original_line(node.lineno)
        scanner = _CellScanner(self.aliases, ParsedCell(ast.Module(body=[], type_ignores=[]), (line,)), self.depth)
        scanner.visit(tree)
        self.found.extend(scanner.found)
