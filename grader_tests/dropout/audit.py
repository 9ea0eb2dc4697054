"""What `dropout-kit audit` compares between a surviving mutant and the reference answer
(dropout_kit.audit.differential); not a check: no points depend on it, and it is never
released.

`observe(ns)` runs in the grading kernel after the whole notebook (outside grading), with the
notebook's globals: it must be self-contained (torch only; grader_tests is not visible there)
and leave nothing behind. It reads what the contract fixes, each under a name of its own:
the contract names' values, my_dropout's outputs on fixed inputs and seeds, and the network's
outputs in both modes, on its trained weights and on fixed weights (the same weights for every
network of the same shape, so that the architecture is compared apart from training).

ACCEPTED: answers the contract accepts although they differ from the reference. A survivor
is "accepted by the contract", with that answer named, when it differs from the reference only
where one of these differs too, and, outside the observables of FREE (what training with
another seed or for longer changes), has that answer's very values.
"""
import copy

import torch

SEEDS = (0, 1, 2)
PS = (0.5, 0.8, 0.9)
CONTRACT_NAMES = ("xtr", "ytr", "xtest", "ytest", "yhat_test", "mse_eval", "mse_nodrop")
EPOCHS = 1000
# Observables that another seed or a longer training changes (the trained weights' outputs).
FREE = ("yhat_test", "mse_eval", "net(grid), trained weights")


def _value(compute):
    try:
        value = compute()
    except Exception as error:  # noqa: BLE001 - an error is an observation too
        return f"error: {type(error).__name__}"
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def _plain(value):
    """What torch.load(weights_only=True) reads back: tensors, numbers, text."""
    if isinstance(value, (torch.Tensor, bool, int, float, str)) or value is None:
        return value
    return f"{type(value).__name__}"


def _my_dropout(ns, seen):
    drop = ns.get("my_dropout")
    if not callable(drop):
        seen["my_dropout"] = "undefined"
        return
    x = torch.linspace(1, 2, 1000)
    for p in PS:
        for seed in SEEDS:
            torch.manual_seed(seed)
            seen[f"my_dropout(x, {p}) [seed {seed}]"] = _value(lambda: drop(x.clone(), p))
    given = x.clone()
    evaluation = _value(lambda: drop(given, 0.8, training=False))
    seen["my_dropout(x, 0.8, training=False)"] = evaluation
    seen["my_dropout(x, 0.8, training=False) is x"] = _value(lambda: drop(given, 0.8, False) is given)
    torch.manual_seed(0)
    _value(lambda: drop(given, 0.8))
    seen["x after my_dropout(x, 0.8)"] = given
    leaf = torch.linspace(1, 2, 1000, requires_grad=True)
    torch.manual_seed(0)
    seen["gradient of my_dropout(x, 0.8).sum()"] = _value(
        lambda: torch.autograd.grad(drop(leaf, 0.8).sum(), leaf)[0])
    seen["my_dropout on float64 (3, 4)"] = _value(lambda: drop(torch.ones(3, 4, dtype=torch.float64), 0.5))


def _fixed_weights(net):
    """A copy of `net` with every parameter set from its position alone."""
    fixed = copy.deepcopy(net)
    with torch.no_grad():
        for index, parameter in enumerate(fixed.parameters()):
            generator = torch.Generator().manual_seed(100 + index)
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return fixed


def _net(ns, seen):
    net = ns.get("net")
    if not isinstance(net, torch.nn.Module):
        seen["net"] = "undefined"
        return
    seen["net.training after the notebook"] = net.training
    optimizer = ns.get("optimizr")
    steps = [state.get("step") for state in getattr(optimizer, "state", {}).values()
             if isinstance(state, dict)] if isinstance(optimizer, torch.optim.Optimizer) else []
    seen[f"optimizr took at least the lecture's {EPOCHS} steps"] = bool(steps) and all(
        int(step) >= EPOCHS for step in steps)
    seen["net parameter shapes"] = str(sorted(tuple(p.shape) for p in net.parameters()))
    grid = torch.linspace(0, 1, 200).reshape(-1, 1)
    for label, model in (("trained", copy.deepcopy(net)), ("fixed", _fixed_weights(net))):
        with torch.no_grad():
            seen[f"net(grid), {label} weights, evaluation mode"] = _value(lambda: model.eval()(grid))
            for seed in SEEDS:
                torch.manual_seed(seed)
                seen[f"net(grid), {label} weights, training mode [seed {seed}]"] = _value(lambda: model.train()(grid))


def observe(ns):
    state = torch.random.get_rng_state()
    seen = {name: _value(lambda: ns[name]) if name in ns else "undefined" for name in CONTRACT_NAMES}
    try:
        _my_dropout(ns, seen)
        _net(ns, seen)
    finally:
        torch.random.set_rng_state(state)
    return {name: _plain(value) for name, value in seen.items()}


_NET = """\
torch.manual_seed({seed})
net = torch.nn.Sequential(
    torch.nn.Linear(in_features=1, out_features=512),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.8),
    torch.nn.Linear(in_features=512, out_features=1),
)
loss_fn = torch.nn.MSELoss()
optimizr = torch.optim.Adam(net.parameters())
for epoc in range({epochs}):
    loss = loss_fn(net(xtr), ytr)
    loss.backward()
    optimizr.step()
    optimizr.zero_grad()"""

# The first that covers a survivor is named as its precedent.
ACCEPTED = {
    # More training than the lecture's 1000 epochs.
    "more epochs": {"dropout_net": _NET.format(seed=1, epochs=1500)},
    # The contract leaves the seed to the student ("whatever seed ... the student chose").
    "another seed": {"dropout_net": _NET.format(seed=2023, epochs=1000)},
    # The contract asks for the input's values in evaluation mode, not for a copy.
    "return x in evaluation mode": {"my_dropout": """\
def my_dropout(x, p, training=True):
    if not training:
        return x
    mask = (torch.rand_like(x) >= p).to(x.dtype)
    return x * mask / (1 - p)"""},
}
