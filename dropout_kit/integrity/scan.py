"""The integrity scan: constructs in a student's cells that can change how torch, Python,
the kernel or the grader behave, or look at the grading machinery.

The scan reads nbgrader's copy of the notebook with Python's `ast`; it never runs the
student's code. Each cell is first transformed exactly as IPython runs it (`%magics`,
`!shell` lines and `%%cell magics` become `get_ipython()` calls), then parsed. What IPython
runs as Python in those calls is scanned like the cell's own code (dropout_kit.integrity.magics):
the code of `%time`, `%%timeit`, `%%capture` ..., the `{expression}` and `$name` it expands
in `!` lines and magic lines, the value of a `%config` line. A cell that does not parse is
not flagged: the kernel shows the student the error and runs nothing of it.

A flagged construct does not cost points by itself: the autograder cells after it are held
for a person (dropout_kit.engine.integrity_scan), with the evidence of each finding.

Judgement calls (the tables below and magics.py's): hold only what can change a verdict,
honest work never. Honest are reading anything (sys.path, sys.version, globals()),
%matplotlib, `%config InlineBackend.<trait> = <value>`, IPython.display and the display
objects of IPython.core.display, items of os.environ and of matplotlib's rcParams,
torch.backends flags, seeds, gc.collect(), warnings filters, files opened in the working
folder, checkpoints (torch.load reads weights only by default), writing globals(), and
shell commands: `!cmd`, `!!cmd`, `x = !cmd`, %sx, the %ls aliases, %pip and %conda run in a
subprocess, which changes no Python object of the kernel. What a command could pass to the
kernel is a file that a later import runs; that protection stays where it is for Python code
too: imports of modules the scan does not know are not flagged, but a Python file or wheel
named in a command (or any string) is, and so are changes to sys.path, importlib, runpy and
%run; the grading kernel starts with `python -I` (IPython ≥ 9.7 then leaves the working
folder off sys.path) in a read-only environment without network, so pip installs nothing the
kernel imports. Flagged are changes to sys.path (append, insert, +=, assignment, items, or
sys.path used where the scan cannot see it only read), any other %config, `%env NAME=value`,
%%bash and %%script & co. (in the background, binding variables), a shell magic whose text
is computed (IPython expands it twice: the second expansion would run that text), magics
the scan does not know, torch.load(weights_only=False), torch.set_grad_enabled(False)
outside a `with`, sockets, and strings naming a Python file or the grading machinery.

What a static reading cannot see: code the notebook writes to a file and imports later
(a string naming a `.py` file is flagged, a name built from pieces is not; with IPython
older than 9.7 the working folder is on sys.path), a package a command installs where the
grading user can write (the sandbox's `rlimits` and `off` modes), library objects reached
through containers or function results (`[torch][0].equal = f`), names built at run time
outside the constructs below (the kit's agent found by iterating globals()), and anything a
flagged construct does.
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
from dropout_kit.integrity.magics import (
    LOOKUP_MAGICS,
    NO_VAR_EXPAND,
    PYTHON_MAGICS,  # noqa: F401 - dropout_use reads the magics' tables here
    SHELL_MAGICS,
    SHELL_METHODS,
    config_statement,
    expand,
    magic_rule,
    python_code_of_magic,
    shell_words,
)

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

# Under a flagged path, what stays honest: showing results, in the module of today and
# under the older spelling IPython.core.display (its display objects only: the module also
# holds `os`).
DISPLAY_NAMES = ("display", "clear_output", "update_display", "DisplayHandle", "DisplayObject", "HTML", "Image",
                 "Markdown", "Math", "Latex", "SVG", "JSON", "Pretty", "ProgressBar", "Video", "Audio",
                 "display_html", "display_markdown", "display_png", "display_jpeg", "display_svg",
                 "display_latex", "display_json", "display_pretty", "display_pdf")
ALLOWED_PATHS: dict[str, str] = {
    "IPython.display": "display(), clear_output(), Image, HTML ...: showing results",
    **{f"IPython.core.{module}.{name}": "display() and its objects (IPython.core.display)"
       for module in ("display", "display_functions") for name in DISPLAY_NAMES},
}
# ... and these modules themselves, whose names are judged one by one above.
ALLOWED_MODULES = frozenset({"IPython.core.display", "IPython.core.display_functions"})

# Modules and objects whose attributes are flagged except these.
ONLY_ATTRIBUTES: dict[str, tuple[frozenset[str], str]] = {
    "gc": (frozenset({"collect", "enable", "disable", "isenabled", "get_count", "get_threshold"}),
           "gc (reaches every object in the kernel)"),
    "sys.path": (frozenset({"copy", "count", "index", "__len__", "__contains__", "__getitem__", "__iter__"}),
                 "a change to sys.path (where imports are found: a module the notebook wrote)"),
}
# Library values that honest code only reads (print(sys.path), `'.' in sys.path`): their
# attributes are judged above; the value itself is flagged wherever its use may change it
# (passed to a function that is not a reader, returned, `p += [...]` on a name bound to it).
READ_ONLY_VALUES = ("sys.path",)
# Functions that only read their arguments (methods of string literals too: '\n'.join).
READER_CALLS = frozenset({
    *(f"builtins.{name}" for name in ("print", "len", "list", "tuple", "set", "frozenset", "sorted", "str",
                                      "repr", "format", "enumerate", "iter", "reversed", "any", "all", "zip",
                                      "map", "filter", "min", "max", "isinstance", "id", "type")),
    "pprint.pprint", "pprint.pformat", "pprint.pp", "json.dumps", "os.pathsep.join",
    *(f"{module}.display" for module in ("IPython.display", "IPython.core.display",
                                         "IPython.core.display_functions"))})

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
# A wheel or egg is importable once on sys.path (and installable by pip from the working folder).
PYTHON_FILE = re.compile(r"\.(py|pyc|pyw|so|pyd|whl|egg)\s*$", re.IGNORECASE)

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


# -- aliases ------------------------------------------------------------------------------
class Aliases:
    """Local names of library objects (modules, classes, functions), learned cell after cell:
    `import torch.nn as nn`, `from torch.nn import Module as M`, `m = torch.nn`. A name once
    bound to a library object stays so (the scan cannot know which binding runs last)."""

    def __init__(self, names: dict[str, str] | None = None):
        self.names: dict[str, str] = dict(names or {})
        self.shadowed: set[str] = set()  # names bound to the student's own values (def print(...))

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
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.shadowed.add(node.name)
        elif isinstance(node, ast.arg):
            self.shadowed.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in self.names:
            self.shadowed.add(node.id)

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
    if path in ALLOWED_MODULES or any(path == a or path.startswith(a + ".") for a in ALLOWED_PATHS):
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


def shell_rule(command: str) -> str | None:
    """A shell command runs in a subprocess: it changes no Python object of the kernel. Its
    words are read as strings are (the grading machinery, a Python file it could write)."""
    if any(PYTHON_FILE.search(word) for word in shell_words(command)):
        return "a Python file name (code an import or %run could execute)"
    return string_rule(command)


def describe(path: str) -> str:
    return "an object's class (type(x) or x.__class__)" if path == OBJECT_CLASS else path


def write_rule(target: str) -> bool:
    """Whether writing the library attribute `target` (torch.equal) is flagged."""
    return not target.startswith(WRITABLE_ATTRIBUTES)


def item_write_rule(owner: str) -> bool:
    """Whether writing an item of the library object `owner` (sys.modules[...]) is flagged."""
    return not any(owner == allowed or owner.startswith(allowed + ".") for allowed in WRITABLE_ITEMS)


# -- the scan of one cell ---------------------------------------------------------------------
def _scan(source: str, aliases: Aliases, depth: int) -> list[tuple[str, int]]:
    """(construct, original line) of the findings in `source`, in line order, without repeats."""
    parsed = parse_cell(source)
    if parsed is None:
        return []
    scanner = _CellScanner(aliases, parsed, depth)
    try:
        aliases.learn(parsed.tree)
        scanner.read(parsed.tree)
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

    def read(self, tree: ast.AST) -> None:
        self.visit(tree)
        self._check_read_only_values(tree)

    # library values only read (READ_ONLY_VALUES)
    def _check_read_only_values(self, tree: ast.AST) -> None:
        """The values used anywhere but where they are only read, or changed by `name += …`."""
        read, augmented = set(), set()
        for node in ast.walk(tree):
            read.update(id(child) for child in self._read_positions(node) if child is not None)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                augmented.add(id(node.target))
        for node in ast.walk(tree):
            if not isinstance(node, ast.expr) or id(node) in read or (
                    isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)) and id(node) not in augmented):
                continue  # writes to attributes and items are _check_write's
            path = self.aliases.resolve(node)
            if path in READ_ONLY_VALUES:
                self.flag(f"{ONLY_ATTRIBUTES[path][1]}, used where it may be changed", node)

    def _read_positions(self, node: ast.AST) -> Iterator[ast.AST | None]:
        """The children of `node` whose value is only read there (or judged by another rule:
        an attribute by its path, an item written by _check_write, a name bound by Aliases)."""
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred, ast.Expr, ast.FormattedValue,
                             ast.NamedExpr)):
            yield node.value
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            yield node.iter
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            if all(isinstance(t, ast.Name) for t in getattr(node, "targets", [getattr(node, "target", None)])):
                yield node.value
        elif isinstance(node, ast.Compare):  # `x in sys.path`: the list's own __contains__
            yield from (c for op, c in zip(node.ops, node.comparators) if isinstance(op, (ast.In, ast.NotIn)))
        elif isinstance(node, ast.Call) and self._reads_only(node.func):
            yield from node.args
            yield from (keyword.value for keyword in node.keywords)

    def _reads_only(self, func: ast.AST) -> bool:
        if isinstance(func, ast.Attribute) and isinstance(func.value, (ast.Constant, ast.JoinedStr)):
            return isinstance(func.value, ast.JoinedStr) or isinstance(func.value.value, str)  # '\n'.join
        if isinstance(func, ast.Name) and func.id in self.aliases.shadowed:
            return False  # the student's own `print`
        return self.aliases.resolve(func) in READER_CALLS

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
            self._check_setattr(node, "delattr" if "del" in func else "setattr", *node.args[:2])
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("__setattr__", "__delattr__"):
            self._check_dunder_setattr(node, node.func)
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

    def _check_dunder_setattr(self, node: ast.Call, func: ast.Attribute) -> None:
        """`m.__setattr__(name, v)` on a library object, or `C.__setattr__(obj, name, v)` with
        a library object: setattr by another spelling (the student's own objects left alone)."""
        verb = "setattr" if func.attr == "__setattr__" else "delattr"
        bound = len(node.args) == (2 if verb == "setattr" else 1)
        if bound:
            target, name = func.value, node.args[0]
        elif node.args:
            target, name = node.args[0], (node.args[1] if len(node.args) >= 2 else None)
        else:
            return
        if self.aliases.resolve(target):
            self._check_setattr(node, verb, target, name)

    def _check_setattr(self, node: ast.Call, verb: str, target: ast.AST | None = None,
                       name_node: ast.AST | None = None) -> None:
        if target is None:
            return
        owner = self.aliases.resolve(target)
        name = string_literal(name_node) if name_node is not None else None
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
        if self.depth >= MAX_MAGIC_DEPTH:
            self.flag(TOO_DEEP, node)
            return True
        literals = [string_literal(arg) for arg in node.args]
        if func.attr in SHELL_METHODS and len(literals) == 1 and None not in literals and not node.keywords:
            self._scan_shell(literals[0], node)  # `!cmd`, `!!cmd`, `x = !cmd`: expanded once
            return True
        if func.attr not in ("run_line_magic", "run_cell_magic") or node.keywords \
                or len(literals) != (2 if func.attr == "run_line_magic" else 3) or None in literals:
            return False  # get_ipython() used some other way: visit_Name flags it
        name, line = literals[0], literals[1]
        cell = literals[2] if func.attr == "run_cell_magic" else None
        expanded = line if name in NO_VAR_EXPAND else expand(line).text  # None: computed
        for field in () if name in NO_VAR_EXPAND else expand(line).fields:
            self._scan_expression(field, node)
        code = python_code_of_magic(name, line, cell)
        if code is None:
            self.flag(magic_rule(name, line, cell), node)
            if name in LOOKUP_MAGICS:
                self._scan_expression(line.rstrip("?"), node)
            command = cell if cell is not None else expanded
            if name in SHELL_MAGICS and command is not None:  # expanded by the shell call once more
                self._scan_shell(command, node)
            value = config_statement(expanded)[1] if name == "config" and expanded is not None else None
            if value is not None:
                self._scan_expression(value, node)
            return True
        first = self.parsed.original_line(node.lineno)
        for text, offset in code:
            for construct, line_no in _scan(text, self.aliases, self.depth + 1):
                self.found.append((construct, first + offset + line_no - 1))
        return True

    def _scan_shell(self, command: str, node: ast.AST) -> None:
        """A shell command: its `{…}`/`$name` expansions read as Python, its words as strings."""
        for field in expand(command).fields:
            self._scan_expression(field, node)
        self.flag(shell_rule(command), node)

    def _scan_expression(self, text: str, node: ast.AST) -> None:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except Exception:  # noqa: BLE001 - not an expression: IPython looks nothing up
            return
        line = self.parsed.original_line(node.lineno)
        scanner = _CellScanner(self.aliases, ParsedCell(ast.Module(body=[], type_ignores=[]), (line,)),
                               self.depth + 1)
        scanner.read(tree)
        self.found.extend(scanner.found)
