"""The grading agent: the only kit code that runs in a student's grading kernel.

The hidden checks run in a separate checker process (dropout_kit.checks). They reach the
student's kernel only through the requests answered here: the value of a name, a call of
the student's function on the checker's inputs, a forward pass of a module, a re-run of a
cell's source (the checker sends the source, taken from nbgrader's copy of the submission).
Answers are plain data: tensors, numbers, strings, lists and dicts, serialized with
torch.save and read back with torch.load(weights_only=True); anything else is described
by its type, not sent.

This file holds no check and no answer, and it is self-contained: nbgrader's side sends its
source to the kernel (dropout_kit.engine.broker) right after the kernel starts, before any student
code, so the kernel needs torch and nothing of the kit. Requests and answers travel as the
binary buffers of Jupyter messages.

A student's code can reach everything in this process, this agent included, so nothing it
reports about itself is evidence: no trace of torch calls, no mode flag, no count of rows.
It hands out values (tensors, state dicts, numbers) that the checker compares with its own
computation, so a lying kernel has to produce the correct values to pass. Student code runs
here the way it runs in the notebook: forward passes and calls with autograd on, re-runs in
the kernel's own namespace dict (see op_rerun).
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import io
import re
import sys
import types
import warnings

import torch

REPLY_MIME = "application/vnd.dropout-kit.reply+json"
# A torch operator the checks forbade was entered (see Agent.forbidding): sent out of the
# kernel at once, before the operator raises, so the student's code cannot take it back.
ENTERED_MIME = "application/vnd.dropout-kit.entered+json"
USER = "user"  # the scope of the kernel's own namespace


def encode(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def decode(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def type_names(obj) -> list[str]:
    return [f"{t.__module__}.{t.__qualname__}" for t in type(obj).__mro__]


def error_of(error: BaseException) -> dict:
    return {"type": type(error).__name__, "message": str(error)[:2000]}


def student_error(error: BaseException) -> dict:
    """An exception of the student's code, whatever its base class (pytest.skip raises a
    BaseException); only the interrupt nbgrader's side sends at a time limit goes through."""
    if isinstance(error, KeyboardInterrupt):
        raise error
    return error_of(error)


def _keys_with_kernel(op: str) -> list[str]:
    """Every dispatch key that has a kernel for the aten operator `op` (functorch's vmap
    keys included: vmap has dropout rules of its own)."""
    found = []
    for key in dir(torch._C.DispatchKey):
        if key.startswith("_"):
            continue
        with contextlib.suppress(Exception):  # a key name this build does not know
            if torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", key):
                found.append(key)
    return found


# Names IPython keeps in the user namespace (input and output history, its helpers) and
# dunders: a re-run leaves them as they are, never copies or replaces them.
_KERNEL_NAMES = re.compile(r"(In|Out|exit|quit|get_ipython|_{1,3}|_i{1,3}|_[io]h|_dh|_i?\d+|__\w*__)")
# Values a cell cannot change in place (or that are code, shared by the live and the re-run).
_SHARED = (type(None), bool, int, float, complex, str, bytes, range, type, types.ModuleType,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def _private_copies(namespace: dict, drop=()) -> dict:
    """The namespace less `drop`, with each value a cell could change in place (tensors,
    modules, optimizers, containers, instances) deep-copied, all with one memo so that what the
    live values share (a net's parameters and its optimizer, a view and its base) the
    copies share too. A value that cannot be copied (a tensor inside an autograd graph)
    stays the live one."""
    memo: dict = {id(namespace): namespace}  # a value that refers to the namespace keeps it
    copies = {}
    for name, value in namespace.items():
        if name in drop:
            continue
        if isinstance(value, _SHARED) or _KERNEL_NAMES.fullmatch(name) or value is namespace:
            copies[name] = value
            continue
        try:
            copies[name] = copy.deepcopy(value, memo)
        except Exception:
            copies[name] = value
    return copies


def _build_module(spec: dict) -> torch.nn.Module:
    """A torch.nn module from {"nn": class name, "args": [...], "layers": [specs]}, its
    state and its mode: how the checker hands networks of its own to the student's code."""
    cls = getattr(torch.nn, spec["nn"])
    if spec.get("layers") is not None:
        module = cls(*(_build_module(layer) for layer in spec["layers"]))
    else:
        module = cls(*spec.get("args", ()))
    if spec.get("state"):
        module.load_state_dict(spec["state"])
    module.train(spec.get("training", True))
    return module


class Agent:
    """Answers the checker's requests against one namespace (the kernel's user_ns)."""

    def __init__(self, namespace: dict, quiet: bool = False):
        self.namespace = namespace
        # In the grading kernel the student's output during a request goes to that request,
        # whose output nbgrader's side drops; `quiet` (an agent in the checker's own process)
        # swallows it here instead.
        self.quiet = quiet
        # Python's builtins as they were when the agent started (nbgrader's side starts it
        # before the student's first cell): put back while a request runs, so a student's
        # patched isinstance cannot bend the agent, torch's own Python code or the checks.
        self.pristine = dict(builtins.__dict__)
        self.scopes: dict[str, dict] = {USER: namespace}
        self.refs: dict[int, object] = {}
        self._rng_saved = []
        self._bound = []
        # Where a forbidden operator's entry is told (serve: a message out of the kernel);
        # here, for an agent in the checker's own process, the reply carries them.
        self.entered: list[str] = []
        self.tell_entered = self.entered.append
        self._kernel_keys: dict[str, list[str]] = {}  # aten operator → its dispatch keys

    # -- plain data out ---------------------------------------------------------------
    def plain(self, obj, depth: int = 0):
        """`obj` as data the checker can load, or a description with a reference."""
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if type(obj) is not bool and isinstance(obj, (int, float)):  # numpy.float64 …: the value
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                return (float.__float__ if isinstance(obj, float) else int.__index__)(obj)
        if isinstance(obj, torch.Tensor) and type(obj) is torch.Tensor or isinstance(obj, torch.nn.Parameter):
            return {"tensor": obj.detach().clone(), "requires_grad": bool(obj.requires_grad),
                    "grad_fn": obj.grad_fn is not None}
        if depth < 3 and type(obj) in (list, tuple) and len(obj) <= 1000:
            return {"sequence": [self.plain(item, depth + 1) for item in obj],
                    "tuple": type(obj) is tuple}
        if depth < 3 and type(obj) is dict and len(obj) <= 1000 and all(isinstance(k, str) for k in obj):
            return {"mapping": {k: self.plain(v, depth + 1) for k, v in obj.items()}}
        self.refs[id(obj)] = obj
        return {"ref": id(obj), "types": type_names(obj), "callable": callable(obj)}

    def value_in(self, value):
        """A value sent by the checker, made live: tensors, numbers, modules built from specs."""
        if isinstance(value, dict):
            if "tensor" in value:
                tensor = value["tensor"].clone()
                return tensor.requires_grad_(True) if value.get("requires_grad") else tensor
            if "nn" in value:
                return _build_module(value)
            if "ref" in value:
                return self.refs[value["ref"]]
            if "torch" in value:  # a torch function by dotted name, e.g. torch.nn.functional.dropout
                target = torch
                for part in value["torch"].split(".")[1:]:
                    target = getattr(target, part)
                return target
            if "mapping" in value:
                return {k: self.value_in(v) for k, v in value["mapping"].items()}
        if isinstance(value, list):
            return [self.value_in(v) for v in value]
        return value

    # -- the requests -----------------------------------------------------------------
    def answer(self, request: dict) -> dict:
        """The answer to `request` ({"op", "args"}), after the requests in its "before"."""
        del self.entered[:]
        with self._pristine_builtins(), self._quiet():
            for name, args in request.get("before", ()):
                self._run(name, args)
            reply = self._run(request.get("op", ""), request.get("args", {}))
        if self.entered and isinstance(reply, dict):
            reply["entered"] = list(self.entered)
        return reply

    def _run(self, name: str, args: dict) -> dict:
        op = getattr(self, "op_" + name, None)
        if op is None:
            return {"error": {"type": "UnknownRequest", "message": str(name)}}
        return op(**args)

    @contextlib.contextmanager
    def _quiet(self):
        if not self.quiet:
            yield
            return
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield

    @contextlib.contextmanager
    def _pristine_builtins(self):
        current = builtins.__dict__
        patched = {k: current[k] for k, v in self.pristine.items() if k in current and current[k] is not v}
        current.update({k: self.pristine[k] for k in patched})
        try:
            yield
        finally:
            current.update(patched)

    def op_has(self, name: str, scope: str = USER) -> dict:
        return {"value": name in self.scopes[scope]}

    def op_get(self, name: str, scope: str = USER) -> dict:
        namespace = self.scopes[scope]
        if name not in namespace:
            return {"missing": True}
        return {"value": self.plain(namespace[name])}

    def op_rng(self, seed: int | None = None) -> dict:
        """seed: torch's global random state saved and seeded; None: the saved state back."""
        if seed is not None:
            self._rng_saved.append(torch.random.get_rng_state())
            torch.manual_seed(seed)
        elif self._rng_saved:
            torch.random.set_rng_state(self._rng_saved.pop())
        return {}

    def op_bind(self, name: str, value, scope: str = USER) -> dict:
        """Puts `value` at `name` until op_unbind (e.g. a correct function in place of the
        student's, while another part is judged)."""
        namespace = self.scopes[scope]
        self._bound.append((namespace, name, name in namespace, namespace.get(name)))
        namespace[name] = self.value_in(value)
        return {}

    def op_unbind(self) -> dict:
        if self._bound:
            namespace, name, existed, old = self._bound.pop()
            if existed:
                namespace[name] = old
            else:
                namespace.pop(name, None)
        return {}

    @contextlib.contextmanager
    def forbidding(self, ops=()):
        """torch operators `ops` (aten names) blocked at the dispatcher, for every dispatch key
        that has a kernel for them, while the block runs: entering one is told at once
        (tell_entered) and raises. The registrations are removed afterwards, which puts
        torch's own kernels back."""
        if not ops:
            yield
            return
        library = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Overriding a previously registered kernel"
                library = torch.library.Library("aten", "IMPL")
                for op in ops:
                    if op not in self._kernel_keys:
                        self._kernel_keys[op] = _keys_with_kernel(op)
                    for key in self._kernel_keys[op]:
                        library.impl(op, self._forbidden(op), key)
            yield
        finally:
            if library is not None:
                library._destroy()

    def _forbidden(self, op: str):
        def entered(*args, **kwargs):
            self.tell_entered(op)
            raise RuntimeError(f"torch.{op} 은(는) 이 검사에서 쓸 수 없습니다.")
        return entered

    def op_call(self, ref: int, args=(), kwargs=None, backward: bool = False,
                return_args: bool = False, forbid=()) -> dict:
        """Calls a function of the student's (autograd on, as in the notebook); optionally
        back-propagates the sum of its result and returns the arguments after the call.
        Torch operators in `forbid` are blocked during the call (forbidding)."""
        with self.forbidding(forbid):
            return self._call(ref, args, kwargs, backward, return_args)

    def _call(self, ref: int, args, kwargs, backward: bool, return_args: bool) -> dict:
        leaves = [self.value_in(a) for a in args]
        # A tensor that needs a gradient goes in as a copy of a leaf (as `x.clone()` in
        # the caller's code would): in-place operations on it work, gradients reach the leaf.
        live = [a.clone() if isinstance(a, torch.Tensor) and a.requires_grad else a for a in leaves]
        live_kwargs = {k: self.value_in(v) for k, v in (kwargs or {}).items()}
        reply: dict = {}
        try:
            result = self.refs[ref](*live, **live_kwargs)
            reply["value"] = self.plain(result)
            if backward and isinstance(result, torch.Tensor) and result.requires_grad:
                result.sum().backward()
                reply["grads"] = [a.grad.clone() if isinstance(a, torch.Tensor) and a.grad is not None
                                  else None for a in leaves]
        except BaseException as error:
            reply["error"] = student_error(error)
        if return_args:
            reply["args"] = [self.plain(a) for a in live]
        return reply

    def op_calls(self, ref: int, calls=(), forbid=(), **options) -> dict:
        """Several calls in one request, in order ({"args", "kwargs"} each)."""
        with self.forbidding(forbid):
            return {"calls": [self._call(ref, call.get("args", ()), call.get("kwargs"),
                                         options.get("backward", False), options.get("return_args", False))
                              for call in calls]}

    def op_describe(self, ref: int) -> dict:
        """A module's layers (path, class, mode, Linear sizes: what the module says of itself,
        for the wording of messages) and its state dict (values the checker computes with)."""
        module = self.refs[ref]
        layers = []
        for path, sub in module.named_modules():
            layers.append({"path": path, "types": type_names(sub), "training": bool(sub.training),
                           "in_features": getattr(sub, "in_features", None),
                           "out_features": getattr(sub, "out_features", None)})
        state = {k: v.detach().clone() for k, v in module.state_dict().items()
                 if isinstance(v, torch.Tensor)}
        return {"layers": layers, "state": state}

    def op_forward(self, ref: int, inputs, training: bool | None = None, record=(),
                   repeat: int = 1) -> dict:
        """`repeat` passes of a module on `inputs`, with autograd on as in training (the
        outputs go out detached), in the given mode (None: the module's current one; the
        modes are restored afterwards), recording the first input and the output of the
        submodules at the paths in `record`."""
        module = self.refs[ref]
        x = self.value_in(inputs)
        seen: dict = {}
        by_path = dict(module.named_modules())

        def recorder(path):
            def hook(_module, args, out):
                if path not in seen:
                    seen[path] = {"input": self.plain(args[0] if args else None), "output": self.plain(out)}
            return hook

        hooks = [by_path[p].register_forward_hook(recorder(p)) for p in record if p in by_path]
        modes = {m: m.training for m in module.modules()}
        outputs = []
        try:
            if training is not None:
                module.train(training)
            for _ in range(repeat):
                outputs.append(self.plain(module(x)))
        except BaseException as error:
            return {"error": student_error(error)}
        finally:
            for hook in hooks:
                hook.remove()
            for sub, mode in modes.items():
                sub.training = mode
        return {"outputs": outputs, "records": seen}

    def op_rerun(self, source: str, overrides=None, drop=()) -> dict:
        """Runs a cell's source again in the kernel's own namespace dict, as the notebook ran
        it (`globals()` is the kernel's user namespace), on private copies of the live values
        (_private_copies), less `drop`, plus `overrides`. Afterwards the namespace holds
        exactly what it held before (the same objects under the same names, nothing added);
        what the re-run left is kept as a scope of its own for the checker's requests. Its
        figures are closed; its error is returned."""
        from IPython.core.inputtransformer2 import TransformerManager

        namespace = self.namespace
        live = {k: self.value_in(v) for k, v in (overrides or {}).items()}
        before = dict(namespace)
        figures = _figure_numbers()
        error = None
        try:
            rerun = _private_copies(namespace, drop)
            rerun.update(live)
            namespace.clear()
            namespace.update(rerun)
            code = compile(TransformerManager().transform_cell(source), "<student>", "exec")
            exec(code, namespace)
        except BaseException as caught:
            error = student_error(caught)
        finally:
            left = dict(namespace)
            namespace.clear()
            namespace.update(before)
            _close_new_figures(figures)
        key = f"rerun-{len(self.scopes)}"
        self.scopes[key] = left
        return {"scope": key, "error": error,
                "overrides": {k: self.plain(v) for k, v in live.items() if isinstance(v, torch.nn.Module)}}

    def op_reset(self) -> dict:
        """Forgets the previous cell's re-runs and references."""
        self.scopes = {USER: self.namespace}
        self.refs.clear()
        return {}

    def op_settle(self) -> dict:
        """Undoes what the checks may have left after an interrupted request: every binding
        (op_bind) and every seeding (op_rng) taken back, innermost first; then op_reset."""
        while self._bound:
            self.op_unbind()
        if self._rng_saved:
            torch.random.set_rng_state(self._rng_saved[0])
            self._rng_saved.clear()
        return self.op_reset()


def _figure_numbers() -> set:
    plt = sys.modules.get("matplotlib.pyplot")
    return set(plt.get_fignums()) if plt is not None else set()


def _close_new_figures(before: set) -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def serve(agent: Agent, kernel, nonce: str) -> None:
    """Answers the request that nbgrader's side sent as the binary buffer of the current
    execute request; the answer goes out as the buffer of a display message of REPLY_MIME.
    (Buffers, not text in the code: IPython's input transformers take ~4 ms per 10 kB of code.)"""
    parent = kernel.get_parent("shell")

    def tell_entered(op: str) -> None:
        content = {"data": {ENTERED_MIME: {"nonce": nonce, "op": str(op)}}, "metadata": {}, "transient": {}}
        kernel.session.send(kernel.iopub_socket, "display_data", content, parent=parent,
                            ident=kernel._topic("display_data"))

    agent.tell_entered = tell_entered
    try:
        buffer = parent["buffers"][0]
        reply = agent.answer(decode(buffer.tobytes() if isinstance(buffer, memoryview) else bytes(buffer)))
    except Exception as error:  # a broken request or a namespace the student broke
        reply = {"error": error_of(error)}
    try:
        data = encode(reply)
    except Exception as error:
        data = encode({"error": error_of(error)})
    content = {"data": {REPLY_MIME: {"nonce": nonce}}, "metadata": {}, "transient": {}}
    kernel.session.send(kernel.iopub_socket, "display_data", content, parent=parent,
                        ident=kernel._topic("display_data"), buffers=[data])
