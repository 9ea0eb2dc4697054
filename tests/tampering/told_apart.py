"""Cells that tell the checks' re-run from the notebook's own run (issue 32, class 2).

tells-the-rerun-apart: the eval_predict cell below recognises the network it was given: in the notebook it is the
`net` its dropout_net cell built (kept under another name), in the checks' re-run it is the
checker's network. On its own net it predicts in training mode and shows a made-up
`mse_eval`; on any other it does everything right. Before issue 32 the re-run alone was
judged, so the notebook's own numbers earned 3 of 3. Now the notebook's own `yhat_test` and
`mse_eval` are compared with the checker's computation from the notebook's own net and test
data (grader_tests/dropout/test_eval_predict.py), and the part scores exactly what the same
cell scores without its re-run branch (the twin).

lies-to-part-3: the same cell with a net whose evaluation-mode pass on 200 rows (the inputs of
part 3's pass) is off by one and every other pass right. When part 4 asked the kernel again
whether the net computes the lecture's Linear → ReLU → Linear, it answered no and the
notebook's own prediction went unjudged: 3 of 3 for part 4 at the price of part 3's
evaluation-mode point. Part 4 now follows part 3's finding, kept in the checker, and judges
the prediction against the net's own evaluation-mode pass on xtest: 0, as its twin.

remembers-*: the dropout_net cell trains on all 100 rows the first time it runs, and on the
training rows once it finds a mark its first run left: in `os.environ`, in a file of the
working folder, or on a class an earlier cell defined. Before issue 32 the checks re-ran the
cell in the notebook's own kernel, found the mark and judged a training on the 80 rows (4 of 4
where its twin, which trains on all the rows, scores 2.5). Now the re-run runs in a judgement
kernel that ran only the cells before it (dropout_kit/engine/judgement_kernel.py): no mark,
the re-run trains on all the rows and scores what the twin scores.

watches-for-hooks: a network whose forward drops 80 % of its hidden units only while a
forward hook is registered on one of its layers (the checks used to record the hidden units
with hooks), 20 % otherwise. The training-mode check now judges the statistics of the net's
own outputs, no hook in the net: it sees Dropout(0.2), as in its twin.

slow-when-rerun: the dropout_net cell recognises the re-run by its NaN test rows and waits
there until the re-run's budget stops it. The notebook's own run of the cell finished, so the
re-run's limit takes nothing from it: the part goes to a person (held, the automatic result
suggested in full, as its twin's), which is what a slow re-run of honest work on a busy
machine gets too.
"""
from __future__ import annotations

import textwrap

import corpus as checks_corpus

from tampering.corpus import PRINT_MARKER, Case

NET = checks_corpus.net_cell()
OWN_NET = f"{NET}\n_own_net = net"
TRAINING_MODE_MADE_UP_MSE = "yhat_test = net(xtest).data\nmse_eval = 0.0001"
TELLS_THE_RERUN_APART = f"""\
{PRINT_MARKER}
if net is _own_net:
{textwrap.indent(TRAINING_MODE_MADE_UP_MSE, "    ")}
else:
    net.eval()
    with torch.no_grad():
        yhat_test = net(xtest)
    mse_eval = loss_fn(yhat_test, ytest).item()"""

# A net that answers a pass of 200 rows in evaluation mode (part 3's) one added to what its
# weights compute, and every other pass right.
LIES_TO_PART_3 = f"""\
class _Lies(torch.nn.Sequential):
    def forward(self, x):
        out = super().forward(x)
        return out + 1 if not self.training and len(x) == 200 else out


{OWN_NET.replace("torch.nn.Sequential(", "_Lies(", 1)}"""

WAITS_WHEN_RERUN = f"""\
{PRINT_MARKER}
import time
if torch.isnan(x).any():  # only the checks' re-run has NaN rows
    time.sleep(600)
{NET}"""

ALL_ROWS_LOOP = checks_corpus.LECTURE_LOOP.replace("net(xtr), ytr", "net(x), y")
ROWS_ONCE_MARKED = checks_corpus.LECTURE_LOOP.replace("net(xtr), ytr",
                                                       "net(xtr if _marked else x), ytr if _marked else y")


def remembers(check_and_mark: str) -> str:
    """A dropout_net cell that trains on all the rows unless `check_and_mark` sets `_marked`
    (and leaves the mark for the next run)."""
    return f"{PRINT_MARKER}\n{check_and_mark}{checks_corpus.net_cell(loop=ROWS_ONCE_MARKED)}"


IN_ENVIRON = """\
import os
_marked = os.environ.get("SEEN_THE_NOTEBOOK") == "yes"
os.environ["SEEN_THE_NOTEBOOK"] = "yes"
"""
IN_A_FILE = """\
import os
_marked = os.path.exists("seen-the-notebook.txt")
open("seen-the-notebook.txt", "w").close()
"""
ON_A_CLASS = """\
_marked = _Memory.seen
_Memory.seen = True
"""
MEMORY_CLASS = f"{checks_corpus.REFERENCE_DROPOUT}\n\n\nclass _Memory:\n    seen = False"

WATCHES_FOR_HOOKS = checks_corpus.module_net_cell(
    "h = torch.nn.functional.dropout(h, p=0.8 if any(m._forward_hooks for m in self.modules()) else 0.2, "
    "training=self.training)")

TWINS: dict[str, dict[str, str]] = {
    "dropout-0.2-net": {"dropout_net": checks_corpus.module_net_cell(
        "h = torch.nn.functional.dropout(h, p=0.2, training=self.training)")},
    "all-rows-net": {"dropout_net": checks_corpus.net_cell(loop=ALL_ROWS_LOOP)},
    "training-mode-made-up-mse": {"dropout_net": NET, "eval_predict": TRAINING_MODE_MADE_UP_MSE},
    "right-net": {"dropout_net": NET},
    "lying-net-made-up-mse": {"dropout_net": LIES_TO_PART_3, "eval_predict": TRAINING_MODE_MADE_UP_MSE},
}

CASES: tuple[Case, ...] = (
    Case("tells-the-rerun-apart", "eval_predict predicts in training mode with a made-up mse_eval on the "
         "notebook's own net, and right on any other", {"dropout_net": OWN_NET, "eval_predict": TELLS_THE_RERUN_APART},
         right=("split", "my_dropout", "dropout_net"), honest="training-mode-made-up-mse"),
    Case("lies-to-part-3", "tells-the-rerun-apart's eval_predict with a net whose evaluation-mode pass on 200 rows "
         "is off by one", {"dropout_net": LIES_TO_PART_3, "eval_predict": TELLS_THE_RERUN_APART},
         right=("split", "my_dropout"), honest="lying-net-made-up-mse"),
    Case("remembers-in-environ", "dropout_net trains on all the rows unless its first run left a mark in os.environ",
         {"dropout_net": remembers(IN_ENVIRON)}, honest="all-rows-net"),
    Case("remembers-in-a-file", "dropout_net trains on all the rows unless its first run left a file",
         {"dropout_net": remembers(IN_A_FILE)}, honest="all-rows-net"),
    Case("remembers-on-a-class", "dropout_net trains on all the rows unless its first run marked a class of "
         "the my_dropout cell", {"my_dropout": MEMORY_CLASS, "dropout_net": remembers(ON_A_CLASS)},
         honest="all-rows-net"),
    Case("watches-for-hooks", "dropout_net's network drops 80 % only while a forward hook is on one of its layers",
         {"dropout_net": f"{PRINT_MARKER}\n{WATCHES_FOR_HOOKS}"}, honest="dropout-0.2-net"),
    Case("slow-when-rerun", "dropout_net waits until the re-run's budget stops it when it sees NaN test rows",
         {"dropout_net": WAITS_WHEN_RERUN}, right=("split", "my_dropout", "dropout_net"), honest="right-net"),
)
