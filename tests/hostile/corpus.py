"""The hostile corpus: broken and malicious submissions of the dropout assignment.

Every case is a submission built on the released notebook. Unless it says otherwise, a
case answers `my_dropout` correctly, puts its hostile code in place of the `split`
answer and leaves the other answers blank: the attack then costs the `split` part
(test_split scores 0), `my_dropout` shows that every other part is still graded (its
two cells get full points), and the untrained parts fail fast, which keeps a run of the
whole corpus short. File-level cases (damaged JSON, edited cells, extra files) change
the notebook file or its folder instead.

Markers: hostile code prints MARKER words built at run time ("LEA" + "KED"), so a word
found in a cell's output comes from what the code did, never from the source echoed
in a traceback.

tests/test_hostile.py grades the corpus with `nbgrader autograde` in one run together
with the correct submissions; benchmarks/sandbox.py times it with and without the sandbox.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dropout_assignment as dropout
import nbformat
from corpus import LECTURE_LOOP, net_cell  # the corpus of the checks (tests/corpus.py)

from dropout_kit.harness import samples

MY_DROPOUT = ("test_my_dropout_mask", "test_my_dropout_scale")
BLANK = ("test_dropout_net", "test_eval_predict")  # the parts a case leaves blank
ALL_TESTS = ("test_split", *MY_DROPOUT, *BLANK)


@dataclass(frozen=True)
class Context:
    """What an attack needs to know about the grading machine (an insider's knowledge)."""
    course: Path
    victim: str  # another student of the same run
    port: int  # a TCP port listening on the grading host's loopback


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the attack or damage, in a few words (benchmark table)
    split: str = ""  # source put in the `split` solution cell (the hostile code)
    answers: dict[str, str] = field(default_factory=dict)  # other solution cells
    damage: Callable[[dict], object] | None = None  # notebook JSON → what is written
    files: dict[str, object] = field(default_factory=dict)  # name → size in bytes or Link
    full: tuple[str, ...] = MY_DROPOUT  # autograder cells that keep full points
    zero: tuple[str, ...] = ("test_split", *BLANK)  # autograder cells that must score 0
    partial: tuple[str, ...] = ()  # autograder cells that must score strictly between 0 and full
    shown: tuple[str, ...] = ()  # words that must appear in some cell's output
    blocked: tuple[str, ...] = ()  # words that must not appear (the attack worked)
    errors: tuple[str, ...] = ()  # error names the grading must have recorded
    noted: str = ""  # words of the note the intake puts in the notebook
    logged: bool = False  # the log names this student as a problem
    # What grading it may legitimately cost beyond an ordinary submission (the run's time bound):
    timeouts: int = 0  # cells stopped at their time limit
    restarts: int = 0  # kernel restarts (each with a replay of the cells that had run)
    # Slow and hungry answers (issue 24): the reference answers in every other part, so that
    # the later honest parts show they keep their points.
    complete: bool = False
    scores: dict[str, float] = field(default_factory=dict)  # exact automatic scores
    over_budget: tuple[str, ...] = ()  # autograder cells whose verdicts record a budget run past
    budget_seconds: float = 0  # what the budgets it runs past may cost (the run's time bound)


@dataclass(frozen=True)
class Link:
    """A symbolic link in the submission folder, to a path under the course."""
    target: str


# -- hostile code ----------------------------------------------------------------------

# What a long native call looks like to the kernel: the interrupt never reaches Python.
NATIVE_CALL = """\
import signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
time.sleep(10**6)"""

SEGFAULT = "import ctypes\nctypes.string_at(0)"

# Says which happened: the kill refused, or sent and then whether the parent is still there
# (a dead parent leaves the kernel to another parent, or takes it along).
KILL_PARENT = """\
import os, signal, time
parent = os.getppid()
try:
    os.kill(parent, signal.SIGKILL)
    print("KILL " + "SENT")
except OSError as error:
    print("KILL " + "REFUSED", type(error).__name__)
time.sleep(0.5)
try:
    os.kill(parent, 0)
    alive = True
except PermissionError:  # there, but not ours to signal
    alive = True
except ProcessLookupError:
    alive = False
print("PARENT " + ("SURVIVED" if alive and os.getppid() == parent else "DIED"))"""

FORK_LOOP = """\
import os, time
children = []
try:
    for _ in range(400):  # stops here even without a limit
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print("FORK NOT " + "REFUSED", len(children))
except OSError as error:
    print("FORK " + "REFUSED after", len(children), error)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)"""

MEMORY_HOG = """\
import torch
chunks = []
try:
    for _ in range(96):  # 6 GiB at most, even without a limit
        chunks.append(torch.ones(2**24))  # 64 MiB, written
    print("MEMORY NOT " + "REFUSED")
except (MemoryError, RuntimeError) as error:
    print("MEMORY " + "REFUSED after", len(chunks) * 64, "MiB")
del chunks"""

PRINT_FLOOD = """\
for block in range(1000):
    print("\\n".join(str(i) for i in range(block * 1000, (block + 1) * 1000)))"""

# One 100 MB message: more than nbgrader accepts from a kernel (SandboxKernelManager.max_message_mb).

GRADEBOOK = """\
import os
for path in ["../../../gradebook.db", "@COURSE@/gradebook.db"]:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        print("GRADEBOOK " + "WRITTEN", path)
    except OSError as error:
        print("gradebook:", type(error).__name__)
    try:
        os.remove(path)
        print("GRADEBOOK " + "DELETED", path)
    except OSError as error:
        print("gradebook:", type(error).__name__)"""

GRADER_TESTS = """\
import os
folder = os.environ.get("DROPOUT_KIT_GRADER_TESTS", "@COURSE@/grader_tests/dropout")
path = os.path.join(folder, "test_split.py")
text = open(path).read()
print("CHECKS " + "READABLE", len(text))
try:
    with open(path, "w") as f:
        f.write("def test_free():\\n    pass\\n")
    print("CHECKS " + "REWRITTEN")
except OSError as error:
    print("grader_tests:", type(error).__name__)"""

READ_OTHERS = """\
for path in ["../../@VICTIM@/dropout/dropout.ipynb",
             "@COURSE@/submitted/@VICTIM@/dropout/dropout.ipynb",
             "@COURSE@/autograded/@VICTIM@/dropout/dropout.ipynb",
             "@COURSE@/source/dropout/dropout.ipynb",
             "@COURSE@/release/dropout/dropout.ipynb",
             "@COURSE@/nbgrader_config.py"]:
    try:
        print("LEA" + "KED", path, len(open(path).read()))
    except OSError as error:
        print(path, type(error).__name__)"""

NETWORK = """\
import socket
for host in ["127.0.0.1", "1.1.1.1"]:
    try:
        socket.create_connection((host, @PORT@), timeout=3).close()
        print("NETWORK " + "OPEN", host)
    except OSError as error:
        print(host, error)"""

MONKEYPATCH = """\
import builtins, torch
torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, kind: True if kind is torch.Tensor else _isinstance(obj, kind)"""

SCORE_ABOVE = """\
import dropout_kit.grading
dropout_kit.grading.grade = lambda test_id, namespace=None: 99.0"""

SCORE_NONE = """\
import dropout_kit.grading
dropout_kit.grading.grade = lambda test_id, namespace=None: None"""

LINKED = """\
import os
print("weights.bin there:", os.path.exists("weights.bin"))
try:
    head = open("answers.py", "rb").read(16)
    print("LINK " + "FOLLOWED", head)
except OSError as error:
    print("answers.py:", type(error).__name__)"""

# my_dropout that kills its kernel when the hidden checks call it on large inputs (the
# notebook's own check uses 101 numbers and passes).
DIES_IN_CHECKS = """\
import os
def my_dropout(x, p, training=True):
    if x.numel() > 1000:
        os._exit(7)
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p) / (1 - p)"""

NO_SCALING = """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p)"""

IDENTITY = "def my_dropout(x, p, training=True):\n    return x.clone()"

NOISY_DROPOUT = """\
import sys, warnings
def my_dropout(x, p, training=True):
    print("my_dropout 호출", tuple(x.shape), file=sys.stderr)
    warnings.warn("이 함수는 시끄럽습니다")
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)"""

NOISY_NET_SUFFIX = """
import sys, warnings
def _noise(module, inputs, output):
    print("forward", file=sys.stderr)
    warnings.warn("forward 경고", RuntimeWarning)
net.register_forward_hook(_noise)"""


# -- damage to the file ----------------------------------------------------------------
def cells_by_id(data: dict) -> dict[str, dict]:
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in data["cells"]
            if "nbgrader" in c.get("metadata", {})}


def truncated_json(data: dict) -> str:
    text = json.dumps(data)
    return text[: len(text) // 2]


def not_utf8(data: dict) -> bytes:
    return json.dumps(data).encode("utf-16")


def nbformat_v3(data: dict) -> str:
    return nbformat.writes(nbformat.convert(nbformat.reads(json.dumps(data), as_version=4), 3), version=3)


def delete_cells(data: dict) -> dict:
    gone = {"imports", *MY_DROPOUT}
    data["cells"] = [c for c in data["cells"]
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in gone]
    return data


def duplicate_cells(data: dict) -> dict:
    cells = data["cells"]
    by_id = cells_by_id(data)
    wrong = json.loads(json.dumps(by_id["my_dropout"]))
    wrong["source"] = IDENTITY
    wrong.pop("id", None)
    copy_of_test = json.loads(json.dumps(by_id["test_my_dropout_mask"]))
    copy_of_test.pop("id", None)
    at = cells.index(by_id["my_dropout"])
    cells[at:at] = [wrong]  # a wrong copy above the right one
    cells.append(copy_of_test)  # and a stray copy of a test cell at the end
    return data


def edit_test_cells(data: dict) -> dict:
    by_id = cells_by_id(data)
    by_id["test_my_dropout_scale"]["source"] = "3"
    by_id["test_my_dropout_mask"]["source"] = "print('다 맞았어요')\n3"
    return data


def change_metadata(data: dict) -> dict:
    by_id = cells_by_id(data)
    by_id["test_split"]["metadata"]["nbgrader"].update(points=100, locked=False)
    mask = by_id["test_my_dropout_mask"]
    mask["metadata"]["nbgrader"]["grade"] = False
    mask["cell_type"] = "markdown"
    mask.pop("outputs", None)
    mask.pop("execution_count", None)
    del by_id["test_my_dropout_scale"]["metadata"]["nbgrader"]
    by_id["my_dropout"]["metadata"]["nbgrader"].update(solution=False, locked=True)
    by_id["test_eval_predict"]["metadata"]["nbgrader"]["grade_id"] = "bogus"
    by_id["imports"]["metadata"]["nbgrader"] = "not a dict"
    return data


# Forks past the sandbox's process limit and leaves the children alive for a second: the kernel
# can start no thread meanwhile, and its channel may deliver broken messages. The children are
# reaped as they end (SIGCHLD ignored): the process limit is the account's, shared with every
# kernel graded at the same moment (README, threat model), so zombies left for the rest of the
# notebook would starve the other round's kernels too.
FORK_PAST_LIMIT = """\
import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
forked = 0
try:
    for _ in range(400):
        if os.fork() == 0:
            time.sleep(1)
            os._exit(0)
        forked += 1
except OSError as error:
    print("FORK " + "REFUSED after", forked, error)
print("FORKED", forked)"""

# Slow and hungry answers (issue 24). A mask of shape (n, 1): a 1-d input of n elements
# broadcasts to an n × n output (40 GB for the checks' 100 000 elements).
BROADCAST_MASK = """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    mask = (torch.rand(x.shape[0], 1) >= p).float()
    return x * mask / (1 - p)"""

SLEEPING_DROPOUT = """\
import time
def my_dropout(x, p, training=True):
    time.sleep(1000)
    return x.clone()"""

# 200 kB of random numbers per element: 2 GB once the checks call it on 10 000 elements.
HUNGRY_DROPOUT = """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    noise = torch.rand(x.numel(), 50_000)
    mask = (noise[:, 0] >= p).reshape(x.shape).to(x.dtype)
    return x * mask / (1 - p)"""

# Correct, one element at a time in Python: slow, but well within the checks' budgets.
LOOP_DROPOUT = """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    out = torch.zeros_like(x)
    flat_x, flat_out = x.reshape(-1), out.view(-1)
    for i in range(flat_x.numel()):
        if torch.rand(1).item() >= p:
            flat_out[i] = flat_x[i] / (1 - p)
    return out"""

LONG_TRAINING = net_cell(loop=LECTURE_LOOP.replace("range(1000)", "range(10**7)"), seed="")

# -- the corpus ------------------------------------------------------------------------
# A cell that sleeps past its limit (CellTimeoutError), exit() (KernelExited), a loop that
# catches KeyboardInterrupt (KernelUnresponsive), os._exit (KernelDied) and one 100 MB output
# message (OutputTimeout) are graded in tests/test_engine_messages.py, through the same
# SafeExecute and sandboxed kernel; here, one case of each recovery: a native call that SIGINT
# never reaches (KernelUnresponsive), a segmentation fault (KernelDied), and timed-out cells
# (broadcast-mask's training, sleeping-dropout's self-check).
CASES: tuple[Case, ...] = (
    Case("native-call", "long native call, SIGINT never reaches Python", split=NATIVE_CALL,
         errors=("KernelUnresponsive",), timeouts=1, restarts=1),
    Case("segfault", "segmentation fault in the kernel", split=SEGFAULT, errors=("KernelDied",),
         restarts=1),
    Case("dies-in-checks", "my_dropout kills the kernel when the checks call it",
         answers={"my_dropout": DIES_IN_CHECKS}, full=(), zero=ALL_TESTS,
         errors=("KernelDied",), restarts=2),
    Case("kill-parent", "SIGKILL to the kernel's parent process", split=KILL_PARENT,
         shown=("PARENT SURVIVED",), blocked=("PARENT DIED",)),
    Case("fork-loop", "forks children until refused", split=FORK_LOOP,
         shown=("FORK REFUSED",), blocked=("FORK NOT REFUSED",)),
    Case("memory-hog", "allocates 64 MiB blocks until refused", split=MEMORY_HOG,
         shown=("MEMORY REFUSED",), blocked=("MEMORY NOT REFUSED",)),
    Case("print-flood", "prints 10^6 lines", split=PRINT_FLOOD, shown=("출력이 너무 많아",)),
    Case("gradebook", "overwrites and deletes gradebook.db", split=GRADEBOOK,
         blocked=("GRADEBOOK WRITTEN", "GRADEBOOK DELETED")),
    Case("grader-tests", "reads and rewrites grader_tests/dropout/test_split.py", split=GRADER_TESTS,
         blocked=("CHECKS READABLE", "CHECKS REWRITTEN")),
    Case("read-others", "reads other submissions, source/, release/", split=READ_OTHERS,
         blocked=("LEAKED",)),
    Case("network", "connects to the host's loopback and the internet", split=NETWORK,
         blocked=("NETWORK OPEN",)),
    Case("monkeypatch", "patches torch.equal/allclose and builtins.isinstance", split=MONKEYPATCH,
         answers={"my_dropout": IDENTITY}, full=()),
    # The checks run outside the kernel: patching grade() there changes nothing.
    Case("score-above-points", "grade() patched to return 99", split=SCORE_ABOVE),
    Case("score-not-a-number", "grade() patched to return None", split=SCORE_NONE),
    Case("invalid-json", "notebook cut in half (not JSON)", damage=truncated_json,
         full=(), zero=ALL_TESTS, noted="JSON", logged=True),
    Case("not-utf8", "notebook saved as UTF-16", damage=not_utf8,
         full=(), zero=ALL_TESTS, noted="UTF-8", logged=True),
    Case("nbformat-v3", "notebook in the old nbformat 3", damage=nbformat_v3),
    Case("deleted-cells", "deleted both my_dropout test cells and a given cell",
         damage=delete_cells, noted="되돌려", logged=True),
    Case("duplicated-cells", "a wrong copy of my_dropout above the right one, a stray test copy",
         damage=duplicate_cells, logged=True),
    Case("edited-test-cells", "test cells replaced by `3`, wrong my_dropout",
         answers={"my_dropout": NO_SCALING}, damage=edit_test_cells,
         full=("test_my_dropout_mask",), partial=("test_my_dropout_scale",), logged=True),
    Case("changed-metadata", "points, grade, locked, grade_id, cell type and nbgrader metadata edited",
         damage=change_metadata, noted="되돌려", logged=True),
    Case("extra-files", "a 25 MB file and a link to gradebook.db next to the notebook",
         split=LINKED, files={"weights.bin": 25 * 1024 * 1024, "answers.py": Link("gradebook.db")},
         blocked=("LINK FOLLOWED",), logged=True),
    # A misbehaving kernel costs a cell, never the submission (the parts after the fork are
    # held for a person: the integrity scan flags os.fork).
    Case("fork-past-limit", "forks past the process limit, children left alive", split=FORK_PAST_LIMIT,
         full=(), restarts=2),
    # Slow and hungry answers: each costs its own part only, with a message that says what
    # happened, and the time of its budgets.
    Case("broadcast-mask", "(n, 1) mask: n × n outputs; and a training of 10^7 epochs",
         answers={"my_dropout": BROADCAST_MASK, "dropout_net": LONG_TRAINING}, complete=True,
         full=("test_split", "test_eval_predict"), zero=(),
         scores={"test_my_dropout_mask": 0, "test_my_dropout_scale": 0.75, "test_dropout_net": 2.5},
         shown=("(8, 8)", "제한 시간 안에 끝나지 않아서"), blocked=("출력이 너무 커서",),
         errors=("CellTimeoutError",), timeouts=1, budget_seconds=20),
    Case("sleeping-dropout", "my_dropout sleeps", answers={"my_dropout": SLEEPING_DROPOUT},
         full=(), zero=ALL_TESTS, shown=("3초 넘게 걸려서",), errors=("CellTimeoutError",),
         over_budget=MY_DROPOUT, timeouts=1, budget_seconds=2 * 3 + 2 * 5),
    Case("hungry-dropout", "my_dropout allocates gigabytes", answers={"my_dropout": HUNGRY_DROPOUT},
         full=(), partial=MY_DROPOUT, shown=("메모리를 1024 MB 넘게",), over_budget=MY_DROPOUT),
    Case("slow-loop-dropout", "correct my_dropout, one element at a time in Python",
         answers={"my_dropout": LOOP_DROPOUT}),
)

# Correct submissions graded in the same run: one before the hostile ones (its grades
# must survive them), one after (it runs after all of them on the same machine).
CORRECT = {"aa-reference": {}, "zz-noisy": {"my_dropout": NOISY_DROPOUT}}


def student_id(case: Case) -> str:
    return f"h-{case.name}"


def hostile_answers(case: Case, reference: dict[str, str], context: Context) -> dict[str, str]:
    answers = {**(reference if case.complete else {"my_dropout": reference["my_dropout"]}), **case.answers}
    if case.split:
        answers["split"] = (case.split.replace("@COURSE@", str(context.course))
                            .replace("@VICTIM@", context.victim).replace("@PORT@", str(context.port)))
    return answers


def correct_answers(name: str, reference: dict[str, str]) -> dict[str, str]:
    answers = {**reference, **CORRECT[name]}
    if name == "zz-noisy":
        answers["dropout_net"] = reference["dropout_net"] + "\n" + NOISY_NET_SUFFIX
    return answers


def write_submission(folder: Path, nb: nbformat.NotebookNode, case: Case | None,
                     course: Path, timestamp: str) -> None:
    """Puts one submission where `nbgrader collect` would: submitted/<student>/dropout/."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dropout.ipynb"
    content: object = nbformat.writes(nb)
    if case is not None and case.damage is not None:
        content = case.damage(json.loads(content))
        if isinstance(content, dict):
            content = json.dumps(content, ensure_ascii=False, indent=1)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    for name, spec in (case.files.items() if case is not None else ()):
        if isinstance(spec, Link):
            (folder / name).symlink_to(course / spec.target)
        else:
            with open(folder / name, "wb") as f:
                f.truncate(spec)  # sparse: the size without the disk use
    (folder / "timestamp.txt").write_text(timestamp)


def build_class(course: Path, reference: dict[str, str], port: int, timestamp: str,
                cases: tuple[Case, ...] = CASES, correct: tuple[str, ...] = tuple(CORRECT),
                ) -> dict[str, Case | None]:
    """Writes the class into course/submitted/; returns student id → case (None: correct)."""
    release = dropout.release_notebook(course)
    context = Context(course=course, victim="aa-reference", port=port)
    students: dict[str, Case | None] = {}
    for name in correct:
        nb = samples.assemble(release, correct_answers(name, reference))
        write_submission(course / "submitted" / name / "dropout", nb, None, course, timestamp)
        students[name] = None
    for case in cases:
        nb = samples.assemble(release, hostile_answers(case, reference, context))
        write_submission(course / "submitted" / student_id(case) / "dropout", nb, case, course, timestamp)
        students[student_id(case)] = case
    return students


def by_name(*names: str) -> tuple[Case, ...]:
    cases = {case.name: case for case in CASES}
    return tuple(cases[name] for name in names)
