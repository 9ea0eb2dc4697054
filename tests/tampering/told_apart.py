"""Cells that tell the checks' re-run from the notebook's own run (issue 32, class 2).

tells-the-rerun-apart: the eval_predict cell below recognises the network it was given: in the notebook it is the
`net` its dropout_net cell built (kept under another name), in the checks' re-run it is the
checker's network. On its own net it predicts in training mode and shows a made-up
`mse_eval`; on any other it does everything right. Before issue 32 the re-run alone was
judged, so the notebook's own numbers earned 3 of 3. Now the notebook's own `yhat_test` and
`mse_eval` are compared with the checker's computation from the notebook's own net and test
data (grader_tests/dropout/test_eval_predict.py), and the part scores exactly what the same
cell scores without its re-run branch (the twin).

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

WAITS_WHEN_RERUN = f"""\
{PRINT_MARKER}
import time
if torch.isnan(x).any():  # only the checks' re-run has NaN rows
    time.sleep(600)
{NET}"""

TWINS: dict[str, dict[str, str]] = {
    "training-mode-made-up-mse": {"dropout_net": NET, "eval_predict": TRAINING_MODE_MADE_UP_MSE},
    "right-net": {"dropout_net": NET},
}

CASES: tuple[Case, ...] = (
    Case("tells-the-rerun-apart", "eval_predict predicts in training mode with a made-up mse_eval on the "
         "notebook's own net, and right on any other", {"dropout_net": OWN_NET, "eval_predict": TELLS_THE_RERUN_APART},
         right=("split", "my_dropout", "dropout_net"), honest="training-mode-made-up-mse"),
    Case("slow-when-rerun", "dropout_net waits until the re-run's budget stops it when it sees NaN test rows",
         {"dropout_net": WAITS_WHEN_RERUN}, right=("split", "my_dropout", "dropout_net"), honest="right-net"),
)
