"""The "hand-written" rule, judged on source: does `my_dropout` reach torch's own dropout?

The assignment asks for `my_dropout(x, p, training=True)` written by hand; delegating to
torch's dropout earns no credit. The rule reads the code cells up to the my_dropout cell
(nbgrader's copy, transformed as IPython runs them) with `ast`, never running them, and
follows what the function can reach: its body, its default arguments and decorators, the
helper functions, lambdas, classes and aliases it uses (across cells, transitively).

`uses` names torch's dropouts reached (the part fails); `unresolved` lists, with their
lines, what a reading cannot follow: names built at run time (getattr with a computed
name, `vars(F)[...]`, `F.__dict__`, importlib), eval/exec, calls of names no cell defines,
code of modules the notebook does not hold. Those go to a person.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from functools import lru_cache

from dropout_kit.integrity.scan import (
    BUILTIN_NAMES,
    PYTHON_MAGICS,
    ParsedCell,
    code_line,
    magic_rule,
    parse_cell,
    python_code_of_magic,
    string_literal,
)

# -- the rules ----------------------------------------------------------------------------
# torch's dropout family, as dotted names (a name under one of these counts too: the
# module torch.nn.modules.dropout, torch.nn.functional.dropout.__wrapped__).
DROPOUT_FAMILY: tuple[str, ...] = (
    *(f"torch.nn.functional.{name}" for name in (
        "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")),
    *(f"torch.{name}" for name in (
        "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_dropout", "feature_dropout_",
        "feature_alpha_dropout", "feature_alpha_dropout_", "native_dropout")),
    *(f"torch.nn.{name}" for name in (
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")),
    "torch.nn.modules.dropout",
)
# Besides the family, any torch name with "dropout" in it: torch._VF.dropout,
# torch.ops.aten.native_dropout, torch._fused_dropout, torch.nn.modules.Dropout ...
DROPOUT_WORD = "dropout"

# torch functions and layers that apply dropout themselves when given a probability:
# whether they drop cannot be read from the call's arguments in general.
DROPOUT_CARRIERS: tuple[str, ...] = (
    "torch.nn.functional.scaled_dot_product_attention", "torch.nn.functional.multi_head_attention_forward",
    "torch.nn.MultiheadAttention", "torch.nn.Transformer", "torch.nn.TransformerEncoderLayer",
    "torch.nn.TransformerDecoderLayer", "torch.nn.TransformerEncoder", "torch.nn.TransformerDecoder",
    "torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU",
)

# Modules whose code is known not to reach torch's dropout: the standard library and the
# numeric libraries a student may use. Any other module's code is not in the notebook.
READABLE_ROOTS = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset({
    "builtins", "torch", "numpy", "scipy", "pandas", "matplotlib", "tqdm", "sklearn", "seaborn", "PIL"})

# Calls whose result the reading follows by its arguments' literal names.
GETATTR_CALLS = frozenset({"builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__"})
IMPORT_CALLS = frozenset({"importlib.import_module", "builtins.__import__"})
CODE_CALLS = frozenset({"builtins.eval", "builtins.exec", "builtins.compile"})
NAMESPACE_CALLS = frozenset({"builtins.globals", "builtins.locals", "builtins.vars"})
NAME_GETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
# Methods that put their arguments into a container (fns.append(F.dropout)).
MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "setdefault", "__setitem__", "appendleft"})
# What runs in the user namespace when a cell magic wraps the code (not %%timeit: a function).
NAMESPACE_MAGICS = frozenset({"time", "capture", "prun", "debug"})
# Names IPython puts in every kernel's namespace.
IPYTHON_NAMES = frozenset({"display", "In", "Out", "exit", "quit", "_ih", "_oh", "_dh", "_", "__", "___"})
MAX_STEPS = 200_000  # reading steps for one notebook: beyond, the code is too intricate to read


@dataclass(frozen=True)
class DropoutUse:
    uses: tuple[str, ...]  # dotted names of torch's dropouts reached (definite): the part fails
    unresolved: tuple[str, ...]  # evidence lines of what could not be followed statically
    defined: bool  # whether a definition of the function was found at all


def dropout_use(sources: list[str], function: str = "my_dropout") -> DropoutUse:
    """What `function` (its last top-level binding in `sources`, the code cells up to and
    including its cell, in notebook order) reaches of torch's dropout."""
    try:
        return _Program(sources).follow(function)
    except RecursionError:  # parses, but deeper than the reading's own recursion goes
        return DropoutUse((), (f"code nested too deeply to read in cells 0–{len(sources) - 1}",), False)


@lru_cache(maxsize=1)
def tensor_dropout_methods() -> frozenset[str]:
    """Tensor methods named like a dropout (none in torch 2.x)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return frozenset()
    return frozenset(name for name in dir(torch.Tensor) if DROPOUT_WORD in name.lower())


def dropout_name(path: str) -> str | None:
    """The dropout `path` names (cut after its dropout part), or None."""
    for member in DROPOUT_FAMILY:
        if path == member or path.startswith(member + "."):
            return member
    parts = path.split(".")
    if parts[0] == "torch":
        for i, part in enumerate(parts[1:], start=1):
            if DROPOUT_WORD in part.lower():
                return ".".join(parts[:i + 1])
    return None


def carrier_name(path: str) -> str | None:
    return next((c for c in DROPOUT_CARRIERS if path == c or path.startswith(c + ".")), None)


# -- what an expression can stand for ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Scope:
    """A function, lambda, class, comprehension or the notebook's namespace."""
    kind: str  # "module", "function", "class", "comprehension"
    parent: _Scope | None
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)

    def bind(self, name: str, binding: _Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)


@dataclass(frozen=True)
class _Code:
    """A function, lambda or class of the notebook; `scope` is where it is defined."""
    node: ast.AST
    scope: _Scope


@dataclass(frozen=True)
class _Unknown:
    evidence: str


class _Namespace:
    """What globals(), locals() or vars() return: names looked up by strings."""


class _NamespaceGet:
    """The namespace's get, __getitem__, setdefault or pop."""


NAMESPACE, NAMESPACE_GET = _Namespace(), _NamespaceGet()


@dataclass(frozen=True, eq=False)
class _Binding:
    """What a name is bound to: an expression (or the elements of an iterable) read in
    `scope`, a library path, code, a parameter's default, or a plain value (None)."""
    kind: str  # "expr", "path", "code", "def", "param", "value"
    node: ast.AST | None = None
    scope: _Scope | None = None
    path: str = ""
    code: _Code | None = None
    unconditional: bool = False  # at a cell's top level, not inside if/for/while/except


# -- the notebook read ----------------------------------------------------------------------
class _Program:
    def __init__(self, sources: list[str]):
        self.sources = [s if isinstance(s, str) else "".join(s) for s in sources]
        self.module = _Scope("module", None)
        self.scope_of: dict[int, _Scope] = {}  # id(node) -> the scope its names are read in
        self.location: dict[int, tuple[int, ParsedCell, int]] = {}  # id(node) -> cell, parse, first line
        self.attribute_stores: dict[str, list[tuple[ast.AST, _Scope]]] = {}
        self.pending_mutations: list[tuple[str, ast.AST, _Scope]] = []
        self.definers: list[tuple[str, ast.AST]] = []  # code that may bind any name (exec, %run ...)
        self.trees: list[ast.AST] = []
        self.steps = 0
        self.memo: dict[tuple[int, int], frozenset] = {}
        self.active: set[tuple[int, int]] = set()
        self.cycle = False
        for index, source in enumerate(self.sources):
            parsed = parse_cell(source)
            if parsed is not None:
                self._read_cell(index, parsed, 1)
        for name, value, scope in self.pending_mutations:
            owner = self.owner(name, scope) or self.module
            owner.bind(name, _Binding("expr", value, scope))

    # where things are
    def _locate(self, tree: ast.AST, cell: int, parsed: ParsedCell, first: int) -> None:
        for node in ast.walk(tree):
            self.location[id(node)] = (cell, parsed, first)

    def evidence(self, construct: str, node: ast.AST) -> str:
        cell, parsed, first = self.location.get(id(node), (-1, None, 1))
        if parsed is None:
            return construct
        line = first + parsed.original_line(getattr(node, "lineno", 1)) - 1
        return f"{construct} — cell {cell}, line {line}: {code_line(self.sources[cell].splitlines(), line)}"

    def _read_cell(self, cell: int, parsed: ParsedCell, first: int) -> None:
        self._locate(parsed.tree, cell, parsed, first)
        self.trees.append(parsed.tree)
        _Binder(self, cell, parsed, first).statements(parsed.tree.body, self.module, True)

    # names
    def owner(self, name: str, scope: _Scope) -> _Scope | None:
        """The scope whose binding of `name` a read in `scope` sees (Python's rules)."""
        current, first = scope, True
        while current is not None:
            if name in current.declared_global:
                return self.module if name in self.module.bindings else None
            if name in current.bindings and (first or current.kind != "class"):
                return current
            first = False
            current = current.parent
        return None

    def live(self, name: str, scope: _Scope) -> list[_Binding]:
        """The bindings a later read of `name` may see: in a function all of them; in the
        notebook's namespace those from the last unconditional one on."""
        bindings = scope.bindings.get(name, [])
        if scope.kind != "module":
            return bindings
        last = max((i for i, b in enumerate(bindings) if b.unconditional), default=0)
        return bindings[last:]

    # reading expressions
    def reach(self, node: ast.AST, scope: _Scope) -> frozenset:
        key = (id(node), id(scope))
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            self.cycle = True
            return frozenset()
        self.steps += 1
        if self.steps > MAX_STEPS:
            return frozenset({_Unknown(self.evidence("code too intricate to read", node))})
        self.active.add(key)
        outer_cycle, self.cycle = self.cycle, False
        try:
            result = frozenset(self._reach(node, scope))
        finally:
            self.active.discard(key)
        if not self.cycle:
            self.memo[key] = result
        self.cycle = self.cycle or outer_cycle
        return result

    def _reach(self, node: ast.AST, scope: _Scope) -> set:
        if isinstance(node, ast.Name):
            return self.reach_name(node, scope)
        if isinstance(node, ast.Attribute):
            return self.reach_attribute(node, scope)
        if isinstance(node, ast.Call):
            return self.reach_call(node, scope)
        if isinstance(node, ast.Subscript):
            return self.reach_subscript(node, scope)
        if isinstance(node, ast.Lambda):
            return {_Code(node, scope)}
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return set().union(*(self.reach(e, scope) for e in node.elts))
        if isinstance(node, ast.Dict):
            return set().union(*(self.reach(v, scope) for v in node.values))
        if isinstance(node, ast.IfExp):
            return set(self.reach(node.body, scope) | self.reach(node.orelse, scope))
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.reach(v, scope) for v in node.values))
        if isinstance(node, (ast.NamedExpr, ast.Starred, ast.Await)):
            return set(self.reach(node.value, scope))
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return set(self.reach(node.elt, self.scope_of.get(id(node.elt), scope)))
        if isinstance(node, ast.DictComp):
            return set(self.reach(node.value, self.scope_of.get(id(node.value), scope)))
        return set()  # constants, arithmetic, comparisons: plain values

    def reach_name(self, node: ast.Name, scope: _Scope) -> set:
        owner = self.owner(node.id, scope)
        if owner is None:
            if node.id == "get_ipython":
                return {_Unknown(self.evidence("get_ipython() (the kernel's shell)", node))}
            return {f"builtins.{node.id}"} if node.id in BUILTIN_NAMES else set()
        found: set = set()
        for binding in self.live(node.id, owner):
            found |= self.reach_binding(binding)
        return found

    def reach_binding(self, binding: _Binding) -> set:
        if binding.kind == "path":
            return {binding.path}
        if binding.kind == "code":
            return {binding.code}
        if binding.kind == "def":  # the function as its decorators return it
            found: set = {binding.code}
            for decorator in binding.code.node.decorator_list:
                found |= self.call_result(self.reach(decorator, binding.scope), None, binding.scope)
            return found
        if binding.kind in ("expr", "param") and binding.node is not None:
            return set(self.reach(binding.node, binding.scope))
        return set()

    def reach_attribute(self, node: ast.Attribute, scope: _Scope) -> set:
        found: set = set()
        for target in self.reach(node.value, scope):
            if isinstance(target, str):
                if node.attr == "__dict__" and not target.startswith("builtins."):
                    found.add(_Unknown(self.evidence(f"{target}.__dict__ (names read at run time)", node)))
                else:
                    found.add(f"{target}.{node.attr}")
            elif isinstance(target, (_Code, _Unknown)):
                found.add(target)
            elif target is NAMESPACE:
                found.add(NAMESPACE_GET if node.attr in ("get", "__getitem__", "setdefault", "pop")
                          else _Unknown(self.evidence("the namespace searched (globals(), vars())", node)))
        for value, value_scope in self.attribute_stores.get(node.attr, ()):
            found |= self.reach(value, value_scope)
        if node.attr in tensor_dropout_methods():
            found.add(f"torch.Tensor.{node.attr}")
        return found

    def reach_subscript(self, node: ast.Subscript, scope: _Scope) -> set:
        found: set = set()
        key = string_literal(node.slice)
        for target in self.reach(node.value, scope):
            if target is NAMESPACE:
                found |= self.module_name(key, node)
            elif target == "sys.modules":
                found.add(key if key else _Unknown(self.evidence("sys.modules[…] with a computed name", node)))
            elif not isinstance(target, _NamespaceGet):
                found.add(target)  # a container holds what was put in it
        return found

    def module_name(self, name: str | None, node: ast.AST) -> set:
        """A name looked up in the notebook's namespace by a string (globals()["F"])."""
        if name is None:
            return {_Unknown(self.evidence("a name looked up by a computed string (globals()[…])", node))}
        return self.reach_name(ast.Name(id=name, ctx=ast.Load()), self.module)

    def reach_call(self, node: ast.Call, scope: _Scope) -> set:
        found = self.call_result(self.reach(node.func, scope), node, scope)
        for argument in [*node.args, *(kw.value for kw in node.keywords)]:
            found |= self.reach(argument, scope)  # a call may return what it is given
        return found

    def call_result(self, functions: frozenset | set, node: ast.Call | None, scope: _Scope) -> set:
        """What calling any of `functions` (with `node`'s arguments, None: unknown) returns."""
        found: set = set()
        args = node.args if node is not None else []
        for function in functions:
            if isinstance(function, str):
                found |= self.library_call(function, node, args, scope)
            elif isinstance(function, _Code) and isinstance(function.node, ast.ClassDef):
                found.add(function)  # an instance: its methods are the class's code
            elif isinstance(function, _Code):
                found |= self.returns(function)
            elif isinstance(function, _Unknown):
                found.add(function)
            elif function is NAMESPACE_GET and node is not None:
                found |= self.module_name(string_literal(args[0]) if args else None, node)
        return found

    def library_call(self, path: str, node: ast.Call | None, args: list, scope: _Scope) -> set:
        where = node if node is not None else ast.Pass()
        owner, name = path.rsplit(".", 1) if "." in path else ("", path)
        if path in GETATTR_CALLS:  # getattr(F, "dropout"), object.__getattribute__(F, "dropout")
            return self.attribute_by_name(self.reach(args[0], scope) if args else set(),
                                          args[1] if len(args) > 1 else None, where)
        if name in ("__getattribute__", "__getattr__"):  # F.__getattribute__("dropout")
            return self.attribute_by_name({owner}, args[0] if args else None, where)
        if path in IMPORT_CALLS:
            literal = string_literal(args[0]) if args else None
            return {literal} if literal else {_Unknown(self.evidence("a module imported by a computed name", where))}
        if path in CODE_CALLS:
            return {_Unknown(self.evidence(f"{name}() runs code given as a string", where))}
        if path in NAMESPACE_CALLS:
            if args:
                owners = [b for b in self.reach(args[0], scope) if isinstance(b, str)]
                return {_Unknown(self.evidence(f"vars({o}) (names read at run time)", where)) for o in owners}
            return {NAMESPACE}
        if path in NAME_GETTERS:
            return {_Unknown(self.evidence(f"{path} (an attribute by its name)", where))}
        dropout = dropout_name(path)
        return {dropout} if dropout else set()

    def attribute_by_name(self, bases, name: ast.AST | None, where: ast.AST) -> set:
        """An attribute of `bases` by the name `name` evaluates to (plain values: a method of a
        value, nothing to follow)."""
        bases = {b for b in bases if isinstance(b, (str, _Code, _Unknown))}
        literal = string_literal(name)
        if literal is not None:
            return {f"{b}.{literal}" if isinstance(b, str) else b for b in bases}
        if not bases:
            return set()
        shown = ", ".join(sorted(b for b in bases if isinstance(b, str))) or "an object of the notebook"
        return {_Unknown(self.evidence(f"getattr with a computed name on {shown}", where))}

    def returns(self, code: _Code) -> set:
        """What a function or lambda of the notebook returns."""
        own = self.scope_of.get(id(code.node))
        if own is None:
            return set()
        if isinstance(code.node, ast.Lambda):
            return set(self.reach(code.node.body, own))
        found: set = set()
        for node in _own_nodes(code.node.body):
            if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and node.value is not None:
                found |= self.reach(node.value, own)
        return found

    # following my_dropout
    def follow(self, function: str) -> DropoutUse:
        bindings = self.live(function, self.module)
        if not bindings:
            evidence = [f"no top-level definition of {function} in cells 0–{len(self.sources) - 1}"]
            evidence += [self.evidence(f"{construct} (may define {function})", node)
                         for construct, node in self.definers]
            return DropoutUse((), tuple(dict.fromkeys(evidence)), False)
        follower = _Follower(self)
        for binding in bindings:  # a def's code is walked from the queue, decorators included
            follower.reached(self.reach_binding(binding), binding.node or ast.Pass())
            if binding.kind == "expr" and binding.node is not None:
                follower.walk(binding.node, binding.scope)
        follower.run()
        return DropoutUse(tuple(sorted(follower.uses)), tuple(dict.fromkeys(follower.unresolved)), True)


def _own_nodes(body: list[ast.stmt]):
    """The nodes of a function body outside its nested functions and classes."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.append(child)


class _Follower:
    """Walks the code my_dropout reaches, collecting dropouts and what cannot be followed."""

    def __init__(self, program: _Program):
        self.program = program
        self.uses: set[str] = set()
        self.unresolved: list[str] = []
        self.queue: list[_Code] = []
        self.seen: set[int] = set()

    def reached(self, targets, node: ast.AST) -> None:
        for target in targets:
            if isinstance(target, str):
                self._library(target, node)
            elif isinstance(target, _Code):
                if id(target.node) not in self.seen:
                    self.seen.add(id(target.node))
                    self.queue.append(target)
            elif isinstance(target, _Unknown):
                self.unresolved.append(target.evidence)

    def _library(self, path: str, node: ast.AST) -> None:
        dropout = dropout_name(path)
        if dropout:
            self.uses.add(dropout)
        elif carrier_name(path):
            self.unresolved.append(self.program.evidence(
                f"{carrier_name(path)} (applies dropout itself when given a probability)", node))
        elif path.split(".")[0] not in READABLE_ROOTS:
            module = path.split(".")[0]
            self.unresolved.append(self.program.evidence(
                f"{path} from module {module}, whose code is not in the notebook", node))

    def run(self) -> None:
        while self.queue:
            self.walk_definition(self.queue.pop())

    def walk_definition(self, code: _Code) -> None:
        node = code.node
        if isinstance(node, ast.Lambda):
            self.walk_all(node.args.defaults + [d for d in node.args.kw_defaults if d], code.scope)
            self.walk(node.body, self.program.scope_of.get(id(node), code.scope))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.walk_all(node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d],
                          code.scope)
            own = self.program.scope_of.get(id(node), code.scope)
            for statement in node.body:
                self.walk(statement, own)
        elif isinstance(node, ast.ClassDef):
            self.walk_all(node.decorator_list + node.bases + [kw.value for kw in node.keywords], code.scope)
            own = self.program.scope_of.get(id(node), code.scope)
            for statement in node.body:
                self.walk(statement, own)

    def walk_all(self, nodes, scope: _Scope) -> None:
        for node in nodes:
            self.walk(node, scope)

    def walk(self, tree: ast.AST, scope: _Scope) -> None:
        """Every name, attribute, call and subscript in `tree`, read in its own scope."""
        called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        # `a.b.c`: read whole; its prefixes `a.b` and `a` add nothing but repeats
        prefixes = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                    and isinstance(n.value, (ast.Name, ast.Attribute))}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)) or id(node) in prefixes:
                continue
            if isinstance(getattr(node, "ctx", ast.Load()), (ast.Store, ast.Del)):
                continue
            node_scope = self.program.scope_of.get(id(node), scope)
            targets = self.program.reach(node, node_scope)
            self.reached(targets, node)
            if id(node) not in called and (targets & GETATTR_CALLS):
                self.unresolved.append(self.program.evidence("getattr used as a value (names read at run time)", node))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and self.program.owner(node.func.id, node_scope) is None \
                    and node.func.id not in BUILTIN_NAMES and node.func.id not in IPYTHON_NAMES \
                    and node.func.id != "get_ipython":
                self.unresolved.append(self.program.evidence(
                    f"a call of {node.func.id}, which no cell up to here defines", node))


# -- bindings -------------------------------------------------------------------------------
class _Binder:
    """Records what every name of one cell is bound to, scope by scope."""

    def __init__(self, program: _Program, cell: int, parsed: ParsedCell, first: int):
        self.program = program
        self.cell = cell
        self.parsed = parsed
        self.first = first

    def statements(self, body: list[ast.stmt], scope: _Scope, unconditional: bool) -> None:
        for statement in body:
            self.statement(statement, scope, unconditional)

    def statement(self, node: ast.stmt, scope: _Scope, unconditional: bool) -> None:
        top = unconditional and scope.kind == "module"
        if scope.kind == "module" and self._magic(node, unconditional):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.expressions(node.decorator_list, scope)
            if isinstance(node, ast.ClassDef):
                self.expressions(node.bases + [kw.value for kw in node.keywords], scope)
                own = self.new_scope(node, "class", scope)
                self.statements(node.body, own, False)
                self.bind(scope, node.name, _Binding("code", code=_Code(node, scope), unconditional=top))
            else:
                own = self.function_scope(node, node.args, scope)
                self.statements(node.body, own, False)
                kind = "def" if node.decorator_list else "code"
                self.bind(scope, node.name, _Binding(kind, scope=scope, code=_Code(node, scope), unconditional=top))
            return
        if isinstance(node, ast.Global):
            scope.declared_global.update(node.names)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.imports(node, scope, top)
            return
        if isinstance(node, ast.Assign):
            self.expressions([node.value], scope)
            for target in node.targets:
                self.assign(target, node.value, scope, top)
            return
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            if node.value is not None:
                self.expressions([node.value], scope)
                self.assign(node.target, node.value, scope, top and isinstance(node, ast.AnnAssign))
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.expressions([node.iter], scope)
            self.assign(node.target, node.iter, scope, False)
            self.statements(node.body + node.orelse, scope, False)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expressions([item.context_expr], scope)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, item.context_expr, scope, top)
            self.statements(node.body, scope, unconditional)
            return
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.statements(node.body + node.finalbody, scope, unconditional)
            for handler in node.handlers:
                if handler.name:
                    self.bind(scope, handler.name, _Binding("value"))
                self.statements(handler.body, scope, False)
            self.statements(node.orelse, scope, False)
            return
        if isinstance(node, (ast.If, ast.While)):
            self.expressions([node.test], scope)
            self.statements(node.body + node.orelse, scope, False)
            return
        if isinstance(node, ast.Match):
            self.expressions([node.subject], scope)
            for case in node.cases:
                for capture in ast.walk(case.pattern):
                    for name in (getattr(capture, "name", None), getattr(capture, "rest", None)):
                        if isinstance(name, str):
                            self.bind(scope, name, _Binding("value"))
                self.statements(case.body, scope, False)
            return
        self.expressions([node], scope)  # expressions, return, raise, assert, del ...

    def _magic(self, node: ast.stmt, unconditional: bool) -> bool:
        """A top-level magic: the code of %time, %%capture ... read as the cell's own code;
        other magics noted as code that may define anything."""
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name)
                and call.func.value.func.id == "get_ipython"
                and call.func.attr in ("run_line_magic", "run_cell_magic")):
            return False
        literals = [string_literal(a) for a in call.args]
        if None in literals or len(literals) not in (2, 3):
            return False
        name, line = literals[0], literals[1]
        cell = literals[2] if len(literals) == 3 else None
        self.program.location[id(node)] = (self.cell, self.parsed, self.first)
        if name in PYTHON_MAGICS and name not in NAMESPACE_MAGICS:
            return True  # %timeit: its code runs inside a function, binding nothing here
        code = python_code_of_magic(name, line, cell)
        if code is None:
            construct = magic_rule(name, line)
            if construct:
                self.program.definers.append((construct, node))
            return True
        magic_line = self.first + self.parsed.original_line(node.lineno) - 1
        for text, offset in code:
            parsed = parse_cell(text)
            if parsed is None:
                continue
            base = magic_line + offset
            self.program._locate(parsed.tree, self.cell, parsed, base)
            _Binder(self.program, self.cell, parsed, base).statements(parsed.tree.body, self.program.module,
                                                                     unconditional)
        return True

    def new_scope(self, node: ast.AST, kind: str, parent: _Scope) -> _Scope:
        scope = _Scope(kind, parent)
        self.program.scope_of[id(node)] = scope
        return scope

    def function_scope(self, node: ast.AST, arguments: ast.arguments, parent: _Scope) -> _Scope:
        self.expressions(arguments.defaults + [d for d in arguments.kw_defaults if d], parent)
        own = self.new_scope(node, "function", parent)
        if not isinstance(node, ast.Lambda):
            for inner in _own_nodes(node.body):
                if isinstance(inner, ast.Global):
                    own.declared_global.update(inner.names)
        positional = arguments.posonlyargs + arguments.args
        defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
        for arg, default in [*zip(positional, defaults), *zip(arguments.kwonlyargs, arguments.kw_defaults)]:
            own.bind(arg.arg, _Binding("param", default, parent))
        for arg in (arguments.vararg, arguments.kwarg):
            if arg is not None:
                own.bind(arg.arg, _Binding("value"))
        return own

    def bind(self, scope: _Scope, name: str, binding: _Binding) -> None:
        if name in scope.declared_global and scope.kind != "module":
            self.program.module.bind(name, binding)
        else:
            scope.bind(name, binding)

    def imports(self, node: ast.Import | ast.ImportFrom, scope: _Scope, top: bool) -> None:
        for alias in node.names:
            if isinstance(node, ast.Import):
                path = alias.name if alias.asname else alias.name.split(".")[0]
                self.bind(scope, alias.asname or path, _Binding("path", node, path=path, unconditional=top))
            elif alias.name == "*":
                self.program.definers.append((f"from {node.module} import *", node))
            elif node.module and not node.level:
                self.bind(scope, alias.asname or alias.name,
                          _Binding("path", node, path=f"{node.module}.{alias.name}", unconditional=top))

    def assign(self, target: ast.AST, value: ast.AST, scope: _Scope, top: bool) -> None:
        if isinstance(target, ast.Name):
            self.bind(scope, target.id, _Binding("expr", value, scope, unconditional=top))
        elif isinstance(target, (ast.Tuple, ast.List)):
            pairs = isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) \
                and not any(isinstance(e, ast.Starred) for e in target.elts)
            for i, element in enumerate(target.elts):
                self.assign(element, value.elts[i] if pairs else value, scope, top)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, scope, top)
        elif isinstance(target, ast.Attribute):
            self.expressions([target.value], scope)
            self.program.attribute_stores.setdefault(target.attr, []).append((value, scope))
        elif isinstance(target, ast.Subscript):
            self.expressions([target.value, target.slice], scope)
            self._store_item(target, value, scope, top)

    def _store_item(self, target: ast.Subscript, value: ast.AST, scope: _Scope, top: bool) -> None:
        container = target.value
        if isinstance(container, ast.Name):
            self.mutate(container.id, value, scope)
        elif isinstance(container, ast.Call) and isinstance(container.func, ast.Name) \
                and container.func.id in ("globals", "locals", "vars") and not container.args:
            key = string_literal(target.slice)
            if key is None:
                self.program.definers.append(("a name bound by a computed string (globals()[…] = …)", target))
            else:
                self.program.module.bind(key, _Binding("expr", value, scope, unconditional=top))

    def mutate(self, name: str, value: ast.AST, scope: _Scope) -> None:
        """`value` put into the container `name`: in the notebook's namespace, in order (a later
        rebinding replaces it); in a function, once the function's own names are known."""
        if scope.kind == "module":
            self.program.module.bind(name, _Binding("expr", value, scope))
        else:
            self.program.pending_mutations.append((name, value, scope))

    def expressions(self, nodes: list[ast.AST], scope: _Scope) -> None:
        """Scopes of the lambdas and comprehensions in `nodes`, walrus bindings, the
        containers they fill, code that may bind any name; every node's reading scope."""
        for node in nodes:
            self._expression(node, scope)

    def _expression(self, node: ast.AST, scope: _Scope) -> None:
        self.program.scope_of.setdefault(id(node), scope)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.statement(node, scope, False)  # a definition nested in a statement we walk
            return
        if isinstance(node, ast.Lambda):
            own = self.function_scope(node, node.args, scope)
            self._expression(node.body, own)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            own = self.new_scope(node, "comprehension", scope)
            for generator in node.generators:
                self._expression(generator.iter, own)
                self.assign(generator.target, generator.iter, own, False)
                for condition in generator.ifs:
                    self._expression(condition, own)
            for part in ((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)):
                self._expression(part, own)
            return
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            self.bind(scope, node.target.id, _Binding("expr", node.value, scope))
        if isinstance(node, ast.Call):
            self._call(node, scope)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child, scope, False)
            else:
                self._expression(child, scope)

    def _call(self, node: ast.Call, scope: _Scope) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr in MUTATORS:
            for argument in [*node.args, *(kw.value for kw in node.keywords)]:
                self.mutate(func.value.id, argument, scope)
        if isinstance(func, ast.Name) and func.id in ("exec", "eval", "compile", "setattr", "__import__",
                                                     "get_ipython"):
            self.program.definers.append((f"{func.id}(…)", node))
        if isinstance(func, ast.Attribute) and func.attr in ("update", "setdefault", "__setitem__") \
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                and func.value.func.id in ("globals", "locals", "vars") and not func.value.args:
            for kw in node.keywords:
                if kw.arg:
                    self.program.module.bind(kw.arg, _Binding("expr", kw.value, scope))
            if node.args:
                self.program.definers.append(("globals() updated", node))
