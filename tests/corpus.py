"""The corpus of submissions the hidden checks are held to.

Each entry is a set of solution cells ({grade_id: full cell source}) put on top of the
reference answers and assembled on the released notebook. A correct entry must get
full marks in every autograder cell; a wrong entry lists the exact score of each cell it
loses points in (every other cell must get full marks: one mistake, one penalty) and a
phrase of the Korean message that names its mistake in the feedback.

tests/test_corpus.py grades the whole corpus with `nbgrader autograde`;
benchmarks/checks.py runs it in-process over many seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import dropout_assignment as dropout

SEED_LINE = "torch.manual_seed(1)"


@dataclass(frozen=True)
class Entry:
    name: str
    answers: dict[str, str]
    # Autograder cells that lose points, with their exact scores (all others: full marks).
    scores: dict[str, float] = field(default_factory=dict)
    # Words of the feedback that name the mistake (wrong entries only).
    mistake: str = ""
    # The part the mistake is in (wrong entries only).
    part: str = ""

    @property
    def correct(self) -> bool:
        return not self.scores

    def expected(self, max_scores: dict[str, float]) -> dict[str, float]:
        return {cell: self.scores.get(cell, top) for cell, top in max_scores.items()}


# -- building blocks of the cells -------------------------------------------------------
def dropout_fn(body: str, signature: str = "def my_dropout(x, p, training=True):") -> str:
    return signature + "\n" + body.strip("\n")


LECTURE_LAYERS = """\
torch.nn.Linear(in_features=1, out_features=512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(in_features=512, out_features=1),"""

LECTURE_LOOP = """\
for epoc in range(1000):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""


def net_cell(layers: str = LECTURE_LAYERS, loop: str = LECTURE_LOOP, seed: str = SEED_LINE,
             optimizer: str = "torch.optim.Adam(net.parameters())") -> str:
    return f"""\
{seed}
net = torch.nn.Sequential(
    {layers}
)
loss_fn = torch.nn.MSELoss()
optimizr = {optimizer}
{loop}"""


def module_net_cell(dropout_line: str) -> str:
    """An nn.Module subclass whose forward applies `dropout_line` to the hidden units h
    (its layers declared output first: the checks must not depend on the order)."""
    return f"""\
torch.manual_seed(1)


class DropoutNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.out = torch.nn.Linear(512, 1)
        self.hidden = torch.nn.Linear(1, 512)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        {dropout_line}
        return self.out(h)


net = DropoutNet()
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoch in range(1000):
    optimizr.zero_grad()
    yhat = net(xtr)
    loss = loss_fn(yhat, ytr)
    loss.backward()
    optimizr.step()"""


def wrong(name, part, answers, scores, mistake) -> Entry:
    cells = dropout.AUTO_PARTS[part]
    assert set(scores) <= set(cells), f"{name}: {sorted(scores)} are not cells of {part}"
    return Entry(name, answers, scores, mistake, part)


# -- correct but different ---------------------------------------------------------------
CORRECT = [
    Entry("reference", {}),
    Entry("split-torch-split-and-index-tensors", {"split": """\
xtr, xtest = torch.split(x, [80, 20])
train_rows, test_rows = torch.arange(80), torch.arange(80, 100)
ytr, ytest = y[train_rows], y[test_rows]"""}),
    Entry("dropout-bernoulli-returns-input", {"my_dropout": dropout_fn("""
    if training == False:
        return x
    keep = torch.bernoulli(torch.full_like(x, 1 - p))
    return x * keep / (1 - p)""")}),
    Entry("dropout-where-rand-below-p", {"my_dropout": dropout_fn("""
    if training:
        dropped = torch.rand(x.shape) < p
        return torch.where(dropped, torch.zeros_like(x), x / (1 - p))
    return x.clone()""")}),
    Entry("dropout-int64-mask", {"my_dropout": dropout_fn("""
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).long()
    return x * mask / (1 - p)""")}),
    Entry("net-dropout-before-relu", {"dropout_net": net_cell(layers="""\
torch.nn.Linear(1, 512),
    torch.nn.Dropout(p=0.8),
    torch.nn.ReLU(),
    torch.nn.Linear(512, 1),""")}),
    Entry("net-module-functional-dropout", {"dropout_net": module_net_cell(
        "h = torch.nn.functional.dropout(h, p=0.8, training=self.training)")}),
    Entry("net-module-own-my-dropout", {"dropout_net": module_net_cell(
        "h = my_dropout(h, 0.8, self.training)")}),
    Entry("net-other-seed-other-loop", {"dropout_net": net_cell(seed="torch.manual_seed(2023)", loop="""\
for epoch in range(1, 1001):
    optimizr.zero_grad()
    yhat = net(xtr)
    loss = loss_fn(yhat, ytr)
    loss.backward()
    optimizr.step()""")}),
    Entry("net-no-seed", {"dropout_net": net_cell(seed="from torch import nn", layers="""\
nn.Linear(1, 512), nn.ReLU(), nn.Dropout(0.8), nn.Linear(512, 1)""")}),
    Entry("net-minibatches", {"dropout_net": net_cell(loop="""\
for epoc in range(1000):
    for rows in torch.randperm(80).split(20):
        loss = loss_fn(net(xtr[rows]), ytr[rows])
        loss.backward()
        optimizr.step()
        optimizr.zero_grad()""")}),
    Entry("eval-train-false-detach-float", {"eval_predict": """\
net.train(False)
yhat_test = net(xtest).detach()
mse_eval = float(((yhat_test - ytest) ** 2).mean())"""}),
    Entry("eval-data-functional-mse", {"eval_predict": """\
net.eval()
yhat_test = net(xtest).data
mse_eval = torch.nn.functional.mse_loss(yhat_test, ytest).item()"""}),
    Entry("eval-inference-mode", {"eval_predict": """\
with torch.inference_mode():
    yhat_test = net.eval()(xtest)
mse_eval = loss_fn(yhat_test, ytest).item()"""}),
]

# -- wrong: the split ----------------------------------------------------------------
SPLIT = "test_split"
WRONG_SPLIT = [
    wrong("split-shuffled", "split", {"split": """\
idx = torch.randperm(100)
xtr, ytr = x[idx[:80]], y[idx[:80]]
xtest, ytest = x[idx[80:]], y[idx[80:]]"""}, {SPLIT: 1.0}, "행의 순서나 선택이 다릅니다"),
    wrong("split-x-y-misaligned", "split", {"split": """\
xtr, ytr = x[:80], y[20:]
xtest, ytest = x[80:], y[:20]"""}, {SPLIT: 1.0}, "`ytr` 은(는) y의 0~79번 행이어야"),
    wrong("split-flattened", "split", {"split": """\
xtr, ytr = x[:80].flatten(), y[:80].flatten()
xtest, ytest = x[80:].flatten(), y[80:].flatten()"""}, {SPLIT: 1.5}, "shape이 (80,) 입니다"),
    wrong("split-numpy-arrays", "split", {"split": """\
xtr, ytr = x[:80].numpy(), y[:80].numpy()
xtest, ytest = x[80:].numpy(), y[80:].numpy()"""}, {SPLIT: 0.0}, "ndarray 입니다"),
    wrong("split-float64", "split", {"split": """\
xtr, ytr = x[:80].double(), y[:80].double()
xtest, ytest = x[80:].double(), y[80:].double()"""}, {SPLIT: 1.5}, "dtype이 torch.float64 입니다"),
]

# -- wrong: my_dropout -----------------------------------------------------------------
MASK, SCALE = "test_my_dropout_mask", "test_my_dropout_scale"
MASK_OF = "mask = (torch.rand_like(x) >= p).to(x.dtype)"
TORCH_DROPOUT = "my_dropout 에 torch의 드랍아웃을 썼습니다"
NO_SCALING = dropout_fn(f"""
    if not training:
        return x.clone()
    {MASK_OF}
    return x * mask""")
WRONG_MY_DROPOUT = [
    wrong("dropout-torch-functional", "my_dropout", {"my_dropout": dropout_fn("""
    return torch.nn.functional.dropout(x, p, training)""")}, {MASK: 0.0, SCALE: 0.0}, TORCH_DROPOUT),
    wrong("dropout-torch-module", "my_dropout", {"my_dropout": dropout_fn("""
    if training:
        return torch.nn.Dropout(p)(x)
    return x""")}, {MASK: 0.0, SCALE: 0.0}, TORCH_DROPOUT),
    wrong("dropout-torch-builtin", "my_dropout", {"my_dropout": dropout_fn("""
    return torch.dropout(x, p, training)""")}, {MASK: 0.0, SCALE: 0.0}, TORCH_DROPOUT),
    wrong("dropout-from-import", "my_dropout", {"my_dropout": "from torch.nn.functional import dropout as drop\n\n\n"
                                               + dropout_fn("""
    return drop(x, p=p, training=training)""")}, {MASK: 0.0, SCALE: 0.0}, TORCH_DROPOUT),
    wrong("dropout-no-scaling", "my_dropout", {"my_dropout": NO_SCALING}, {SCALE: 1.0},
          "살아남은 값이 입력의 1배 입니다"),
    wrong("dropout-scaled-by-1-over-p", "my_dropout", {"my_dropout": dropout_fn(f"""
    if not training:
        return x.clone()
    {MASK_OF}
    return x * mask / p""")}, {SCALE: 1.0}, "살아남은 값이 입력의 1.25배 입니다"),
    wrong("dropout-exact-count", "my_dropout", {"my_dropout": dropout_fn("""
    if not training:
        return x.clone()
    n_drop = int(round(p * x.numel()))
    mask = torch.ones(x.numel(), dtype=x.dtype)
    mask[torch.randperm(x.numel())[:n_drop]] = 0
    return x * mask.reshape(x.shape) / (1 - p)""")}, {MASK: 2.5}, "매번 정확히 80개가 0이 되었습니다"),
    wrong("dropout-mask-shared-by-rows", "my_dropout", {"my_dropout": dropout_fn("""
    if not training:
        return x.clone()
    mask = (torch.rand(x.shape[-1]) >= p).to(x.dtype)
    return x * mask / (1 - p)""")}, {MASK: 2.5}, "행이 0개, 열이 64개"),
    wrong("dropout-seeded-inside", "my_dropout", {"my_dropout": dropout_fn(f"""
    if not training:
        return x.clone()
    torch.manual_seed(0)
    {MASK_OF}
    return x * mask / (1 - p)""")}, {MASK: 2.0}, "정확히 같은 위치가 0이 되었습니다"),
    wrong("dropout-ignores-training-flag", "my_dropout", {"my_dropout": dropout_fn(f"""
    {MASK_OF}
    return x * mask / (1 - p)""")}, {SCALE: 2.5}, "training=False (평가모드) 인데 원소 1000개 중"),
    wrong("dropout-modifies-input", "my_dropout", {"my_dropout": dropout_fn("""
    if not training:
        return x
    x[torch.rand_like(x) < p] = 0
    x /= 1 - p
    return x""")}, {SCALE: 2.75}, "입력 텐서 x 자체를 바꿨습니다"),
    wrong("dropout-detached", "my_dropout", {"my_dropout": dropout_fn(f"""
    if not training:
        return x.clone()
    {MASK_OF}
    return (x * mask / (1 - p)).detach()""")}, {SCALE: 2.5}, "미분할 수 없습니다"),
    # The network is built on the wrong my_dropout: only my_dropout's cells lose points.
    wrong("dropout-no-scaling-net-built-on-it", "my_dropout", {
        "my_dropout": NO_SCALING,
        "dropout_net": module_net_cell("h = my_dropout(h, 0.8, self.training)")},
        {SCALE: 1.0}, "살아남은 값이 입력의 1배 입니다"),
]

# -- wrong: the dropout network ---------------------------------------------------------
NET = "test_dropout_net"


def layers_with(dropout: str, where: str = "hidden") -> str:
    lin1, relu, lin2 = "torch.nn.Linear(1, 512)", "torch.nn.ReLU()", "torch.nn.Linear(512, 1)"
    order = {"hidden": [lin1, relu, dropout, lin2], "input": [dropout, lin1, relu, lin2],
             "output": [lin1, relu, lin2, dropout], "none": [lin1, relu, lin2]}[where]
    return ",\n    ".join(order) + ","


WRONG_NET = [
    wrong("net-dropout-p05", "dropout_net", {"dropout_net": net_cell(layers=layers_with("torch.nn.Dropout(0.5)"))},
          {NET: 3.0}, "은닉층 노드가 0이 된 비율이"),
    wrong("net-no-dropout", "dropout_net", {"dropout_net": net_cell(layers=layers_with("", "none"))},
          {NET: 3.0}, "드랍아웃이 없습니다"),
    wrong("net-dropout-on-input", "dropout_net",
          {"dropout_net": net_cell(layers=layers_with("torch.nn.Dropout(0.8)", "input"))},
          {NET: 2.0}, "드랍아웃이 입력에"),
    wrong("net-dropout-after-output", "dropout_net",
          {"dropout_net": net_cell(layers=layers_with("torch.nn.Dropout(0.8)", "output"))},
          {NET: 2.0}, "드랍아웃이 출력층 뒤에"),
    wrong("net-width-256", "dropout_net", {"dropout_net": net_cell(layers="""\
torch.nn.Linear(1, 256),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(256, 1),""")}, {NET: 3.5}, "[(1, 256), (256, 1)]"),
    wrong("net-module-dropout-ignores-mode", "dropout_net", {"dropout_net": module_net_cell(
        "h = torch.nn.functional.dropout(h, p=0.8)")}, {NET: 3.5}, "평가모드인데도 같은 입력에 대한 결과가"),
    wrong("net-untrained", "dropout_net", {"dropout_net": net_cell(loop="")}, {NET: 3.0}, "가중치가 하나도 바뀌지 않았습니다"),
    wrong("net-10-epochs", "dropout_net", {"dropout_net": net_cell(loop=LECTURE_LOOP.replace("1000", "10"))},
          {NET: 3.0}, "곡선을 따라가지 못했습니다"),
    wrong("net-no-optimizer-step", "dropout_net", {"dropout_net": net_cell(
        loop=LECTURE_LOOP.replace("    optimizr.step()\n", ""))}, {NET: 3.0}, "가중치가 하나도 바뀌지 않았습니다"),
    wrong("net-learning-rate-too-small", "dropout_net", {"dropout_net": net_cell(
        optimizer="torch.optim.Adam(net.parameters(), lr=1e-6)")}, {NET: 3.0}, "곡선을 따라가지 못했습니다"),
    # Dropout never active while training: the net is the one without dropout.
    wrong("net-trained-in-eval-mode", "dropout_net", {"dropout_net": net_cell(loop="net.eval()\n" + LECTURE_LOOP)},
          {NET: 3.0}, "학습하는 동안 드랍아웃이 꺼져 있었습니다"),
    wrong("net-trained-with-train-false", "dropout_net", {"dropout_net": net_cell(
        loop=LECTURE_LOOP.replace("    loss = ", "    net.train(False)\n    loss = "))},
          {NET: 3.0}, "학습하는 동안 드랍아웃이 꺼져 있었습니다"),
    wrong("net-trained-on-test-data", "dropout_net", {"dropout_net": net_cell(
        loop=LECTURE_LOOP.replace("net(xtr), ytr", "net(xtest), ytest"))}, {NET: 2.5}, "학습에 테스트 데이터(또는 x, y 전체)가 쓰였습니다"),
    wrong("net-trained-on-all-data", "dropout_net", {"dropout_net": net_cell(
        loop=LECTURE_LOOP.replace("net(xtr), ytr", "net(x), y"))}, {NET: 2.5}, "가중치가 NaN 입니다"),
]

# -- wrong: the evaluation-mode prediction ------------------------------------------------
EVAL = "test_eval_predict"
PREDICTION = """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)
"""
WRONG_EVAL = [
    wrong("eval-no-eval-mode", "eval_predict", {"eval_predict": """\
yhat_test = net(xtest).data
mse_eval = loss_fn(yhat_test, ytest).item()"""}, {EVAL: 0.5}, "net 이 학습모드로 동작합니다"),
    wrong("eval-training-flag-on-top-module", "eval_predict", {"eval_predict": """\
net.training = False
with torch.no_grad():
    yhat_test = net(xtest)
mse_eval = loss_fn(yhat_test, ytest).item()"""}, {EVAL: 0.5}, "net.training = False 는 맨 위 모듈만 바꿉니다"),
    wrong("eval-prediction-keeps-graph", "eval_predict", {"eval_predict": """\
net.eval()
yhat_test = net(xtest)
mse_eval = loss_fn(yhat_test, ytest).item()"""}, {EVAL: 1.5}, "미분 정보(autograd graph)가 남아"),
    wrong("eval-mse-is-a-tensor", "eval_predict", {"eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)
mse_eval = loss_fn(yhat_test, ytest)"""}, {EVAL: 2.0}, "float 이어야 하는데 Tensor 입니다"),
    wrong("eval-mse-on-training-data", "eval_predict", {"eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest)
    mse_eval = loss_fn(net(xtr), ytr).item()"""}, {EVAL: 2.0}, "테스트 데이터(yhat_test, ytest)로 계산하세요"),
    # Not numbers: NaN compares false with everything, so a tolerance test alone would pass it.
    wrong("eval-mse-nan", "eval_predict", {"eval_predict": PREDICTION + "mse_eval = float('nan')"},
          {EVAL: 2.0}, "mse_eval 이(가) nan 입니다"),
    wrong("eval-mse-inf", "eval_predict", {"eval_predict": PREDICTION + "mse_eval = float('inf')"},
          {EVAL: 2.0}, "mse_eval 이(가) inf 입니다"),
    # The evaluation mode alone, nothing predicted: its point stands (the check of the
    # notebook's own prediction must not take it again).
    wrong("eval-mode-only", "eval_predict", {"eval_predict": "net.eval()"}, {EVAL: 1.0},
          "`yhat_test` 이(가) 정의되지 않았습니다"),
    wrong("eval-prediction-0d", "eval_predict", {"eval_predict": """\
net.eval()
with torch.no_grad():
    yhat_test = net(xtest).mean()
mse_eval = loss_fn(yhat_test, ytest).item()"""}, {EVAL: 1.5}, "yhat_test 의 shape이 () 입니다"),
]

# -- wrong: mutants of the reference found by `dropout-kit audit` ------------------------------
# Each is one mutant of the reference's cell, as the audit exports survivors (survivors.json).
# tests/test_audit.py: with the scaling checks weakened the two my_dropout mutants survive;
# here the real checks must kill them in my_dropout's cells. The 500-epoch training survived
# the real checks until test_dropout_net read the epochs from the cell's source.
REFERENCE_DROPOUT = """\
def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)"""
AUDIT_FOUND = [
    wrong("audit-my_dropout-arithmetic-1", "my_dropout",
          {"my_dropout": REFERENCE_DROPOUT.replace("x * mask / (1 - p)", "x * mask * (1 - p)")},
          {SCALE: 1.0}, "살아남은 값이 입력의 0.5배 입니다"),
    wrong("audit-my_dropout-number-2", "my_dropout",
          {"my_dropout": REFERENCE_DROPOUT.replace("x * mask / (1 - p)", "x * mask / (2 - p)")},
          {SCALE: 1.0}, "살아남은 값이 입력의 0.667배 입니다"),
    wrong("audit-dropout_net-number-33", "dropout_net",
          {"dropout_net": net_cell(loop=LECTURE_LOOP.replace("range(1000)", "range(500)"))},
          {NET: 3.0}, "optimizr.step() 을 500번만 부릅니다"),
]

WRONG = WRONG_SPLIT + WRONG_MY_DROPOUT + WRONG_NET + WRONG_EVAL + AUDIT_FOUND
ENTRIES = CORRECT + WRONG
assert len({e.name for e in ENTRIES}) == len(ENTRIES), "corpus entry names must be unique"


def answers(entry: Entry, reference: dict[str, str]) -> dict[str, str]:
    """The entry's solution cells on top of the reference answers."""
    return {**reference, **entry.answers}
