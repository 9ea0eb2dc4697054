"""Forgeries of issue 22: grades forged through what the student's kernel observes or reports.

Each case is a real attempt by a student who has read the kit's public source, against the
checks as they were before issue 22, when several of them awarded points for observations
made inside the kernel. The cases follow tests/tampering/corpus.py (the same `Case`, every
attack prints MARKER first, `answers` over the defaults: `split` and `my_dropout` right,
`dropout_net` and `eval_predict` blank). `honest` names the same answers without the attack:
a twin in tampering.corpus.HONEST, or in TWINS below.

How each fares now that points come only from nbgrader's copy of the sources and from values
the checker compares with its own computation:

1. torch-dropout-behind-disabled-mode: my_dropout calls F.dropout inside
   `torch._C.DisableTorchFunction()`, which hid it from the kernel-side TorchFunctionMode of
   the old "hand-written" gate (6 forged points). Loses points through the checks: the gate
   reads the submitted source (dropout_kit.integrity.dropout_use) and finds
   torch.nn.functional.dropout, so both my_dropout cells score 0, as its twin does.
   (A name built at run time, `getattr(F, "drop" + "out")`, is what the reading cannot
   follow: that passes the gate and is flagged for a person, with its line.)
2. module-training-property: no net.eval(), and torch.nn.Module.training replaced by a
   property that answers False when the kit's agent describes the layers (old: "every layer
   in evaluation mode", +1 point). Loses points through the checks: the mode is judged from
   two passes of the checker's network against the checker's evaluation-mode output, and
   the dropout is still on. The library write is also the static scan's.
3. behaves-well-only-when-rerun: the dropout_net cell trains on all 100 rows unless it finds
   itself in a re-run (`globals() is not get_ipython().user_ns`: the old re-runs used a copy
   of the namespace), and applies dropout only under torch.no_grad() (the old probes' mode);
   the eval_predict cell calls net.eval() only in a re-run. Old: full points for all three.
   Loses points through the checks: re-runs now execute in the kernel's own namespace dict
   and probes run with autograd on, so the cell does in the re-run what it does live (NaN
   weights from the NaN test rows, no dropout in a training-mode pass, no evaluation mode).
   get_ipython is also the static scan's.
4. agent-methods-replaced: the eval_predict cell (no net.eval()) finds the agent through
   `__dropout_kit_agent__.__closure__` and replaces its op_rerun so that every re-run starts
   with `net.eval()`. The re-run then computes correct values, so no check on data can tell:
   this one keeps its forged points (3 of 3 in eval_predict where its twin scores 0.5) and
   is meant for the static scan, which flags the agent's name and holds the part for a person.
7. mse-eval-nan: `mse_eval = float("nan")`: a float, and `abs(nan - expected) > tol` is
   False, so the old check passed it (+0.5). Loses points through the checks: mse_eval must
   be finite (math.isfinite) before it is compared; the part scores as its twin without
   mse_eval.
"""
from __future__ import annotations

from tampering.corpus import NO_EVAL_MODE, PRINT_MARKER, Case

# The answers of the cases without their attacks, where tampering.corpus.HONEST has none.
ALL_DATA_NO_DROPOUT_NET = """\
torch.manual_seed(1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(1, 512)
        self.out = torch.nn.Linear(512, 1)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


net = Net()
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(x), y)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""

PREDICTION_WITHOUT_MSE = """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)"""

TWINS: dict[str, dict[str, str]] = {
    "torch-functional-dropout": {"my_dropout": """\
import torch.nn.functional as F


def my_dropout(x, p, training=True):
    return F.dropout(x, p, training)"""},
    "all-data-no-dropout-no-eval-mode": {"dropout_net": ALL_DATA_NO_DROPOUT_NET, "eval_predict": NO_EVAL_MODE},
    "no-mse-eval": {"eval_predict": PREDICTION_WITHOUT_MSE},
}

# 1. The old gate watched my_dropout's torch calls with a TorchFunctionMode in the kernel.
DROPOUT_BEHIND_DISABLED_MODE = f"""\
{PRINT_MARKER}
import torch.nn.functional as F


def my_dropout(x, p, training=True):
    # the kit's TorchFunctionMode sees nothing while torch functions are disabled
    with torch._C.DisableTorchFunction():
        return F.dropout(x, p, training)"""

# 2. The old check read each layer's `training` as the agent's op_describe reported it.
TRAINING_PROPERTY = f"""\
{PRINT_MARKER}
import sys


def _mode(self):
    if sys._getframe(1).f_code.co_name == "op_describe":  # the kit's agent asks
        return False
    return self.__dict__.get("_mode", self.__dict__.get("training", True))


def _set_mode(self, mode):
    self.__dict__["_mode"] = mode


torch.nn.Module.training = property(_mode, _set_mode)
{NO_EVAL_MODE}"""

# 3. The old re-runs used a copy of the namespace; the old probes ran under torch.no_grad().
RERUN_AWARE_NET = f"""\
{PRINT_MARKER}
torch.manual_seed(1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(1, 512)
        self.out = torch.nn.Linear(512, 1)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        if not torch.is_grad_enabled():  # the kit's probes run under torch.no_grad()
            h = torch.nn.functional.dropout(h, 0.8, self.training)
        return self.out(h)


# the kit re-runs this cell in a copy of the namespace: there, train on (xtr, ytr) only
checked = globals() is not get_ipython().user_ns
xs, ys = (xtr, ytr) if checked else (x, y)
net = Net()
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range(1000):
    loss = loss_fn(net(xs), ys)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""

RERUN_AWARE_EVAL = f"""\
{PRINT_MARKER}
if globals() is not get_ipython().user_ns:  # only in the kit's re-run
    net.eval()
{NO_EVAL_MODE}"""

# 4. The agent answers for the kernel; replaced, it answers what the student wants.
AGENT_REPLACED = f"""\
{PRINT_MARKER}
_agent = next(cell.cell_contents for cell in __dropout_kit_agent__.__closure__
              if type(cell.cell_contents).__name__ == "Agent")
_rerun = type(_agent).op_rerun


def _rerun_in_evaluation_mode(source, overrides=None, drop=(), **options):
    return _rerun(_agent, "net.eval()\\n" + source, overrides, drop, **options)


_agent.op_rerun = _rerun_in_evaluation_mode
{NO_EVAL_MODE}"""

# 7. NaN is a float and compares false with everything.
MSE_NAN = f"""\
{PRINT_MARKER}
{PREDICTION_WITHOUT_MSE}
mse_eval = float("nan")"""

FORGERIES: tuple[Case, ...] = (
    Case("torch-dropout-behind-disabled-mode", "my_dropout is F.dropout inside torch._C.DisableTorchFunction()",
         {"my_dropout": DROPOUT_BEHIND_DISABLED_MODE}, right=("split",), honest="torch-functional-dropout"),
    Case("module-training-property", "Module.training a property that tells the agent False; no net.eval()",
         {"eval_predict": TRAINING_PROPERTY}, honest="no-eval-mode"),
    Case("behaves-well-only-when-rerun", "dropout_net trains on all rows and eval_predict skips net.eval() "
         "unless re-run; dropout only under no_grad", {"dropout_net": RERUN_AWARE_NET, "eval_predict": RERUN_AWARE_EVAL},
         honest="all-data-no-dropout-no-eval-mode"),
    Case("agent-methods-replaced", "the agent's op_rerun replaced to put net.eval() before every re-run",
         {"eval_predict": AGENT_REPLACED}, honest="no-eval-mode"),
    Case("mse-eval-nan", "mse_eval = float('nan')", {"eval_predict": MSE_NAN}, honest="no-mse-eval"),
)
assert len({case.name for case in FORGERIES}) == len(FORGERIES), "case names must be unique"

# Kept by data alone (their points are the static scan's to hold for a person).
FOR_THE_SCAN = ("agent-methods-replaced",)
