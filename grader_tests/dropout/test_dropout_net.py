"""Part 3, the dropout model: Linear(1→512) → ReLU → Dropout(0.8) → Linear(512→1),
trained 1000 epochs on (xtr, ytr) only. Judged by behaviour, not by the text of the code.

The architecture is read off one training-mode pass of the live `net` on a grid: what
the input layer receives must be the grid itself; what the output layer receives (the
512 hidden units) must be ReLU(input layer's output) with a Binomial(·, 0.8) share of the
active units zeroed and the rest ×5 (Dropout before or after the ReLU gives exactly this);
nothing may change the output layer's result. Training is judged metamorphically: the
student's cell is re-run with the lecture's split, the training targets changed to a
curve (the trained net must follow it) and every test row set to NaN (a net that
touched test data ends up with NaN weights); the rows the input layer sees in training
mode are counted (1000 epochs × 80) and the parameters must have moved.

False-fail probabilities for a correct submission: the drop count is accepted within
exact binomial bounds at level 1e-6 (dropout_kit.stats); every other check compares
exact values, except the R² of the re-trained net, which depends on the student's seed
only: over the seeds measured by benchmarks/checks.py its minimum stays far above
MIN_R2 (reported there with the distance in standard deviations).
"""
import math

import pytest
import torch

import lecture
from dropout_kit.checking import defined, describe_error, fail, is_kind, measure, seeded
from dropout_kit.checks.remote import TorchFunction
from dropout_kit.stats import FALSE_FAIL, binomial_bounds

P = lecture.DROPOUT_P
GRID = torch.linspace(0, 1, 200).reshape(-1, 1)
# Re-run targets; see benchmarks/checks.py for the R² a correct net reaches on them.
MIN_R2 = 0.8
# Evaluation-mode passes averaged for the fit (all equal unless evaluation mode is broken).
FIT_PASSES = 64
# A net of the lecture's shape has ~50 000 active hidden values on GRID (200 points ×
# 512 units, about half active); fewer than this cannot show the dropout rate.
MIN_ACTIVE = 1000
# How closely the recorded layer values must agree with the checker's own recomputation
# from the net's weights (the same float32 operation, so in practice exactly).
RECOMPUTED = dict(rtol=1e-5, atol=1e-6)


def retarget(xtr):
    return 0.5 * torch.sin(2 * math.pi * xtr)


def linear_layers(net):
    return [layer for layer in net.layers() if layer.is_linear]


def output_layer(net):
    outs = [layer for layer in linear_layers(net) if layer.out_features == 1]
    if len(outs) != 1:
        fail("출력층 Linear(512→1) 을 찾지 못했습니다.")
    return outs[0]


def input_layer(net):
    ins = [layer for layer in linear_layers(net) if layer.in_features == 1]
    if not ins:
        fail("입력층 Linear(1→512) 을 찾지 못했습니다.")
    return ins[0]


def linear_of(state, path, inputs):
    """What the Linear layer at `path` computes on `inputs`, from the net's own weights."""
    prefix = f"{path}." if path else ""
    return torch.nn.functional.linear(inputs, state[prefix + "weight"], state.get(prefix + "bias"))


def forward_record(net, training):
    """One pass on GRID in the given mode (the net's modes restored afterwards): the input
    layer's input and output, the output layer's input (the hidden units) and output,
    and what net returns. The two layers' outputs are recomputed here from the net's
    weights, so the kernel cannot report other values than the net computes."""
    first, last = input_layer(net), output_layer(net)
    done = net.forward(GRID, training=training, record=[first.path, last.path])
    if done.error is not None:
        raise done.error
    seen = {"output": done.outputs[0]}
    for path, (input_name, output_name) in ((first.path, ("input", "z")), (last.path, ("hidden", "out"))):
        if path in done.records:
            seen.setdefault(input_name, done.records[path]["input"])
            seen.setdefault(output_name, done.records[path]["output"])
    if len(seen) < 5 or not all(isinstance(v, torch.Tensor) for v in seen.values()):
        fail("net 을 실행했는데 입력층이나 출력층이 쓰이지 않았습니다.")
    state = net.state()
    for path, inputs, outputs in ((first.path, seen["input"], seen["z"]), (last.path, seen["hidden"], seen["out"])):
        try:
            same = torch.allclose(linear_of(state, path, inputs), outputs, **RECOMPUTED)
        except (KeyError, RuntimeError):
            same = False
        if not same:
            fail("net 의 Linear 층이 낸 값이 그 층의 가중치로 계산한 값과 다릅니다.")
    return seen


@pytest.fixture(scope="module", autouse=True)
def correct_my_dropout(student):
    """A network built on the student's own my_dropout is judged with a correct dropout in
    its place (looked up by name at call time), so a wrong my_dropout costs nothing here."""
    if not student.has("my_dropout"):
        yield
        return
    with student.bound("my_dropout", TorchFunction("torch.nn.functional.dropout")):
        yield


@pytest.fixture(scope="module")
def retrained(student, solution_sources):
    """The student's dropout_net cell re-run on the lecture's split with new targets,
    watching which rows the input layer saw in which mode and what training changed."""
    source = solution_sources("dropout_net")
    s = lecture.split()
    nan = torch.full((20, 1), float("nan"))
    x = torch.cat([s["xtr"], nan])
    y = torch.cat([retarget(s["xtr"]), nan])
    with seeded(student):
        return student.rerun(source, overrides=dict(x=x, y=y, xtr=x[:80], ytr=y[:80],
                                                    xtest=x[80:], ytest=y[80:]),
                             drop=["net"], watch="net")  # the live net must not stand in


def rows_seen(run, trained) -> dict[str, int]:
    """Rows through the net's input layers during the re-run, by training mode."""
    seen = {"train": 0, "eval": 0}
    for layer in linear_layers(trained):
        if layer.in_features == 1:
            for mode, rows in run.watch.get(layer.path, {}).get("rows", {}).items():
                seen[mode] += rows
    return seen


def parameters_moved(run) -> bool:
    """Whether training changed any parameter of the net since its first forward pass."""
    for entry in run.watch.values():
        for before, now in zip(entry["initial"], entry["final"]):
            if not torch.equal(before, now):
                return True
    return False


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
    if sorted(shapes) != [(1, lecture.HIDDEN), (lecture.HIDDEN, 1)]:  # in any declaration order
        fail(f"Linear 층의 (입력, 출력) 크기가 {shapes} 입니다; [(1, 512), (512, 1)] 이어야 합니다.")


def misplaced_dropout(net, seen=None):
    """What is wrong with where the dropout sits, if it is on the input or after the output."""
    seen = seen or forward_record(net, training=True)
    if not torch.equal(seen["input"], GRID):
        return ("학습모드에서 입력층 Linear(1→512) 에 들어가는 x 값이 바뀝니다: 드랍아웃이 입력에 "
                "있습니다. 드랍아웃은 은닉층(ReLU 앞이나 뒤)에 넣으세요.")
    if not torch.equal(seen["output"], seen["out"]):
        return ("학습모드에서 출력층 Linear(512→1) 의 결과가 그대로 나오지 않고 바뀝니다: 드랍아웃이 "
                "출력층 뒤에 있습니다. 드랍아웃은 은닉층(ReLU 앞이나 뒤)에 넣으세요.")
    return None


@pytest.mark.points(1)
def test_dropout_on_hidden_units(net):
    """학습모드에서 은닉층 노드의 80%가 0, 나머지는 5배 (Dropout(0.8))"""
    seen = forward_record(net, training=True)
    problem = misplaced_dropout(net, seen)
    if problem:
        fail(problem)
    hidden, base = seen["hidden"], torch.relu(seen["z"])
    if hidden.shape != base.shape:
        fail(f"출력층에 들어가는 은닉층의 shape {tuple(hidden.shape)} 이 입력층 출력의 shape "
             f"{tuple(base.shape)} 과 다릅니다.")
    active = base != 0
    n_active = int(active.sum())
    if n_active < MIN_ACTIVE:
        fail(f"0이 아닌 은닉층 값이 {n_active}개뿐이라 드랍아웃을 확인할 수 없습니다.")
    if (hidden[~active] != 0).any():
        fail("출력층에 들어가는 값이 ReLU(입력층 출력) 에 드랍아웃을 한 값이 아닙니다: "
             "구조가 Linear(1→512) → ReLU → Dropout(0.8) → Linear(512→1) 인지 확인하세요.")
    if torch.equal(hidden, base):
        fail("학습모드에서도 은닉층 노드가 하나도 0이 되지 않습니다: 드랍아웃이 없습니다. "
             "ReLU 와 출력층 사이에 Dropout(0.8) 을 넣으세요.")
    dropped = int((hidden[active] == 0).sum())
    lo, hi = binomial_bounds(n_active, P, FALSE_FAIL)
    if not lo <= dropped <= hi:
        fail(f"학습모드에서 은닉층 노드가 0이 된 비율이 {dropped / n_active:.3f} 입니다; Dropout(0.8) "
             f"이면 약 0.80 (허용 범위 {lo / n_active:.3f}~{hi / n_active:.3f}) 이어야 합니다.")
    kept = active & (hidden != 0)
    ratio = hidden[kept] / base[kept]
    if not torch.allclose(ratio, torch.full_like(ratio, 1 / (1 - P)), rtol=1e-4, atol=0):
        fail(f"학습모드에서 살아남은 은닉층 값이 ReLU(입력층 출력) 의 {ratio.median().item():.3g}배 "
             "입니다; Dropout(0.8) 이면 5배 이어야 합니다.")


@pytest.mark.points(0.5)
def test_evaluation_mode_is_deterministic(net):
    """평가모드에서는 드랍아웃이 꺼짐 (같은 입력 → 같은 출력)"""
    first, second = forward_record(net, training=False), forward_record(net, training=False)
    if not (torch.equal(first["hidden"], second["hidden"])
            and torch.equal(first["output"], second["output"])):
        fail("평가모드인데도 같은 입력에 대한 결과가 매번 다릅니다. 직접 만든 모듈이라면 "
             "드랍아웃에 training=self.training 을 넘기세요.")


def r_squared(fit, target):
    return 1 - ((fit - target) ** 2).mean().item() / target.var(unbiased=False).item()


def has_nan(trained) -> bool:
    return any(v.is_floating_point() and torch.isnan(v).any() for v in trained.state().values())


@pytest.mark.points(1)
def test_training_follows_training_targets(retrained):
    """(xtr, ytr) 로 1000 epochs 학습 (학습 데이터를 바꾸면 결과도 따라감)"""
    if retrained.error is not None:
        fail(f"dropout_net 셀을 다시 실행하다 오류가 났습니다: {describe_error(retrained.error)}")
    trained = defined(retrained, "net", torch.nn.Module)
    if has_nan(trained):
        fail("학습된 net 의 가중치가 NaN 입니다: 테스트 데이터(또는 x, y 전체)로 학습한 것 같습니다.")
    seen = rows_seen(retrained, trained)
    epochs = seen["train"] / 80
    if epochs < lecture.EPOCHS:
        if seen["eval"] / 80 >= lecture.EPOCHS:
            fail("net 이 평가모드인 채로 학습했습니다 (드랍아웃이 꺼진 채 학습). 학습 전에 "
                 "net.eval() 을 부르지 말고, 학습모드(net.train())에서 학습하세요.")
        fail(f"학습 중 net 이 본 학습 데이터가 {epochs:.0f} epochs 분량입니다; "
             f"{lecture.EPOCHS} epochs (80개 × {lecture.EPOCHS}) 학습해야 합니다.")
    if not parameters_moved(retrained):
        fail("학습이 끝났는데 net 의 가중치가 하나도 바뀌지 않았습니다. loss.backward() 와 "
             "optimizr.step() 을 부르는지, optimizr 가 net.parameters() 로 만들어졌는지 확인하세요.")
    xtr = lecture.split()["xtr"]
    target = retarget(xtr)
    # The mean of several evaluation-mode passes: a net whose dropout ignores evaluation
    # mode loses the check about that, not this one too.
    passes = trained.forward(xtr, training=False, repeat=FIT_PASSES)
    if passes.error is not None:
        raise passes.error
    fit = torch.stack(passes.outputs).mean(dim=0)
    r2 = measure("r2", r_squared(fit, target))
    if not r2 >= MIN_R2:
        try:
            cause = misplaced_dropout(trained)
        except (Exception, pytest.fail.Exception):
            cause = None
        hint = ("드랍아웃의 위치가 잘못되어 학습된 net 이 목표를 따라가지 못합니다 (위의 구조 검사 참고)."
                if cause else "loss.backward(), optimizr.step(), optimizr.zero_grad(), 학습률(lr) 과 "
                              "학습 데이터를 확인하세요.")
        fail(f"ytr 를 곡선으로 바꿔 셀을 다시 실행했더니 학습된 net 이 그 곡선을 따라가지 못했습니다 "
             f"(R² = {r2:.2f}, {MIN_R2} 이상이어야 함). {hint}")


@pytest.mark.points(0.5)
def test_test_data_not_used_for_training(retrained):
    """테스트 데이터(xtest, ytest)는 학습에 쓰지 않음"""
    trained = retrained.get("net")
    if not is_kind(trained, torch.nn.Module):
        fail("dropout_net 셀을 다시 실행했는데 net 이 만들어지지 않았습니다.")
    if has_nan(trained):
        fail("학습에 테스트 데이터(또는 x, y 전체)가 쓰였습니다. 학습에는 xtr, ytr 만 쓰세요.")
