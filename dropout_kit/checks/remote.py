"""The student's notebook as the hidden checks see it: a kernel they can only ask.

The checks never hold the student's objects. They ask the kernel's agent
(dropout_kit/kernel/agent.py) for values, calls, forward passes and re-runs, and get plain
data back: tensors, numbers, strings, or a `Remote` that names an object's type. Cell
sources (`source`, `cells_before`) come from nbgrader's copy of the submission, never from
the kernel. What the kernel reports about itself (a layer's `training` flag, its class
names) can word a message but never earns a point: points come from sources and from values
the checks compare with their own computation. Two ways to reach the agent:
  * `PipeKernel`, in the checker process during `nbgrader autograde`: requests go through
    nbgrader's process (dropout_kit/engine/broker.py), which runs them in the student's kernel;
  * `LocalKernel`, in one process (an instructor running the source notebook, the
    benchmarks): the agent answers directly, with the same serialization on the way.
"""
from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch

from dropout_kit.kernel import agent as agent_module

MODULE_TYPE = "torch.nn.modules.module.Module"
LINEAR_TYPE = "torch.nn.modules.linear.Linear"


class StudentError(Exception):
    """An exception the student's code raised in the kernel, by name and message."""

    def __init__(self, type_name: str, message: str):
        super().__init__(message)
        self.type_name = type_name


def describe_error(error: BaseException) -> str:
    """One line about an exception raised by the student's code."""
    if isinstance(error, OverBudget):
        return str(error)
    name = error.type_name if isinstance(error, StudentError) else type(error).__name__
    if name == "NotImplementedError":
        return "아직 답을 작성하지 않았습니다 (NotImplementedError)"
    text = f"{name}: {error}".strip()
    return text if len(text) <= 300 else text[:300] + " …"


class KernelUnavailable(Exception):
    """The kernel did not answer (it died, or the cell's time ran out)."""


@dataclass(frozen=True)
class Budget:
    """What one request may cost in the kernel: wall seconds (past them nbgrader's side
    interrupts it, or restarts the kernel and replays the cells if the interrupt does not
    stop it) and megabytes of address space beyond what the kernel holds when the request
    starts (a lower RLIMIT_AS set on the kernel from outside for the request)."""
    seconds: float
    memory_mb: int = 1024


# A call of a student's function on the checks' inputs (milliseconds when correct; a loop
# over the elements in Python takes a quarter of a second for 100 000 of them on one core).
CALL = Budget(seconds=10)
# The first calls of a part, on a few elements: anything slower is not worth waiting for.
SMALL_CALL = Budget(seconds=3, memory_mb=256)
# A re-run of a training cell (1000 epochs: about 2 s on one core, 9 times that on a
# machine shared with other work).
TRAINING = Budget(seconds=60)
# Reading a name, a state dict, a forward pass of the lecture's network.
DEFAULT = Budget(seconds=20)


class OverBudget(KernelUnavailable):
    """A request ran past its Budget: `kind` "time" (it was stopped) or "memory" (an
    allocation past the budget failed); or "judgement": the fresh kernel it was meant for
    (Notebook.fresh) could not run the cells before its cell (the cell's or the notebook's
    time ran out, the kernel died). The message is Korean, for the student."""

    def __init__(self, message: str, kind: str, limit: float, seconds: float = 0.0,
                 restarted: bool = False):
        super().__init__(message)
        self.kind, self.limit, self.seconds, self.restarted = kind, limit, seconds, restarted

    def about(self, what: str) -> "OverBudget":
        """The same event, said of `what` (e.g. "my_dropout 이 shape (10000,) 입력에")."""
        if self.kind == "time":
            text = f"{what} {self.limit:g}초 넘게 걸려서 중단했습니다."
        elif self.kind == "judgement":
            text = f"{what} 필요한 새 커널에서 앞의 셀들을 다시 실행하지 못했습니다."
        else:
            text = f"{what} 메모리를 {self.limit:g} MB 넘게 쓰려고 해서 중단했습니다."
        if self.restarted:
            text += " (중단 요청에 응답하지 않아 커널을 다시 시작하고 앞의 셀들을 다시 실행했습니다.)"
        return OverBudget(text, self.kind, self.limit, self.seconds, self.restarted)


# What torch or Python says when an allocation fails (RLIMIT_AS reached).
_ALLOCATION_FAILED = re.compile(r"can't allocate memory|not enough memory|Cannot allocate memory|"
                                r"out of memory|std::bad_alloc")


# -- transports ---------------------------------------------------------------------------
class KernelTransport:
    def ask(self, op: str, before=(), budget: Budget = DEFAULT, **args) -> dict:
        """Runs the requests in `before` (answers dropped), then `op` within `budget`; returns
        its answer, or raises OverBudget."""
        raise NotImplementedError

    def source(self, grade_id: str) -> str | None:
        raise NotImplementedError

    def cells_before(self, grade_id: str) -> list[str] | None:
        raise NotImplementedError

    def ran_out_of_time(self, grade_id: str) -> bool:
        return False

    def cell_error(self, grade_id: str) -> dict | None:
        """The error ({"type", "message"}) the notebook's own run of the cell `grade_id` ended
        in, or None."""
        return None

    def judging(self, grade_id: str) -> "KernelTransport | None":
        """A transport to a fresh kernel of this submission that ran the notebook's code
        cells before the cell `grade_id` (see Notebook.fresh), or None where there is none."""
        return None

    @property
    def findings(self) -> dict:
        """What a module of this submission's checks found that a later module relies on
        (Notebook.findings), kept in the checker, where the student's code cannot reach it."""
        return self.__dict__.setdefault("_findings", {})


class LocalKernel(KernelTransport):
    """The agent in this process, over `namespace`; cell sources from `sources` and the
    code cells up to a cell from `cells_before` (without it: that cell's source alone)."""

    def __init__(self, namespace: dict, sources: Callable[[str], str | None],
                 cells_before: Callable[[str], list[str] | None] | None = None):
        self.agent = agent_module.Agent(namespace, quiet=True)
        self._sources = sources
        self._cells_before = cells_before

    def ask(self, op: str, before=(), budget: Budget = DEFAULT, **args) -> dict:
        # In one process nothing bounds the request: the budgets apply in the grading kernel.
        request = agent_module.decode(agent_module.encode({"op": op, "args": args, "before": list(before)}))
        return agent_module.decode(agent_module.encode(self.agent.answer(request)))

    def source(self, grade_id: str) -> str | None:
        return self._sources(grade_id)

    def cells_before(self, grade_id: str) -> list[str] | None:
        if self._cells_before is not None:
            return self._cells_before(grade_id)
        source = self._sources(grade_id)
        return None if source is None else [source]


class PipeKernel(KernelTransport):
    """Requests as JSON lines to nbgrader's side (dropout_kit.engine.broker), answers read back;
    with `judge` (a cell's grade id), to that cell's fresh judgement kernel instead of the
    notebook's own (dropout_kit.engine.judgement_kernel)."""

    def __init__(self, send: Callable[[dict], None], receive: Callable[[], dict], judge: str | None = None):
        self._send, self._receive, self.judge = send, receive, judge

    def _round_trip(self, message: dict) -> dict:
        self._send(message)
        answer = self._receive()
        if "unavailable" in answer:
            over = answer.get("over")
            if isinstance(over, dict):
                raise OverBudget(answer["unavailable"], over.get("kind", "time"), over.get("limit", 0),
                                 over.get("seconds", 0.0), bool(over.get("restarted")))
            raise KernelUnavailable(answer["unavailable"])
        return answer

    def ask(self, op: str, before=(), budget: Budget = DEFAULT, **args) -> dict:
        request = agent_module.encode({"op": op, "args": args, "before": list(before)})
        request = base64.b64encode(request).decode("ascii")
        message = {"kernel": request, "seconds": budget.seconds, "memory_mb": budget.memory_mb}
        if self.judge is not None:
            message["judge"] = self.judge
        answer = self._round_trip(message)
        reply = agent_module.decode(base64.b64decode(answer["reply"]))
        if isinstance(reply, dict):  # what nbgrader's side heard from the kernel at once, not what the reply says
            reply["entered"] = [str(op) for op in answer.get("entered") or []]
        return reply

    def source(self, grade_id: str) -> str | None:
        return self._round_trip({"source": grade_id})["text"]

    def cells_before(self, grade_id: str) -> list[str] | None:
        return self._round_trip({"cells_before": grade_id})["cells"]

    def ran_out_of_time(self, grade_id: str) -> bool:
        return bool(self._round_trip({"ran_out_of_time": grade_id})["value"])

    def cell_error(self, grade_id: str) -> dict | None:
        return self._round_trip({"cell_error": grade_id})["error"]

    def judging(self, grade_id: str) -> "PipeKernel":
        return PipeKernel(self._send, self._receive, judge=grade_id)


# -- what comes back ----------------------------------------------------------------------
@dataclass
class Remote:
    """An object that stays in the kernel: its type's names (MRO) and a reference."""
    kernel: "Notebook"
    ref: int
    types: list[str]
    callable: bool
    name: str = ""  # the name it was read from, for messages

    @property
    def type_name(self) -> str:
        return self.types[0].rsplit(".", 1)[-1] if self.types else "?"

    def is_a(self, kind: type) -> bool:
        return f"{kind.__module__}.{kind.__qualname__}" in self.types


def shapes(values) -> str:
    """The shapes of the tensors among `values`, for a message: "shape (10000,)"."""
    found = []
    for value in values:
        if isinstance(value, torch.Tensor) and tuple(value.shape) not in found:
            found.append(tuple(value.shape))
    return ", ".join(f"shape {shape}" for shape in found) or "주어진"


@dataclass
class Call:
    value: object = None
    error: Exception | None = None
    grads: list = field(default_factory=list)
    args: list = field(default_factory=list)

    def result(self):
        """The value, or the student's exception raised here."""
        if self.error is not None:
            raise self.error
        return self.value


class RemoteFunction(Remote):
    def call(self, *args, backward=False, return_args=False, budget: Budget = CALL, **kwargs) -> Call:
        """One call in the kernel within `budget` (OverBudget past it)."""
        self.kernel.refuse_if_slow(self.name)
        what = f"{self.name or '함수'} 이 {shapes(args)} 입력에"
        with self.kernel.budgeted(self.name, what):
            reply = self.kernel.ask("call", budget=budget, ref=self.ref, args=[self.kernel.send(a) for a in args],
                                    kwargs={k: self.kernel.send(v) for k, v in kwargs.items()},
                                    backward=backward, return_args=return_args,
                                    forbid=self.kernel.forbidden_in(self.name))
        self.kernel.note_entered(self.name, reply)
        return self._call_of(reply, budget, what)

    def calls(self, argument_lists, budget: Budget = CALL, **options) -> list[Call]:
        """Several calls in one round trip, in order, within one `budget`: each item is a
        tuple of positional arguments, or (args, kwargs). The results come back as Calls
        (see Call.result)."""
        self.kernel.refuse_if_slow(self.name)
        calls, given = [], []
        for item in argument_lists:
            args, kwargs = item if len(item) == 2 and isinstance(item[1], dict) else (item, {})
            given += [*args, *kwargs.values()]
            calls.append({"args": [self.kernel.send(a) for a in args],
                          "kwargs": {k: self.kernel.send(v) for k, v in kwargs.items()}})
        what = f"{self.name or '함수'} 이 {shapes(given)} 입력에"
        with self.kernel.budgeted(self.name, what):
            reply = self.kernel.ask("calls", budget=budget, ref=self.ref, calls=calls,
                                    forbid=self.kernel.forbidden_in(self.name), **options)
        self.kernel.note_entered(self.name, reply)
        return [self._call_of(one, budget, what) for one in reply["calls"]]

    def _call_of(self, reply: dict, budget: Budget, what: str) -> Call:
        return Call(value=self.kernel.receive(reply.get("value")),
                    error=self.kernel.noted(_student_error(reply.get("error"), budget, what)),
                    grads=reply.get("grads") or [],
                    args=[self.kernel.receive(a) for a in reply.get("args", [])])

    def __call__(self, *args, **kwargs):
        """The result, or the student's exception raised here as a StudentError."""
        return self.call(*args, **kwargs).result()


@dataclass
class Layer:
    """A submodule as the kernel describes it: for the wording of messages only (a
    student's code can make it say anything)."""
    path: str
    types: list[str]
    training: bool
    in_features: int | None
    out_features: int | None

    @property
    def type_name(self) -> str:
        return self.types[0].rsplit(".", 1)[-1]

    @property
    def is_linear(self) -> bool:
        return LINEAR_TYPE in self.types


@dataclass
class Forward:
    outputs: list
    records: dict  # path → {"input": ..., "output": ...}
    error: StudentError | None = None


class RemoteModule(RemoteFunction):
    def describe(self) -> tuple[list[Layer], dict[str, torch.Tensor]]:
        """Every submodule (path "" is the module itself; for messages only) and the state
        dict (values: what the checks compute with)."""
        reply = self.kernel.ask("describe", ref=self.ref)
        return [Layer(**layer) for layer in reply["layers"]], reply["state"]

    def layers(self) -> list[Layer]:
        return self.describe()[0]

    def state(self) -> dict[str, torch.Tensor]:
        return self.describe()[1]

    def forward(self, inputs: torch.Tensor, training: bool | None = None, record=(),
                repeat: int = 1) -> Forward:
        """`repeat` passes on `inputs` in the kernel, autograd on, in the given mode (None:
        the module's current one), with the input and output of the submodules at the paths
        in `record`. Values to compare with the checks' own computation, nothing more."""
        what = f"{self.name or 'net'} 이 {shapes([inputs])} 입력에"
        with self.kernel.budgeted(None, what):
            reply = self.kernel.ask("forward", ref=self.ref, inputs=self.kernel.send(inputs),
                                    training=training, record=list(record), repeat=repeat)
        if reply.get("error"):
            return Forward([], {}, self.kernel.noted(_student_error(reply["error"], DEFAULT, what)))
        records = {path: {k: self.kernel.receive(v) for k, v in entry.items()}
                   for path, entry in reply["records"].items()}
        return Forward([self.kernel.receive(o) for o in reply["outputs"]], records)

    def __call__(self, inputs):
        done = self.forward(inputs)
        if done.error is not None:
            raise done.error
        return done.outputs[0]


def _student_error(error: dict | None, budget: Budget = DEFAULT, what: str = "") -> Exception | None:
    """The student's exception, or OverBudget where an allocation failed (the request's
    memory budget, or the kernel's own limit, was reached)."""
    if not error:
        return None
    if error["type"] == "MemoryError" or _ALLOCATION_FAILED.search(error["message"]):
        return OverBudget("", "memory", budget.memory_mb).about(what or "학생의 코드가")
    return StudentError(error["type"], error["message"])


@dataclass
class Rerun:
    """A cell's source run again in the kernel's namespace, on private copies of its values
    (the live ones are left as they were); its results stay in a scope of their own."""
    kernel: "Notebook"
    scope: str
    error: StudentError | None
    overrides: dict  # name → Remote of the modules the checker passed in

    def has(self, name: str) -> bool:
        return self.kernel.has(name, scope=self.scope)

    def get(self, name: str):
        return self.kernel.get(name, scope=self.scope)


def module_spec(module: torch.nn.Module) -> dict:
    """A network of the checker's own (torch.nn layers) as the agent rebuilds it."""
    name = type(module).__name__
    if getattr(torch.nn, name, None) is not type(module):
        raise TypeError(f"only torch.nn modules can be sent, not {name}")
    spec = {"nn": name, "training": module.training}
    if isinstance(module, torch.nn.Sequential):
        spec["layers"] = [module_spec(layer) for layer in module]
        spec["state"] = {k: v.detach().clone() for k, v in module.state_dict().items()}
    elif isinstance(module, torch.nn.Linear):
        spec["args"] = [module.in_features, module.out_features]
    elif isinstance(module, torch.nn.Dropout):
        spec["args"] = [module.p]
    return spec


MISSING = object()


# Requests that change nothing in the kernel: their answers are kept until one that may.
READ_ONLY = ("get", "has", "describe")


class Notebook:
    """The student's notebook for the checks: names, functions, modules, re-runs.

    Each request is a round trip to the kernel (a few milliseconds), so the answers of
    read-only requests are kept until a request that may change the kernel's state, and
    the seeding around each check rides along with the next request (`flush` sends what
    is left at the end of a module)."""

    def __init__(self, transport: KernelTransport):
        self.transport = transport
        self._answers: dict[tuple, dict] = {}
        self._deferred: list[tuple[str, dict]] = []
        self._bindings: list[tuple[str, object]] = []  # bound for the checks, in order
        # Functions that ran past a time budget in this module: not called again here.
        self.slow: dict[str, OverBudget] = {}
        # Every budget a request ran past, for the instructor's report.
        self.over_budget: list[OverBudget] = []
        # Torch operators forbidden while the checks call a function of the student's
        # (forbid), and those its calls entered: function name → operators.
        self.forbidden: dict[str, tuple[str, ...]] = {}
        self.entered: dict[str, list[str]] = {}
        self._forbid_messages: dict[str, str] = {}
        self.is_fresh = False  # a judgement kernel of its own (fresh)

    def ask(self, op: str, budget: Budget = DEFAULT, **args) -> dict:
        key = (op, repr(sorted(args.items()))) if op in READ_ONLY else None
        if key in self._answers:
            return self._answers[key]
        if key is None:
            self._answers.clear()
        before, self._deferred = self._deferred, []
        try:
            answer = self.transport.ask(op, before=before, budget=budget, **args)
        except OverBudget as over:
            if over.restarted:  # a fresh kernel: what the checks had bound there is bound again
                self._deferred = [("bind", {"name": name, "value": self.send(value)})
                                  for name, value in self._bindings]
            raise
        if key is not None:
            self._answers[key] = answer
        return answer

    @contextlib.contextmanager
    def budgeted(self, name: str | None, what: str):
        """Says of `what` the OverBudget raised in the block; a function `name` that ran out
        of time is remembered as slow (refuse_if_slow)."""
        try:
            yield
        except OverBudget as over:
            said = self.noted(over.about(what))
            if name and over.kind == "time":
                self.slow[name] = said
            raise said from None

    def noted(self, error):
        """`error`, kept in over_budget if it is an OverBudget."""
        if isinstance(error, OverBudget):
            self.over_budget.append(error)
        return error

    def forbid(self, name: str, ops, message: str) -> None:
        """From now on, while the checks call the student's function `name`, torch's operators
        `ops` (aten names) are blocked at the dispatcher; entering one is recorded (entered) and
        fails the module's gate with `message` ({ops}: the operators entered)."""
        self.forbidden[name] = tuple(ops)
        self._forbid_messages[name] = message

    def forbid_message(self, name: str, ops) -> str:
        return self._forbid_messages.get(name, "{ops}").format(ops=", ".join(ops))

    def forbidden_in(self, name: str) -> tuple[str, ...]:
        return self.forbidden.get(name, ())

    def note_entered(self, name: str, reply: dict) -> None:
        ops = reply.get("entered") if isinstance(reply, dict) else None
        if ops:
            seen = self.entered.setdefault(name, [])
            seen.extend(op for op in dict.fromkeys(ops) if op not in seen)

    def refuse_if_slow(self, name: str) -> None:
        """A function that ran past its time budget earlier in this module is not called again:
        each such call would cost its whole budget."""
        if name in self.slow:
            raise OverBudget(f"위의 검사에서 {name} 이 {self.slow[name].limit:g}초를 넘겨서, 이 검사에서는 "
                             "다시 부르지 않았습니다.", self.slow[name].kind, self.slow[name].limit)

    def flush(self) -> None:
        """Sends the deferred requests (the restoring of the kernel's random state)."""
        if self._deferred:
            self.ask("has", name="")

    # -- values both ways ---------------------------------------------------------------
    def send(self, value):
        if isinstance(value, torch.Tensor):
            return {"tensor": value.detach().clone(), "requires_grad": bool(value.requires_grad)}
        if isinstance(value, torch.nn.Module):
            return module_spec(value)
        if isinstance(value, Remote):
            return {"ref": value.ref}
        if isinstance(value, TorchFunction):
            return {"torch": value.dotted}
        return value

    def receive(self, plain, name: str = ""):
        if not isinstance(plain, dict):
            return plain
        if "tensor" in plain:
            tensor = plain["tensor"].clone()  # answers may be kept: never hand out the same one
            if plain.get("requires_grad") and (tensor.is_floating_point() or tensor.is_complex()):
                tensor.requires_grad_(True)
            return tensor
        if "sequence" in plain:
            items = [self.receive(item) for item in plain["sequence"]]
            return tuple(items) if plain.get("tuple") else items
        if "mapping" in plain:
            return {k: self.receive(v) for k, v in plain["mapping"].items()}
        if "ref" in plain:
            cls = RemoteModule if MODULE_TYPE in plain["types"] else \
                RemoteFunction if plain["callable"] else Remote
            return cls(self, plain["ref"], plain["types"], plain["callable"], name)
        return plain

    def has(self, name: str, scope: str = agent_module.USER) -> bool:
        return self.ask("has", name=name, scope=scope)["value"]

    def get(self, name: str, scope: str = agent_module.USER):
        """The value at `name`, or MISSING."""
        reply = self.ask("get", name=name, scope=scope)
        if reply.get("missing"):
            return MISSING
        return self.receive(reply["value"], name)

    def source(self, grade_id: str) -> str | None:
        """The submitted source of a cell, from nbgrader's copy of the submission."""
        return self.transport.source(grade_id)

    def cells_before(self, grade_id: str) -> list[str] | None:
        """The sources of the notebook's code cells up to and including the cell `grade_id`,
        in order, from nbgrader's copy of the submission; None without such a cell."""
        return self.transport.cells_before(grade_id)

    def ran_out_of_time(self, grade_id: str) -> bool:
        """Whether the cell `grade_id` was stopped at its time limit when the notebook ran (as
        nbgrader's side saw it): a re-run of it would only run out of time again."""
        return self.transport.ran_out_of_time(grade_id)

    def cell_error(self, grade_id: str) -> StudentError | None:
        """The error the notebook's own run of the cell `grade_id` ended in (as nbgrader's
        side recorded it), or None (also where that is not known: one process)."""
        error = self.transport.cell_error(grade_id)
        return None if error is None else StudentError(str(error.get("type", "")), str(error.get("message", "")))

    @property
    def findings(self) -> dict:
        """A verdict of an earlier module of this submission that a later one must follow
        rather than ask the kernel again (which could answer the second question otherwise):
        name → value, kept in the checker; empty where the modules do not share a checker."""
        return self.transport.findings

    def fresh(self, grade_id: str) -> "Notebook":
        """The notebook in a judgement kernel of its own: a kernel that ran the submission's
        code cells before the cell `grade_id` from the top, in a fresh copy of the submitted
        folder, so that nothing of the notebook's own run (leftover names, function defaults,
        class attributes, environment, files, hooks) and nothing of an earlier check reaches
        what runs there; what the checks bound here (`bound`) is bound there too. Its
        requests may raise OverBudget of kind "judgement" when that kernel could not run
        those cells. Where no such kernel can be had (one process: LocalKernel) this very
        notebook (`is_fresh` tells which)."""
        transport = self.transport.judging(grade_id)
        if transport is None:
            return self
        judge = Notebook(transport)
        judge.is_fresh = True
        judge._bindings = [(name, value) for name, value in self._bindings if not isinstance(value, Remote)]
        judge._deferred = [("bind", {"name": name, "value": judge.send(value)}) for name, value in judge._bindings]
        return judge

    # -- state of the kernel ------------------------------------------------------------
    @contextlib.contextmanager
    def seeded(self, seed: int):
        """The kernel's torch random state saved, seeded, and restored afterwards (both
        sent with the next request; nothing at all if the block made none)."""
        self._deferred.append(("rng", {"seed": seed}))
        try:
            yield
        finally:
            if self._deferred and self._deferred[-1] == ("rng", {"seed": seed}):
                self._deferred.pop()
            else:
                self._deferred.append(("rng", {"seed": None}))

    @contextlib.contextmanager
    def bound(self, name: str, value):
        """`name` in the kernel set to `value` (e.g. TorchFunction(...)) for the block."""
        self.ask("bind", name=name, value=self.send(value))
        self._bindings.append((name, value))
        try:
            yield
        finally:
            self._bindings.pop()
            self.ask("unbind")

    def rerun(self, source: str, overrides: dict | None = None, drop=(), budget: Budget = DEFAULT,
              cell: str = "") -> Rerun:
        """`source` run again in the kernel's namespace less `drop`, with `overrides` (values,
        or networks of the checker's own sent as layers and weights), within `budget`."""
        what = f"{cell + ' ' if cell else ''}셀을 다시 실행하는 데"
        with self.budgeted(None, what):
            reply = self.ask("rerun", budget=budget, source=source,
                             overrides={k: self.send(v) for k, v in (overrides or {}).items()},
                             drop=list(drop))
        return Rerun(self, reply["scope"], self.noted(_student_error(reply.get("error"), budget, what)),
                     {k: self.receive(v) for k, v in reply.get("overrides", {}).items()})


@dataclass(frozen=True)
class TorchFunction:
    """A torch function put in the kernel by name (so no code travels), e.g. as a stand-in."""
    dotted: str


def dumps(message: dict) -> str:
    return json.dumps(message, ensure_ascii=True)


def stdio_transport(protocol_in, protocol_out) -> PipeKernel:
    def send(message: dict) -> None:
        protocol_out.write(dumps(message) + "\n")
        protocol_out.flush()

    def receive() -> dict:
        line = protocol_in.readline()
        if not line:
            sys.exit(0)  # nbgrader's side went away
        return json.loads(line)

    return PipeKernel(send, receive)
