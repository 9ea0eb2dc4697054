"""Part 4, the evaluation-mode prediction.

The student's eval_predict cell is re-run on a network of the lecture's architecture
(in training mode) and the lecture's test data, so this part is judged on its own,
whatever the earlier parts did. The lecture's claim, "dropout in evaluation mode gives
a lower test MSE than no dropout", is checked on the student's own numbers when the
split and the model passed their checks, else on the lecture's trained networks.
"""
import copy

import pytest
import torch

from dropout_kit import reference, student
from dropout_kit.checking import defined, describe_error, fail
from dropout_kit.grading import RESULTS

UPSTREAM = ("test_split", "test_dropout_net")


def run_eval_cell(ns, source, net):
    s = reference.split()
    run = student.rerun(source, ns, net=net, loss_fn=torch.nn.MSELoss(), **s)
    if run.error is not None:
        fail(f"eval_predict 셀을 다시 실행하다 오류가 났습니다: {describe_error(run.error)}")
    return run.namespace


@pytest.fixture(scope="module")
def probe():
    """An untrained lecture network in training mode, and what it should predict."""
    net = reference.network(dropout=True, seed=0).train()
    expected = copy.deepcopy(net).eval()
    with torch.no_grad():
        return net, expected(reference.split()["xtest"])


@pytest.fixture(scope="module")
def rerun_on_probe(ns, solution_sources, probe):
    net, _ = probe
    with torch.random.fork_rng():
        return run_eval_cell(ns, solution_sources("eval_predict"), net)


@pytest.mark.points(1)
def test_every_layer_in_evaluation_mode(rerun_on_probe, probe):
    """net 의 모든 층이 평가모드 (net.eval())"""
    net, _ = probe
    still_training = [type(m).__name__ for m in net.modules() if m.training]
    if still_training:
        fail(f"셀을 실행한 뒤에도 학습모드인 층이 있습니다: {', '.join(still_training)}. "
             "net.training = False 는 맨 위 모듈만 바꿉니다; net.eval() 을 쓰세요.")


@pytest.mark.points(1)
def test_prediction_is_evaluation_output(rerun_on_probe, probe):
    """yhat_test: xtest 에 대한 평가모드 예측, shape (20, 1), 미분 정보 없음"""
    _, expected = probe
    yhat = defined(rerun_on_probe, "yhat_test", torch.Tensor)
    if tuple(yhat.shape) != (20, 1):
        fail(f"yhat_test 의 shape이 {tuple(yhat.shape)} 입니다; (20, 1) 이어야 합니다.")
    if yhat.requires_grad or yhat.grad_fn is not None:
        fail("yhat_test 에 미분 정보(autograd graph)가 남아 있습니다. torch.no_grad() 안에서 "
             "예측하거나 .data / .detach() 를 쓰세요.")
    if not torch.allclose(yhat, expected, rtol=1e-5, atol=1e-7):
        fail("yhat_test 가 평가모드 net 의 xtest 예측과 다릅니다. net.eval() 을 한 뒤 "
             "net(xtest) 로 예측했는지 확인하세요.")


@pytest.mark.points(0.5)
def test_mse_of_the_prediction(rerun_on_probe):
    """mse_eval: yhat_test 의 테스트 MSE, 파이썬 float"""
    mse = defined(rerun_on_probe, "mse_eval")
    if not isinstance(mse, float):
        fail(f"mse_eval 은 파이썬 float 이어야 하는데 {type(mse).__name__} 입니다 (.item() 을 쓰세요).")
    yhat = defined(rerun_on_probe, "yhat_test", torch.Tensor)
    expected = torch.nn.functional.mse_loss(yhat.detach(), reference.split()["ytest"]).item()
    if abs(mse - expected) > 1e-6 * max(expected, 1e-12) + 1e-12:
        fail(f"mse_eval 이 {mse:.6g} 인데 yhat_test 와 ytest 의 MSE 는 {expected:.6g} 입니다.")


@pytest.mark.points(0.5)
def test_dropout_beats_no_dropout(ns, solution_sources, rerun_on_probe):
    """평가모드의 드랍아웃 net 이 드랍아웃 없는 net 보다 테스트 MSE가 작음"""
    upstream_ok = all(t in RESULTS and RESULTS[t].all_passed for t in UPSTREAM)
    if upstream_ok:
        mse_eval = defined(ns, "mse_eval", float)
        mse_nodrop = defined(ns, "mse_nodrop", float)
        where = "내 노트북의 값"
    else:  # judge this part alone, on the lecture's trained networks
        with torch.random.fork_rng():
            run = run_eval_cell(ns, solution_sources("eval_predict"),
                                reference.trained_network(dropout=True).train())
        mse_eval = defined(run, "mse_eval", float)
        mse_nodrop = reference.eval_mse(reference.trained_network(dropout=False))
        where = "강의의 학습된 net 으로 다시 실행한 값"
    if not mse_eval < mse_nodrop:
        fail(f"테스트 MSE 가 드랍아웃(평가모드) {mse_eval:.6f}, 드랍아웃 없음 {mse_nodrop:.6f} 입니다 "
             f"({where}); 드랍아웃 쪽이 작아야 합니다. 평가모드로 예측했는지 확인하세요.")
