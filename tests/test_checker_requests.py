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
    PipeKernel,
    StudentError,
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


SOURCES = {"train": "for _ in range(3):\n    loss = ((net(xtr) - ytr) ** 2).mean()\n    loss.backward()\n"
                    "    with torch.no_grad():\n        for p in net.parameters():\n"
                    "            p -= 0.1 * p.grad\n            p.grad = None",
           "predict": "net.eval()\nwith torch.no_grad():\n    yhat = net(xtr)\nnote = 'done'"}


@pytest.fixture
def namespace() -> dict:
    namespace: dict = {}
    exec(STUDENT_CELLS, namespace)
    return namespace


@pytest.fixture
def student(namespace) -> Notebook:
    cells = ["import torch", SOURCES["train"], SOURCES["predict"]]
    return Notebook(LocalKernel(namespace, SOURCES.get,
                                lambda grade_id: cells[:2] if grade_id == "train" else None))


def test_values_come_as_plain_data(student):
    assert torch.equal(defined(student, "xtr", torch.Tensor), torch.linspace(0, 1, 80).reshape(80, 1))
    assert student.get("count") == 3 and student.get("ratio") == 0.5
    assert student.get("nothing") is MISSING
    assert isinstance(student.get("my_dropout"), RemoteFunction)
    assert isinstance(student.get("net"), RemoteModule)


def test_float_subclasses_come_as_their_value(namespace, student):
    namespace["Number"] = type("Number", (float,), {})
    exec("mse = Number(0.25)\nnan = float('nan')", namespace)
    assert type(student.get("mse")) is float and student.get("mse") == 0.25
    assert student.get("nan") != student.get("nan")  # NaN comes as NaN: the checks reject it


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


def test_cell_sources_come_from_the_transport(student):
    assert student.source("predict").startswith("net.eval()")
    assert student.cells_before("train") == ["import torch", SOURCES["train"]]
    assert student.cells_before("nothing") is None
    alone = Notebook(LocalKernel({}, SOURCES.get))  # without cells_before: the cell itself
    assert alone.cells_before("predict") == [SOURCES["predict"]] and alone.cells_before("x") is None


def test_pipe_kernel_asks_nbgraders_side_for_cells():
    sent = []
    answers = iter([{"cells": ["a = 1", "b = 2"]}, {"cells": None}])
    pipe = PipeKernel(sent.append, lambda: next(answers))
    assert Notebook(pipe).cells_before("split") == ["a = 1", "b = 2"]
    assert Notebook(pipe).cells_before("nothing") is None
    assert sent == [{"cells_before": "split"}, {"cells_before": "nothing"}]


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
    training = net.forward(x, record=["3"], repeat=2)  # the current mode: training
    assert not torch.equal(training.outputs[0], training.outputs[1])


def test_forward_passes_and_calls_run_with_autograd_on(namespace, student):
    namespace["Probe"] = type("Probe", (torch.nn.Module,), {
        "forward": lambda self, x: x * 0 + float(torch.is_grad_enabled())})
    exec("probe = Probe()\ngrad_on = lambda x: torch.full_like(x, float(torch.is_grad_enabled()))", namespace)
    out = module(student, "probe").forward(torch.ones(3), training=False).outputs[0]
    assert out.tolist() == [1.0, 1.0, 1.0] and not out.requires_grad
    assert function(student, "grad_on")(torch.ones(2)).tolist() == [1.0, 1.0]


def test_a_rerun_uses_the_checkers_data_and_network(student):
    sent = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).train()
    run = student.rerun(student.source("predict"), overrides={"net": sent})
    assert run.error is None and run.get("note") == "done"
    # the mode the cell left the checker's network in, judged from its outputs
    done = run.overrides["net"].forward(torch.linspace(0, 1, 80).reshape(80, 1))
    with torch.no_grad():
        assert torch.allclose(run.get("yhat"), sent.eval()(torch.linspace(0, 1, 80).reshape(80, 1)))
        assert torch.allclose(done.outputs[0], run.get("yhat"))
    assert student.get("yhat") is MISSING  # the live namespace is untouched


def test_a_rerun_runs_in_the_live_namespace_and_leaves_it_as_it_was(namespace, student):
    namespace["seen"] = []
    before = dict(namespace)
    weights = namespace["net"][0].weight.detach().clone()
    source = ("same = globals() is live and 'seen' in globals()\n"
              "seen.append(1)\n"
              "xtr.mul_(0)\n"
              "with torch.no_grad():\n    net[0].weight.zero_()\n"
              "count = count + 1\n"
              "new_name = 'made'")
    namespace["live"] = namespace
    before["live"] = namespace
    run = student.rerun(source, drop=["ratio"])
    assert run.error is None
    assert run.get("same") is True and run.get("count") == 4 and run.get("new_name") == "made"
    assert run.get("ratio") is MISSING
    assert torch.equal(run.get("xtr"), torch.zeros(80, 1))
    # the live values: the same objects under the same names, unchanged, nothing added
    assert list(namespace) == list(before) and all(namespace[k] is v for k, v in before.items())
    assert namespace["seen"] == [] and namespace["count"] == 3
    assert torch.equal(namespace["xtr"], torch.linspace(0, 1, 80).reshape(80, 1))
    assert torch.equal(namespace["net"][0].weight, weights)


def test_a_rerun_in_ipython_sees_the_shells_namespace_and_leaves_its_history():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        for cell in ("import torch", "xtr = torch.ones(3)", "xtr.sum()"):
            shell.run_cell(cell, store_history=True)
        ns = shell.user_ns
        history = (list(ns["In"]), dict(ns["Out"]), ns["_"], ns["_i"], shell.execution_count)
        student = Notebook(LocalKernel(ns, {"cell": "same = globals() is get_ipython().user_ns\n"
                                                    "xtr.add_(1)\nxtr.sum()"}.get))
        run = student.rerun(student.source("cell"))
        assert run.error is None and run.get("same") is True
        assert (list(ns["In"]), dict(ns["Out"]), ns["_"], ns["_i"], shell.execution_count) == history
        assert torch.equal(ns["xtr"], torch.ones(3))
    finally:
        InteractiveShell.clear_instance()


def test_a_rerun_keeps_what_the_live_values_share(namespace, student):
    exec("optimizr = torch.optim.Adam(net.parameters())\nbase = torch.ones(4)\nview = base[:2]", namespace)
    run = student.rerun("shared = optimizr.param_groups[0]['params'][0] is net[0].weight\n"
                        "view.add_(1)\nbase_after = base.clone()")
    assert run.get("shared") is True
    assert run.get("base_after").tolist() == [2.0, 2.0, 1.0, 1.0]
    assert namespace["base"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_a_rerun_restores_the_namespace_after_an_error(namespace, student):
    before = dict(namespace)
    run = student.rerun("count = 10\nraise ValueError('stop')")
    assert run.error is not None and run.error.type_name == "ValueError"
    assert run.get("count") == 10
    assert namespace == before and all(namespace[k] is v for k, v in before.items())


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
