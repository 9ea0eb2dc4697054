"""Part 3, the dropout model: Linear(1→512) → ReLU → Dropout(0.8) → Linear(512→1),
trained 1000 epochs on (xtr, ytr) only. Judged from data, not from the text of the code
and not from anything the kernel says about itself (mode flags, class names, row counts).

The checks compute with the net's state dict: its two Linear layers are found there by their
shapes, (h, 1) + (h,) and (1, h) + (1,), and the checker computes the evaluation-mode output
W2·ReLU(W1·x + b1) + b2 itself. A forward pass from the kernel counts only where it equals
that computation (evaluation mode), or (training mode) where training-mode passes of the net
as it is, on inputs drawn in the lecture's x range, scatter around that computation exactly
as Dropout(0.8) on its hidden units makes them (training_pass: the variance and the mean of
the outputs' distances from it, against bounds derived from the weights). Dropout before or
after the ReLU passes; another rate, no scaling, one mask for all units, dropout on the
input or after the output layer do not. No hook, weight or input the net could recognise as
the checks' is in it while it runs. Training is judged metamorphically: the student's cell
is re-run with the lecture's split, the training targets changed to a curve and every test
row set to NaN; the fit of the re-trained net to the curve (R², from its weights, computed
here) and its weights being free of NaN (a net that touched test data ends with NaN weights)
decide. The re-run runs in the cell's judgement kernel
(dropout_kit/engine/judgement_kernel.py): a fresh kernel that ran only the notebook's cells
before this one, so nothing the notebook's own run of the cell left behind reaches it.
The re-run has a training's budget (dropout_kit.checks.remote.TRAINING); a dropout_net cell
that nbgrader's side stopped at its time limit in the notebook, or left unanswered (its run
raised NotImplementedError, as the release's stub does), is not re-run (it would only do so
again): the two training checks fail saying so, and the structure checks judge the net as
the stopped cell left it. A cell that failed in the notebook for another reason is re-run:
with the lecture's data it may well train (a wrong split costs part 1, not part 3). A re-run that runs past its budget where the notebook's own run
finished (a busy machine, a cell slower when re-run) takes nothing: the part goes to a
person (held_for_a_person).

The number of epochs is not judged from data (an untrained net cannot reach MIN_R2, nor one
trained 10 epochs, but about 100 already can: R² at most 0.16 untrained, 0.38-0.54 after 10
epochs, 0.84-0.87 after 100, for seeds 1-3): it is read from nbgrader's copy of the cell
(training_epochs: the `for` loops over a constant `range` around the optimizer's `.step()`),
and fewer than the lecture's 1000 fail the training check (`dropout-kit audit` found
`range(500)` passing before). A loop that reading cannot count passes.

Whether training ran with dropout on is judged from the re-trained net's weights: training
in training mode minimises the loss with dropout, whose expectation is the evaluation-mode
loss plus the variance dropout adds to the output, P/(1-P) · Σ_j W2_j² ReLU(W1_j·x + b1_j)²
(`dropout_noise`, computed here on the training inputs); a net trained with dropout off
(`net.eval()` before the loop, `net.train(False)` inside it) never pays for that
variance and ends with it about 25 times larger. Measured relative to the curve's variance
by `python -m benchmarks.training_mode` (1000 seeds each, real trainings of the reference
cell and of the cell with `net.eval()` before its loop, 2026-12-07): trained with dropout
0.087-0.122 (mean 0.103, sd 0.0052), with dropout off 1.66-3.68 (mean 2.53, sd 0.26).
MAX_DROPOUT_NOISE = 0.6 is 96 standard deviations above the first mean (a normal tail there
is far below 1e-6; no run came within 0.47 of it) and 7.5 below the second. It is judged
only when the net's dropout itself is right (test_dropout_on_hidden_units): a net without
dropout, or with another rate (a Dropout(0.0) too), loses those points there, once. A cell
that tells the re-run from the notebook by the data it is given (NaN rows, changed
targets) is not caught here (README, threat model). The live net is not compared with a
re-run on the notebook's own data: that costs a second 1000-epoch training (doubling these
checks' time), and a correct cell without a fixed seed (or seeded from the clock) differs
from its re-run legitimately.

False-fail probabilities for a correct submission: the training-mode statistics are each
accepted within bounds at level 1e-6/3 (training_pass, derived there); every other check
compares values that a correct net computes exactly as the checker does (float32, the same
operations), except the R² of the re-trained net, which depends on the
student's seed only: over the seeds measured by benchmarks/checks.py its minimum stays far
above MIN_R2 (reported there with the distance in standard deviations).
"""
import ast
import math

import pytest
import torch

import lecture
import training_pass
from networks import GRID, LECTURE_EVALUATION, RECOMPUTED, Linears, finite_state, has_nan, linears, weights
from training_pass import TrainingPass
from dropout_kit.checking import (TRAINING, OverBudget, defined, describe_error, fail, flag, is_kind, measure,
                                  real_tensor, seeded)
from dropout_kit.checks.remote import TorchFunction
from dropout_kit.stats import FALSE_FAIL

P = lecture.DROPOUT_P
# Re-run targets; see benchmarks/checks.py for the R² a correct net reaches on them.
MIN_R2 = 0.8
# The output variance dropout adds on the training inputs, relative to the re-run targets'
# variance, above which the net was trained with dropout off (benchmarks/training_mode.py).
MAX_DROPOUT_NOISE = 0.6
def retarget(xtr):
    return 0.5 * torch.sin(2 * math.pi * xtr)


def pass_on_grid(net, training, repeat=1, inputs=GRID):
    """Passes on `inputs` in the kernel in the given mode (modes restored afterwards): the
    outputs, values to compare with the computation here, nothing more."""
    done = net.forward(inputs, training=training, repeat=repeat)
    if done.error is not None:
        raise done.error
    for out in done.outputs:
        real_tensor(out, "net 의 출력")
        if tuple(out.shape) != (len(inputs), 1):
            fail(f"net 에 shape {(len(inputs), 1)} 입력을 넣었더니 출력이 {tuple(out.shape)} 입니다.")
    return done.outputs


@pytest.fixture(scope="module", autouse=True)
def correct_my_dropout(student):
    """A network built on the student's own my_dropout is judged with a correct dropout in
    its place (looked up by name at call time), so a wrong my_dropout costs nothing here."""
    if not student.has("my_dropout"):
        yield
        return
    with student.bound("my_dropout", TorchFunction("torch.nn.functional.dropout")):
        yield


@pytest.fixture
def state(net):
    """The live net's state dict: the values the checks compute with."""
    return net.state()


@pytest.fixture(scope="module")
def retrained(student, solution_sources):
    """The student's dropout_net cell re-run on the lecture's split with the training
    targets changed to a curve and every test row NaN, in the cell's judgement kernel: a
    fresh kernel that ran the notebook's cells before it, so nothing the notebook's own run
    left reaches the re-run (in one process, where there is none, the live net is dropped
    instead, so the cell must build its own). The OverBudget itself when the re-run was
    stopped at its time budget or the judgement kernel could not be had."""
    source = solution_sources("dropout_net")
    if student.ran_out_of_time("dropout_net"):
        fail("dropout_net 셀이 노트북에서 제한 시간 안에 끝나지 않아서, 학습을 확인하려고 다시 실행하지 "
             f"않았습니다. 학습 횟수({lecture.EPOCHS} epochs)를 확인하세요.")
    error = student.cell_error("dropout_net")
    if error is not None and error.type_name == "NotImplementedError":  # the release's stub: not answered
        fail(f"dropout_net 셀이 노트북에서 오류로 끝났습니다: {describe_error(error)}")
    s = lecture.split()
    nan = torch.full((20, 1), float("nan"))
    x = torch.cat([s["xtr"], nan])
    y = torch.cat([retarget(s["xtr"]), nan])
    judge = student.fresh("dropout_net")
    with seeded(judge):
        try:
            return judge.rerun(source, overrides=dict(x=x, y=y, xtr=x[:80], ytr=y[:80], xtest=x[80:], ytest=y[80:]),
                               drop=[] if judge.is_fresh else ["net"], budget=TRAINING, cell="dropout_net")
        except OverBudget as over:  # stopped at a budget (a memory budget ends in .error), or no judgement kernel
            return over


def held_for_a_person(retrained) -> bool:
    """Whether the re-run ran past its budget (time or memory). The notebook's own run of the
    cell finished within its limit (a cell stopped there is not re-run), so the re-run's limit
    takes nothing from the student: the part goes to a person with what happened, and the
    training checks judge nothing of it."""
    over = retrained if isinstance(retrained, OverBudget) else retrained.error
    if not isinstance(over, OverBudget):
        return False
    if over.kind == "judgement":
        flag(f"dropout_net re-run (changed targets, NaN test rows) had no kernel: {over} Judge its training by hand")
    else:
        flag(f"dropout_net re-run (changed targets, NaN test rows) ran past its {over.kind} budget "
             f"({over.limit:g} {'s' if over.kind == 'time' else 'MB'}) although the notebook's own run "
             "of the cell finished: judge its training by hand")
    return True


@pytest.mark.points(0.5)
def test_maps_inputs_to_outputs(net):
    """net: (n, 1) 입력 → (n, 1) 출력"""
    pass_on_grid(net, training=None)


@pytest.mark.points(0.5)
def test_hidden_width(state):
    """Linear(1→512) 와 Linear(512→1), 은닉층 노드 512개"""
    shapes = sorted(weights(state).values())  # in any declaration order
    if shapes != [(1, lecture.HIDDEN), (lecture.HIDDEN, 1)]:
        fail(f"Linear 층의 (입력, 출력) 크기가 {shapes} 입니다; [(1, 512), (512, 1)] 이어야 합니다.")


def dropout_problem(net, state):
    """What is wrong with the dropout on the hidden units in training mode, or None: judged
    by the statistics of training_pass (the verdict); the wording names the likeliest mistake."""
    layers = linears(finite_state(state))
    with seeded():
        x = training_pass.inputs()
    seen = TrainingPass(layers, x, pass_on_grid(net, training=True, repeat=training_pass.PASSES, inputs=x),
                        P, FALSE_FAIL)
    if seen.passes:
        return None
    if seen.still:
        return ("학습모드에서도 출력이 평가모드와 같습니다: 드랍아웃이 없습니다. "
                "ReLU 와 출력층 사이에 Dropout(0.8) 을 넣으세요.")
    if seen.only(torch.zeros_like(seen.evaluation), seen.evaluation / (1 - P)):
        return ("학습모드에서 출력층 Linear(512→1) 의 결과가 그대로 나오지 않고 0 이 되거나 5배가 됩니다: "
                "드랍아웃이 출력층 뒤에 있습니다. 드랍아웃은 은닉층(ReLU 앞이나 뒤)에 넣으세요.")
    if seen.only(layers.evaluation(x * 0), layers.evaluation(x / (1 - P))):
        return ("학습모드에서 입력층 Linear(1→512) 에 들어가는 x 값이 0 이 되거나 5배가 됩니다: 드랍아웃이 "
                "입력에 있습니다. 드랍아웃은 은닉층(ReLU 앞이나 뒤)에 넣으세요.")
    if not seen.lowest <= seen.variance_ratio <= seen.highest:
        return (f"학습모드 출력이 흔들리는 정도(분산)로 보면 은닉층 노드가 0이 된 비율이 약 {seen.rate_seen:.2f} "
                "입니다; Dropout(0.8) 이면 0.80 이고 살아남은 값은 5배여야 합니다. 드랍아웃이 은닉층의 노드마다 "
                "따로 0을 고르는지(출력층 뒤나 입력이 아니라 ReLU 앞이나 뒤에 있는지)도 확인하세요.")
    return ("학습모드 출력의 평균이 평가모드 출력과 다릅니다: 살아남은 은닉층 값을 1/(1-p) = 5배 하는지, "
            "드랍아웃이 은닉층(ReLU 앞이나 뒤)에 있는지 확인하세요.")


@pytest.mark.points(1)
def test_dropout_on_hidden_units(net, state):
    """학습모드에서 은닉층 노드의 80%가 0, 나머지는 5배 (Dropout(0.8))"""
    problem = dropout_problem(net, state)
    if problem:
        fail(problem)


@pytest.mark.points(0.5)
def test_evaluation_mode_is_deterministic(student, net, state):
    """평가모드에서는 드랍아웃이 꺼짐 (같은 입력 → 같은 출력)"""
    layers = linears(finite_state(state))
    first, second = pass_on_grid(net, training=False, repeat=2)
    lecture_evaluation = torch.equal(first, second) and torch.allclose(
        first.to(layers.w1.dtype), layers.evaluation(GRID), **RECOMPUTED)
    # Part 4 judges the notebook's prediction by this answer, not by asking the kernel again.
    student.findings[LECTURE_EVALUATION] = lecture_evaluation
    if not torch.equal(first, second):
        fail("평가모드인데도 같은 입력에 대한 결과가 매번 다릅니다. 직접 만든 모듈이라면 "
             "드랍아웃에 training=self.training 을 넘기세요.")
    if not lecture_evaluation:
        fail("평가모드의 출력이 net 의 가중치로 계산한 Linear → ReLU → Linear 의 값과 다릅니다: "
             "평가모드에서는 드랍아웃이 아무 값도 바꾸지 않아야 합니다.")


def _constant(node, constants: dict) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _range_length(loop: ast.For, constants: dict) -> int | None:
    """len(range(...)) of a `for` loop over a range of constants, else None."""
    call = loop.iter
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
            and not call.keywords and 1 <= len(call.args) <= 3):
        return None
    bounds = [_constant(arg, constants) for arg in call.args]
    if None in bounds:
        return None
    return len(range(*bounds))


def training_epochs(source: str) -> int | None:
    """The optimizer steps that the cell's `for` loops over constant ranges run: the product of
    their lengths around the `.step()` call (a loop over anything else counts as at least
    once); None when the source does not parse or no such call sits in a counted loop."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    constants = {node.targets[0].id: node.value.value for node in tree.body
                 if isinstance(node, ast.Assign) and len(node.targets) == 1
                 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)
                 and type(node.value.value) is int}

    def steps(node, lengths: list[int]) -> list[int]:
        found = []
        for child in ast.iter_child_nodes(node):
            inner = lengths
            if isinstance(child, ast.For):
                length = _range_length(child, constants)
                inner = lengths + [length] if length is not None else lengths
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr == "step" and lengths):
                found.append(math.prod(lengths))
            found += steps(child, inner)
        return found

    counted = steps(tree, [])
    return max(counted) if counted else None


def r_squared(fit, target) -> float:
    return 1 - ((fit - target) ** 2).mean().item() / target.var(unbiased=False).item()


def dropout_noise(layers: Linears, x) -> float:
    """The variance Dropout(P) after the ReLU adds to the net's output, averaged over `x`:
    a kept unit is scaled by 1/(1-P), so each unit contributes P/(1-P) · (W2_j · ReLU(z_j))²."""
    hidden = torch.relu(layers.hidden(x))
    return (P / (1 - P) * (hidden ** 2) @ (layers.w2.to(hidden.dtype).T ** 2)).mean().item()


def untrained(layers: Linears) -> bool:
    """Whether the input layer still holds the lecture's initial weights (seed 1): a hint
    for the message when training changed nothing."""
    start = linears(lecture.network(dropout=True).state_dict())
    return layers.w1.shape == start.w1.shape and torch.equal(layers.w1, start.w1)


@pytest.mark.points(1)
def test_training_follows_training_targets(retrained, solution_sources, net, state):
    """(xtr, ytr) 로 학습모드에서 1000 epochs 학습 (학습 데이터를 바꾸면 결과도 따라감)"""
    if held_for_a_person(retrained):
        return
    if retrained.error is not None:
        fail(f"dropout_net 셀을 다시 실행하다 오류가 났습니다: {describe_error(retrained.error)}")
    trained = defined(retrained, "net", torch.nn.Module).state()
    if has_nan(trained):
        fail("학습된 net 의 가중치가 NaN 입니다: 테스트 데이터(또는 x, y 전체)로 학습한 것 같습니다.")
    layers = linears(finite_state(trained, "학습된 net"), "학습된 net")
    xtr = lecture.split()["xtr"]
    target = retarget(xtr)
    fit = layers.evaluation(xtr).to(target.dtype)
    r2 = measure("r2", r_squared(fit, target))
    if not (math.isfinite(r2) and r2 >= MIN_R2):
        hint = ("학습이 끝났는데 net 의 가중치가 하나도 바뀌지 않았습니다. loss.backward() 와 "
                "optimizr.step() 을 부르는지, optimizr 가 net.parameters() 로 만들어졌는지 확인하세요."
                if untrained(layers) else
                f"{lecture.EPOCHS} epochs 학습하는지, loss.backward(), optimizr.step(), optimizr.zero_grad(), "
                "학습률(lr) 과 학습 데이터를 확인하세요. 드랍아웃의 위치(위의 구조 검사)도 확인하세요.")
        fail(f"ytr 를 곡선으로 바꿔 셀을 다시 실행했더니 학습된 net 이 그 곡선을 따라가지 못했습니다 "
             f"(R² = {r2:.2f}, {MIN_R2} 이상이어야 함). {hint}")
    epochs = training_epochs(solution_sources("dropout_net"))
    if epochs is not None and epochs < lecture.EPOCHS:
        fail(f"학습 반복문이 optimizr.step() 을 {epochs}번만 부릅니다: 강의처럼 {lecture.EPOCHS} epochs "
             "학습하세요.")
    noise = measure("dropout_noise", dropout_noise(layers, xtr) / target.var(unbiased=False).item())
    if not (math.isfinite(noise) and noise <= MAX_DROPOUT_NOISE) and dropout_problem(net, state) is None:
        fail("학습하는 동안 드랍아웃이 꺼져 있었습니다 (예: 학습 반복문 앞에서 net.eval() 이나 "
             "net.train(False) 를 불렀습니다). 드랍아웃은 학습모드(net.train())에서 학습할 때만 노드를 "
             "끄므로, 평가모드로 학습하면 드랍아웃이 없는 네트워크와 같아져 오버피팅을 막지 못합니다. "
             "net.eval() 은 학습이 끝난 뒤 예측할 때 부르세요.")


@pytest.mark.points(0.5)
def test_test_data_not_used_for_training(retrained):
    """테스트 데이터(xtest, ytest)는 학습에 쓰지 않음"""
    if held_for_a_person(retrained):
        return
    trained = retrained.get("net")
    if not is_kind(trained, torch.nn.Module):
        fail("dropout_net 셀을 다시 실행했는데 net 이 만들어지지 않았습니다.")
    if has_nan(trained.state()):
        fail("학습에 테스트 데이터(또는 x, y 전체)가 쓰였습니다. 학습에는 xtr, ytr 만 쓰세요.")
