"""The requests the hidden checks make to a student's notebook, answered by the kernel's
agent (dropout_kit/kernel/agent.py) through the same serialization as in grading.

These run the agent in this process (LocalKernel); the end-to-end path through nbgrader,
the kernel and the checker process is exercised by test_course, test_corpus and
test_tampering.
"""
from __future__ import annotations

import pytest
import torch

from dropout_kit.checking import defined, function, module, seeded
from dropout_kit.checks.remote import (
    MISSING,
    LocalKernel,
    Notebook,
    RemoteFunction,
    RemoteModule,
    StudentError,
    TorchFunction,
    describe_error,
)
from dropout_kit.kernel.agent import Agent

STUDENT_CELLS = '''
import torch
xtr = torch.linspace(0, 1, 80).reshape(80, 1)
count = 3
ratio = 0.5

def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p) / (1 - p)

def broken(x, p):
    raise NotImplementedError()

def in_place(x, p):
    x[0] = 0
    return x

torch.manual_seed(1)
net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
'''


@pytest.fixture
def student() -> Notebook:
    namespace: dict = {}
    exec(STUDENT_CELLS, namespace)
    sources = {"train": "for _ in range(3):\n    loss = ((net(xtr) - ytr) ** 2).mean()\n    loss.backward()\n"
                        "    with torch.no_grad():\n        for p in net.parameters():\n"
                        "            p -= 0.1 * p.grad\n            p.grad = None",
               "predict": "net.eval()\nwith torch.no_grad():\n    yhat = net(xtr)\nnote = 'done'"}
    return Notebook(LocalKernel(namespace, sources.get))


def test_values_come_as_plain_data(student):
    assert torch.equal(defined(student, "xtr", torch.Tensor), torch.linspace(0, 1, 80).reshape(80, 1))
    assert student.get("count") == 3 and student.get("ratio") == 0.5
    assert student.get("nothing") is MISSING
    assert isinstance(student.get("my_dropout"), RemoteFunction)
    assert isinstance(student.get("net"), RemoteModule)


def test_a_wrong_kind_fails_the_check_with_its_name(student):
    with pytest.raises(pytest.fail.Exception, match="torch.nn.modules.module.Module .* function"):
        defined(student, "my_dropout", torch.nn.Module)


def test_calls_run_in_the_kernel_on_the_checkers_inputs(student):
    out = function(student, "my_dropout")(torch.ones(10_000), 0.9)
    kept = out != 0
    assert 0.05 < kept.float().mean() < 0.15 and torch.allclose(out[kept], torch.full_like(out[kept], 10.0))


def test_the_students_exception_comes_back_by_name(student):
    with pytest.raises(StudentError) as caught:
        function(student, "broken")(torch.ones(3), 0.5)
    assert describe_error(caught.value) == "아직 답을 작성하지 않았습니다 (NotImplementedError)"


def test_gradients_and_arguments_after_the_call(student):
    call = function(student, "my_dropout").call(torch.ones(100, requires_grad=True), 0.5, backward=True)
    assert call.value.requires_grad
    assert torch.equal(call.grads[0], (call.value != 0).float() * 2)
    changed = function(student, "in_place").call(torch.ones(3), 0.5, return_args=True)
    assert changed.args[0].tolist() == [0.0, 1.0, 1.0]


def test_torch_functions_reached_are_recorded(student):
    with student.bound("my_dropout", TorchFunction("torch.nn.functional.dropout")):
        call = function(student, "my_dropout").call(torch.ones(10), 0.5, torch_calls=True)
    assert "dropout" in call.torch_calls
    own = function(student, "my_dropout").call(torch.ones(10), 0.5, torch_calls=True).torch_calls
    assert "rand_like" in own and not [name for name in own if "dropout" in name]


def test_modules_are_described_and_run_in_the_asked_mode(student):
    net = module(student, "net")
    layers = net.layers()
    assert [(layer.path, layer.type_name) for layer in layers] == [
        ("", "Sequential"), ("0", "Linear"), ("1", "ReLU"), ("2", "Dropout"), ("3", "Linear")]
    assert set(net.state()) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    x = torch.linspace(0, 1, 50).reshape(50, 1)
    evaluation = net.forward(x, training=False, record=["3"], repeat=2)
    assert torch.equal(evaluation.outputs[0], evaluation.outputs[1])
    assert evaluation.records["3"]["input"].shape == (50, 8)
    assert all(layer.training for layer in net.layers())  # its modes are put back


def test_a_rerun_uses_the_checkers_data_and_network(student):
    sent = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).train()
    run = student.rerun(student.source("predict"), overrides={"net": sent})
    assert run.error is None and run.get("note") == "done"
    assert not any(layer.training for layer in run.overrides["net"].layers())
    with torch.no_grad():
        assert torch.allclose(run.get("yhat"), sent.eval()(torch.linspace(0, 1, 80).reshape(80, 1)))
    assert student.get("yhat") is MISSING  # the live namespace is untouched


def test_a_rerun_watches_training(student):
    run = student.rerun(student.source("train"), overrides={"ytr": torch.zeros(80, 1)}, watch="net")
    assert run.error is None
    assert run.watch["0"]["rows"] == {"train": 240, "eval": 0}
    assert not torch.equal(run.watch["0"]["initial"][0], run.watch["0"]["final"][0])


def test_seeding_leaves_the_students_random_state_alone(student):
    before = torch.random.get_rng_state()
    with seeded(student):
        first = function(student, "my_dropout")(torch.ones(100), 0.5)
    with seeded(student):
        again = function(student, "my_dropout")(torch.ones(100), 0.5)
    assert torch.equal(first, again)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_builtins_patched_after_the_agent_started_do_not_reach_a_request():
    """A student's patched isinstance would break torch's own autograd code during the
    checks' call; the agent puts Python's builtins back while it answers."""
    import builtins

    namespace: dict = {}
    exec(STUDENT_CELLS, namespace)
    agent = Agent(namespace)
    ref = agent.answer({"op": "get", "args": {"name": "my_dropout"}})["value"]["ref"]
    request = {"op": "call", "args": {"ref": ref, "backward": True,
                                      "args": [{"tensor": torch.ones(100), "requires_grad": True}, 0.5]}}
    kept = builtins.isinstance
    builtins.isinstance = lambda obj, kind: True
    try:
        reply = agent.answer(request)
    finally:
        builtins.isinstance = kept
    assert "error" not in reply
    assert torch.equal(reply["grads"][0], (reply["value"]["tensor"] != 0).float() * 2)
