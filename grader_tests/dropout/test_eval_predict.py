"""Part 4, the evaluation-mode prediction.

What the notebook itself computed is judged first, from the values its own run left and the
checker's computation from them: `yhat_test` must be the evaluation-mode output of the
notebook's `net` on its `xtest`, computed here from that net's weights
(W2·ReLU(W1·x + b1) + b2), and `mse_eval` the MSE of that `yhat_test` against its `ytest`.
A cell that behaves one way in the notebook and another when re-run (a fabricated
`mse_eval`, a forgotten `net.eval()`) loses these points whatever its re-runs do; one that
predicts in evaluation mode only when re-run loses the evaluation-mode check too, and the
lecture's claim is compared only once the notebook's own values are right. This is
judged where the notebook's test split is the lecture's (as part 1 requires; otherwise part 1
loses the points, not this part). The evaluation-mode output is the checker's computation
from the weights where part 3 found the net's evaluation mode to be the lecture's Linear →
ReLU → Linear (its finding, kept in the checker: the kernel is not asked again, so a net
cannot answer part 3 one way and this part another); for a net of another architecture it is
the net's own evaluation-mode pass on xtest, asked twice (a prediction made otherwise differs
from it; a net whose evaluation mode is not deterministic is charged in part 3, and its
prediction is judged from the re-runs only). A net that escapes the computation by answering
part 3 otherwise than the lecture's computation pays part 3's evaluation-mode point for it,
and its prediction must still be its own evaluation-mode output.

The student's eval_predict cell is also re-run on a network of the lecture's architecture
(the checker's own, sent as layers and weights, in training mode) and the lecture's test
data, so this part is judged on its own, whatever the earlier parts did. Everything is
judged from values compared with the checker's own computation of that network, never from
what the kernel says about it: "every layer in evaluation mode" means that two passes of the
network the checker sent, in the mode the cell left it and with autograd on (as the
notebook runs it), both equal the checker's evaluation-mode output; `yhat_test` must equal
that output too; `mse_eval` must be a finite float equal to its MSE. NaN and ±inf never
pass. These checks are deterministic: the probe's dropout is off once the cell switched it
to evaluation mode, and any output made with dropout on differs from the evaluation-mode
output (equal with probability 0).

The lecture's claim, "dropout in evaluation mode gives a lower test MSE than no
dropout", is checked by running the student's cell on the lecture's two trained networks
(seed 1; stored in grader_tests/dropout/lecture_networks.pt, sent to the kernel as layers and weights): 8.1e-5 against 2.3e-3. Not on the
student's own networks: over 540 random seeds (benchmarks/checks.py) the student's
mse_nodrop / mse_eval went as low as 2.7, and with a lognormal tail estimate of 5e-7 a
correct student could still fail on an unlucky seed; this way the verdict cannot depend on
the seed they chose. It is judged once the prediction itself is right, so it never adds
randomness of its own.
"""
import copy
import math

import pytest
import torch

import lecture
from dropout_kit.checking import (MISSING, OverBudget, defined, describe_error, fail, finite_float, is_kind,
                                  real_tensor, seeded, type_name)
from networks import LECTURE_EVALUATION, Linears, find_linears

OUTPUTS = ("yhat_test", "mse_eval")
# The kernel's outputs against the checker's: the same float32 operations, so in practice equal.
SAME = dict(rtol=1e-5, atol=1e-7)


def run_eval_cell(student, source, net):
    """The eval_predict cell re-run in the kernel on the checker's `net` (sent as its
    layers and weights) and the lecture's split; its own outputs from the live run dropped."""
    with seeded(student):
        return student.rerun(source, overrides=dict(net=net, loss_fn=torch.nn.MSELoss(), **lecture.split()),
                             drop=OUTPUTS, cell="eval_predict")


def result(run, name, kind=None):
    """`name` as the re-run cell left it; a cell that stopped with an error is judged on
    what it defined before the error, and the error is named when that is not enough."""
    if run.error is not None:
        value = run.get(name)
        if not run.has(name) or (kind is not None and not is_kind(value, kind)):
            fail(f"eval_predict 셀을 다시 실행하다 오류가 났습니다: {describe_error(run.error)}")
    return defined(run, name, kind)


def evaluation_output(net):
    """What `net` predicts on xtest in evaluation mode, computed here."""
    expected = copy.deepcopy(net).eval()
    with torch.no_grad():
        return expected(lecture.split()["xtest"])


def same(value, expected) -> bool:
    """Whether a real, finite tensor from the kernel equals the checker's `expected`."""
    return (isinstance(value, torch.Tensor) and not value.is_complex() and value.shape == expected.shape
            and bool(torch.isfinite(value).all())
            and torch.allclose(value.detach().to(expected.dtype), expected, **SAME))


@pytest.fixture(scope="module")
def probe():
    """An untrained lecture network in training mode, and what it should predict."""
    net = lecture.network(dropout=True, seed=0).train()
    return net, evaluation_output(net)


@pytest.fixture(scope="module")
def rerun_on_probe(student, solution_sources, probe):
    net, _ = probe
    return run_eval_cell(student, solution_sources("eval_predict"), net)


def evaluation_mode_problem(run, expected):
    """Whether the network the checker passed in (the object, whatever the cell bound to
    the name `net`) computes its evaluation-mode output in the mode the cell left it: two
    passes on xtest, autograd on, compared with the checker's own `expected`."""
    sent = run.overrides["net"]
    done = sent.forward(lecture.split()["xtest"], training=None, repeat=2)
    if done.error is None and all(same(out, expected) for out in done.outputs):
        return None
    if run.error is not None:
        fail(f"eval_predict 셀을 다시 실행하다 오류가 났습니다: {describe_error(run.error)}")
    if done.error is not None:
        return f"셀을 실행한 뒤 net(xtest) 가 오류를 냈습니다: {describe_error(done.error)}"
    # The kernel's own account of the modes words the hint; it decides nothing.
    top = next((layer for layer in sent.layers() if layer.path == ""), None)
    why = "net.training = False 는 맨 위 모듈만 바꿉니다; " if top is not None and not top.training else ""
    return ("셀을 실행한 뒤에도 net 이 학습모드로 동작합니다: net(xtest) 를 두 번 계산했더니 평가모드의 "
            f"출력과 다릅니다 (드랍아웃이 켜져 있음). {why}net.eval() 을 쓰세요.")


def prediction_problem(run, expected):
    yhat = result(run, "yhat_test", torch.Tensor)
    if tuple(yhat.shape) != (20, 1):
        return f"yhat_test 의 shape이 {tuple(yhat.shape)} 입니다; (20, 1) 이어야 합니다."
    real_tensor(yhat, "yhat_test")
    if yhat.requires_grad:
        return ("yhat_test 에 미분 정보(autograd graph)가 남아 있습니다. torch.no_grad() 안에서 "
                "예측하거나 .data / .detach() 를 쓰세요.")
    if not same(yhat, expected):
        gap = (yhat.to(expected.dtype) - expected).abs().max().item()
        return (f"yhat_test 가 평가모드 net 의 xtest 예측과 다릅니다 (최대 차이 {gap:.3g}). "
                "net.eval() 을 한 뒤 net(xtest) 로 예측했는지 확인하세요.")
    return None


def mse_problem(run):
    mse = finite_float(result(run, "mse_eval"), "mse_eval")
    yhat = real_tensor(result(run, "yhat_test", torch.Tensor), "yhat_test").detach()
    if not yhat.is_floating_point():
        return f"mse_eval 을 확인하려면 yhat_test 가 실수(float) 텐서여야 하는데 {yhat.dtype} 입니다."
    # Computed as the student's loss_fn computes it (broadcasting included): a wrong shape of
    # yhat_test costs the prediction's check, not this one too.
    expected = torch.nn.functional.mse_loss(yhat, lecture.split()["ytest"].to(yhat.dtype)).item()
    if abs(mse - expected) > 1e-6 * max(expected, 1e-12) + 1e-12:
        return (f"mse_eval 이 {mse:.6g} 인데 yhat_test 와 ytest 의 MSE 는 {expected:.6g} 입니다. "
                "테스트 데이터(yhat_test, ytest)로 계산하세요.")
    return None


@pytest.fixture(scope="module")
def notebook_values(student):
    """What the notebook's own run left for this part, with the evaluation-mode prediction it
    is judged against (`expected`): the checker's computation from that run's net when part 3
    found the net's evaluation mode to be the lecture's Linear → ReLU → Linear
    (LECTURE_EVALUATION), else the net's own evaluation-mode pass on xtest, asked twice (None
    when the two differ: part 3 charged that). None altogether when the test split is not the
    lecture's: part 1 loses those points, and a prediction made from it is not held against
    this part."""
    xtest, ytest, net = (student.get(name) for name in ("xtest", "ytest", "net"))
    split = lecture.split()
    if not (all(isinstance(v, torch.Tensor) and v.dtype == split[name].dtype and torch.equal(v, split[name])
                for v, name in ((xtest, "xtest"), (ytest, "ytest"))) and is_kind(net, torch.nn.Module)):
        return None
    layers = find_linears(net.state())
    if isinstance(layers, Linears) and student.findings.get(LECTURE_EVALUATION):
        expected = layers.evaluation(xtest)
    else:
        expected = own_evaluation(net, xtest)
    return dict({name: student.get(name) for name in OUTPUTS}, ytest=ytest, expected=expected)


def own_evaluation(net, xtest):
    """The net's own evaluation-mode output on xtest, where two passes agree (a net whose
    evaluation mode part 3 found to be something else: another architecture, or one that
    answered part 3 otherwise than it predicts now); None where they do not."""
    try:
        done = net.forward(xtest, training=False, repeat=2)
    except OverBudget:
        return None
    first, second = done.outputs if done.error is None else (None, None)
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and not first.is_complex()
            and first.shape == second.shape and bool(torch.isfinite(first).all()) and torch.equal(first, second)):
        return None
    return first.detach()


def notebook_prediction_problem(values):
    if values is None:
        return None
    yhat, expected = values["yhat_test"], values["expected"]
    if yhat is MISSING:
        return "노트북을 실행했을 때 yhat_test 가 만들어지지 않았습니다 (eval_predict 셀이 오류 없이 실행되는지 확인하세요)."
    if expected is not None and not same(yhat, expected):
        gap = ((yhat.detach().to(expected.dtype) - expected).abs().max().item()
               if isinstance(yhat, torch.Tensor) and yhat.shape == expected.shape else float("nan"))
        return (f"노트북을 실행했을 때 만든 yhat_test 가 그때의 net 의 평가모드 예측 net(xtest) 와 "
                f"다릅니다 (최대 차이 {gap:.3g}). eval_predict 셀에서 net.eval() 을 한 뒤 "
                "net(xtest) 로 예측하세요.")
    return None


def notebook_mse_problem(values):
    if values is None or not isinstance(values["yhat_test"], torch.Tensor):
        return None
    mse = values["mse_eval"]
    if mse is MISSING:
        return "노트북을 실행했을 때 mse_eval 이 만들어지지 않았습니다 (eval_predict 셀이 오류 없이 실행되는지 확인하세요)."
    yhat = values["yhat_test"].detach()
    if not yhat.is_floating_point() or yhat.is_complex() or not bool(torch.isfinite(yhat).all()):
        return None  # the prediction's check says what is wrong with it
    expected = torch.nn.functional.mse_loss(yhat, values["ytest"].to(yhat.dtype)).item()
    if not (isinstance(mse, float) and math.isfinite(mse)
            and abs(mse - expected) <= 1e-6 * max(expected, 1e-12) + 1e-12):
        shown = f"{mse:.6g}" if isinstance(mse, float) else type_name(mse)
        return (f"노트북을 실행했을 때의 mse_eval ({shown}) 이 그때의 yhat_test 와 ytest 의 MSE "
                f"{expected:.6g} 와 다릅니다. eval_predict 셀에서 yhat_test 와 ytest 로 계산한 float 이어야 합니다.")
    return None


def told_apart_problem(run, expected, values):
    """The cell predicts in evaluation mode when re-run, but the notebook's own prediction is
    not its net's evaluation-mode output: the cell does something else in the notebook."""
    if run.error is None and same(run.get("yhat_test"), expected) and notebook_prediction_problem(values):
        return ("eval_predict 셀을 검사에서 다시 실행하면 평가모드로 예측하지만, 노트북을 실행했을 때 만든 "
                "yhat_test 는 그때의 net 의 평가모드 예측이 아닙니다. 노트북에서도 net.eval() 을 한 뒤 "
                "net(xtest) 로 예측하세요.")
    return None


@pytest.mark.points(1)
def test_every_layer_in_evaluation_mode(rerun_on_probe, probe, notebook_values):
    """net 의 모든 층이 평가모드 (net.eval())"""
    problem = (evaluation_mode_problem(rerun_on_probe, probe[1])
               or told_apart_problem(rerun_on_probe, probe[1], notebook_values))
    if problem:
        fail(problem)


@pytest.mark.points(1)
def test_prediction_is_evaluation_output(rerun_on_probe, probe, notebook_values):
    """yhat_test: xtest 에 대한 평가모드 예측, shape (20, 1), 미분 정보 없음"""
    problem = prediction_problem(rerun_on_probe, probe[1]) or notebook_prediction_problem(notebook_values)
    if problem:
        fail(problem)


@pytest.mark.points(0.5)
def test_mse_of_the_prediction(rerun_on_probe, notebook_values):
    """mse_eval: yhat_test 의 테스트 MSE, 파이썬 float"""
    problem = mse_problem(rerun_on_probe) or notebook_mse_problem(notebook_values)
    if problem:
        fail(problem)


@pytest.mark.points(0.5)
def test_dropout_beats_no_dropout(student, solution_sources, rerun_on_probe, probe, notebook_values):
    """평가모드의 드랍아웃 net 이 드랍아웃 없는 net 보다 테스트 MSE가 작음 (강의의 학습된 net)"""
    if evaluation_mode_problem(rerun_on_probe, probe[1]) or prediction_problem(rerun_on_probe, probe[1]) \
            or mse_problem(rerun_on_probe) or notebook_prediction_problem(notebook_values) \
            or notebook_mse_problem(notebook_values):
        fail("평가모드 예측(yhat_test, mse_eval)이 위의 검사를 통과해야 드랍아웃 없는 net 과 "
             "비교할 수 있습니다.")
    mse = {}
    for dropout in (True, False):
        net = lecture.stored_network(dropout).train()
        run = run_eval_cell(student, solution_sources("eval_predict"), net)
        # The kernel's numbers are taken only where they are the stored net's own prediction.
        problem = prediction_problem(run, evaluation_output(net)) or mse_problem(run)
        if problem:
            fail(f"강의의 학습된 net 으로 eval_predict 셀을 실행했더니: {problem}")
        mse[dropout] = finite_float(result(run, "mse_eval"), "mse_eval")
    if not mse[True] < mse[False]:
        fail(f"강의의 학습된 net 으로 eval_predict 셀을 실행했더니 테스트 MSE 가 드랍아웃(평가모드) "
             f"{mse[True]:.6f}, 드랍아웃 없음 {mse[False]:.6f} 입니다; 드랍아웃 쪽이 작아야 합니다.")
