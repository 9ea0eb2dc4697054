"""Part 3, the dropout model: Linear(1→512) → ReLU → Dropout(0.8) → Linear(512→1),
trained 1000 epochs on (xtr, ytr) only. Judged by behaviour, not by the text of the code.

The live `net` shows the architecture: in training mode the input of the output layer
(the 512 hidden units) must be the evaluation-mode values with a Binomial(·, 0.8) share
of the active units zeroed and the rest ×5. Training is judged metamorphically: the
student's cell is re-run with the lecture's split, the training targets changed to a
curve (the trained net must follow it) and every test row set to NaN (a net that
touched test data ends up with NaN weights).
"""
import math

import pytest
import torch

from dropout_kit import reference, student
from dropout_kit.checking import defined, describe_error, fail
from dropout_kit.stats import FALSE_FAIL, binomial_bounds

P = reference.DROPOUT_P
GRID = torch.linspace(0, 1, 200).reshape(-1, 1)
# Re-run targets. Measured (benchmarks/checks.py): a correct net reaches R² ≥ 0.93 on
# them after 1000 epochs; untrained nets score below 0.2, 10 epochs below 0.55.
MIN_R2 = 0.8


def retarget(xtr):
    return 0.5 * torch.sin(2 * math.pi * xtr)


def linear_layers(net):
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)]


def output_layer(net):
    outs = [m for m in linear_layers(net) if m.out_features == 1]
    if len(outs) != 1:
        fail("출력층 Linear(512→1) 을 찾지 못했습니다.")
    return outs[0]


def hidden_units(net, training):
    """The input of the output layer (the hidden units) on GRID, in the given mode."""
    captured = []
    hook = output_layer(net).register_forward_pre_hook(
        lambda module, args: captured.append(args[0].detach().clone()))
    modes = {m: m.training for m in net.modules()}
    try:
        net.train(training)
        with torch.no_grad():
            net(GRID)
    finally:
        hook.remove()
        for module, mode in modes.items():
            module.training = mode
    if not captured:
        fail("net 을 실행했는데 출력층이 쓰이지 않았습니다.")
    return captured[-1]


@pytest.fixture(scope="module")
def retrained(ns, solution_sources):
    """The student's dropout_net cell re-run on the lecture's split with new targets."""
    source = solution_sources("dropout_net")
    s = reference.split()
    nan = torch.full((20, 1), float("nan"))
    x = torch.cat([s["xtr"], nan])
    y = torch.cat([retarget(s["xtr"]), nan])
    rows_seen = [0]

    def count_training_rows(module, args):
        if isinstance(module, torch.nn.Linear) and module.in_features == 1 and module.training:
            rows_seen[0] += args[0].reshape(-1, 1).shape[0]

    hook = torch.nn.modules.module.register_module_forward_pre_hook(count_training_rows)
    try:
        with torch.random.fork_rng():
            run = student.rerun(source, ns, x=x, y=y, xtr=x[:80], ytr=y[:80],
                                xtest=x[80:], ytest=y[80:])
    finally:
        hook.remove()
    run.rows_seen = rows_seen[0]
    return run


@pytest.mark.points(0.5)
def test_maps_inputs_to_outputs(net):
    """net: (n, 1) 입력 → (n, 1) 출력"""
    with torch.no_grad():
        out = net(GRID)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(GRID), 1):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        fail(f"net 에 shape {(len(GRID), 1)} 입력을 넣었더니 출력이 {got} 입니다.")


@pytest.mark.points(0.5)
def test_hidden_width(net):
    """Linear(1→512) 와 Linear(512→1), 은닉층 노드 512개"""
    shapes = [(m.in_features, m.out_features) for m in linear_layers(net)]
    if shapes != [(1, reference.HIDDEN), (reference.HIDDEN, 1)]:
        fail(f"Linear 층의 (입력, 출력) 크기가 {shapes} 입니다; [(1, 512), (512, 1)] 이어야 합니다.")


@pytest.mark.points(1)
def test_dropout_on_hidden_units(net):
    """학습모드에서 은닉층 노드의 80%가 0, 나머지는 5배 (Dropout(0.8))"""
    h_eval = hidden_units(net, training=False)
    h_train = hidden_units(net, training=True)
    if h_eval.shape != h_train.shape:
        fail("학습모드와 평가모드에서 은닉층의 크기가 다릅니다.")
    active = h_eval != 0
    n_active = int(active.sum())
    if n_active < 1000:
        fail(f"평가모드에서 0이 아닌 은닉층 값이 {n_active}개뿐이라 드랍아웃을 확인할 수 없습니다.")
    if (h_train[~active] != 0).any():
        fail("평가모드에서 0인 은닉층 노드가 학습모드에서 0이 아닙니다: 드랍아웃이 은닉층(ReLU 앞이나 "
             "뒤)이 아닌 곳에 있는 것 같습니다.")
    dropped = int((h_train[active] == 0).sum())
    lo, hi = binomial_bounds(n_active, P, FALSE_FAIL)
    if not lo <= dropped <= hi:
        fail(f"학습모드에서 은닉층 노드가 0이 된 비율이 {dropped / n_active:.3f} 입니다; Dropout(0.8) "
             f"이면 약 0.80 (허용 범위 {lo / n_active:.3f}~{hi / n_active:.3f}) 이어야 합니다.")
    kept = active & (h_train != 0)
    ratio = h_train[kept] / h_eval[kept]
    if not torch.allclose(ratio, torch.full_like(ratio, 1 / (1 - P)), rtol=1e-4, atol=0):
        fail(f"학습모드에서 살아남은 은닉층 값이 평가모드 값의 {ratio.median().item():.3g}배 입니다; "
             "Dropout(0.8) 이면 5배 이어야 합니다. 드랍아웃이 은닉층에 있는지 확인하세요.")


@pytest.mark.points(0.5)
def test_evaluation_mode_is_deterministic(net):
    """평가모드에서는 드랍아웃이 꺼짐 (같은 입력 → 같은 출력)"""
    first, second = hidden_units(net, training=False), hidden_units(net, training=False)
    if not torch.equal(first, second):
        fail("평가모드인데도 같은 입력에 대한 결과가 매번 다릅니다. 직접 만든 모듈이라면 "
             "드랍아웃에 training=self.training 을 넘기세요.")


@pytest.mark.points(1)
def test_training_follows_training_targets(retrained):
    """(xtr, ytr) 로 1000 epochs 학습 (학습 데이터를 바꾸면 결과도 따라감)"""
    if retrained.error is not None:
        fail(f"dropout_net 셀을 다시 실행하다 오류가 났습니다: {describe_error(retrained.error)}")
    trained = defined(retrained.namespace, "net", torch.nn.Module)
    epochs = retrained.rows_seen / 80
    if epochs < reference.EPOCHS:
        fail(f"학습 중 net 이 본 학습 데이터가 {epochs:.0f} epochs 분량입니다; "
             f"{reference.EPOCHS} epochs 학습해야 합니다.")
    xtr = reference.split()["xtr"]
    target = retarget(xtr)
    trained.eval()
    with torch.no_grad():
        fit = trained(xtr)
    if torch.isnan(fit).any():
        fail("학습된 net 의 예측이 NaN 입니다: 테스트 데이터(또는 x, y 전체)로 학습한 것 같습니다.")
    r2 = 1 - ((fit - target) ** 2).mean().item() / target.var(unbiased=False).item()
    if not r2 >= MIN_R2:
        fail(f"ytr 를 곡선으로 바꿔 셀을 다시 실행했더니 학습된 net 이 그 곡선을 따라가지 못했습니다 "
             f"(R² = {r2:.2f}, {MIN_R2} 이상이어야 함). loss.backward(), optimizr.step(), "
             "optimizr.zero_grad() 와 학습 데이터를 확인하세요.")


@pytest.mark.points(0.5)
def test_test_data_not_used_for_training(retrained):
    """테스트 데이터(xtest, ytest)는 학습에 쓰지 않음"""
    trained = retrained.namespace.get("net")
    if not isinstance(trained, torch.nn.Module):
        fail("dropout_net 셀을 다시 실행했는데 net 이 만들어지지 않았습니다.")
    if any(torch.isnan(p).any() for p in trained.parameters()):
        fail("학습에 테스트 데이터(또는 x, y 전체)가 쓰였습니다. 학습에는 xtr, ytr 만 쓰세요.")
