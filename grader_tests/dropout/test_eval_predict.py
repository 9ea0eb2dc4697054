"""Part 4, the evaluation-mode prediction.

The student's eval_predict cell is re-run on a network of the lecture's architecture
(in training mode) and the lecture's test data, so this part is judged on its own,
whatever the earlier parts did. These checks are deterministic: the probe's dropout is
off once the cell switched it to evaluation mode, and any output made with dropout on
differs from the evaluation-mode output (equal with probability 0).

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

import pytest
import torch

import lecture
from dropout_kit.checking import defined, describe_error, fail, is_kind, seeded

OUTPUTS = ("yhat_test", "mse_eval")


def run_eval_cell(student, source, net):
    """The eval_predict cell re-run in the kernel on the checker's `net` (sent as its
    layers and weights) and the lecture's split; its own outputs from the live run dropped."""
    with seeded(student):
        return student.rerun(source, overrides=dict(net=net, loss_fn=torch.nn.MSELoss(), **lecture.split()),
                             drop=OUTPUTS)


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


@pytest.fixture(scope="module")
def probe():
    """An untrained lecture network in training mode, and what it should predict."""
    net = lecture.network(dropout=True, seed=0).train()
    return net, evaluation_output(net)


@pytest.fixture(scope="module")
def rerun_on_probe(student, solution_sources, probe):
    net, _ = probe
    return run_eval_cell(student, solution_sources("eval_predict"), net)


def evaluation_mode_problem(run):
    """Whether the cell switched every layer of the network it was given (the object the
    checker passed in, whatever the cell bound to the name `net`) to evaluation mode."""
    layers = run.overrides["net"].layers()
    still_training = [layer.type_name for layer in layers if layer.training]
    if still_training and run.error is not None:
        fail(f"eval_predict 셀을 다시 실행하다 오류가 났습니다: {describe_error(run.error)}")
    if still_training:
        top = next(layer for layer in layers if layer.path == "")
        why = ("net.training = False 는 맨 위 모듈만 바꿉니다; " if not top.training else "")
        return (f"셀을 실행한 뒤에도 학습모드인 층이 있습니다: {', '.join(still_training)}. "
                f"{why}net.eval() 을 쓰세요.")
    return None


def prediction_problem(run, expected):
    yhat = result(run, "yhat_test", torch.Tensor)
    if tuple(yhat.shape) != (20, 1):
        return f"yhat_test 의 shape이 {tuple(yhat.shape)} 입니다; (20, 1) 이어야 합니다."
    if yhat.requires_grad:
        return ("yhat_test 에 미분 정보(autograd graph)가 남아 있습니다. torch.no_grad() 안에서 "
                "예측하거나 .data / .detach() 를 쓰세요.")
    if not torch.allclose(yhat, expected, rtol=1e-5, atol=1e-7):
        gap = (yhat - expected).abs().max().item()
        return (f"yhat_test 가 평가모드 net 의 xtest 예측과 다릅니다 (최대 차이 {gap:.3g}). "
                "net.eval() 을 한 뒤 net(xtest) 로 예측했는지 확인하세요.")
    return None


def mse_problem(run):
    mse = result(run, "mse_eval")
    if not isinstance(mse, float):
        kind = mse.type_name if hasattr(mse, "type_name") else type(mse).__name__
        return f"mse_eval 은 파이썬 float 이어야 하는데 {kind} 입니다 (.item() 을 쓰세요)."
    yhat = result(run, "yhat_test", torch.Tensor)
    expected = torch.nn.functional.mse_loss(yhat.detach(), lecture.split()["ytest"]).item()
    if abs(mse - expected) > 1e-6 * max(expected, 1e-12) + 1e-12:
        return (f"mse_eval 이 {mse:.6g} 인데 yhat_test 와 ytest 의 MSE 는 {expected:.6g} 입니다. "
                "테스트 데이터(yhat_test, ytest)로 계산하세요.")
    return None


@pytest.mark.points(1)
def test_every_layer_in_evaluation_mode(rerun_on_probe):
    """net 의 모든 층이 평가모드 (net.eval())"""
    problem = evaluation_mode_problem(rerun_on_probe)
    if problem:
        fail(problem)


@pytest.mark.points(1)
def test_prediction_is_evaluation_output(rerun_on_probe, probe):
    """yhat_test: xtest 에 대한 평가모드 예측, shape (20, 1), 미분 정보 없음"""
    problem = prediction_problem(rerun_on_probe, probe[1])
    if problem:
        fail(problem)


@pytest.mark.points(0.5)
def test_mse_of_the_prediction(rerun_on_probe):
    """mse_eval: yhat_test 의 테스트 MSE, 파이썬 float"""
    problem = mse_problem(rerun_on_probe)
    if problem:
        fail(problem)


@pytest.mark.points(0.5)
def test_dropout_beats_no_dropout(student, solution_sources, rerun_on_probe, probe):
    """평가모드의 드랍아웃 net 이 드랍아웃 없는 net 보다 테스트 MSE가 작음 (강의의 학습된 net)"""
    if evaluation_mode_problem(rerun_on_probe) or prediction_problem(rerun_on_probe, probe[1]) \
            or mse_problem(rerun_on_probe):
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
        mse[dropout] = result(run, "mse_eval", float)
    if not mse[True] < mse[False]:
        fail(f"강의의 학습된 net 으로 eval_predict 셀을 실행했더니 테스트 MSE 가 드랍아웃(평가모드) "
             f"{mse[True]:.6f}, 드랍아웃 없음 {mse[False]:.6f} 입니다; 드랍아웃 쪽이 작아야 합니다.")
