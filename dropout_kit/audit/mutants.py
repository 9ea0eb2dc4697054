"""Candidate mutants of an assignment: one small fault each, seeded into the solution region
(between `### BEGIN SOLUTION` and `### END SOLUTION`) of an automatically graded part.

A mutant is the part's reference answer (the whole cell, markers removed, as
dropout_kit.harness.samples.reference_answers gives it) with exactly one source segment
replaced, so the rest of the cell keeps its formatting and comments and its diff shows one
change. Given code outside the markers (a `def` line, a `torch.manual_seed(1)` above the
region) and hand-graded parts are never mutated. A solution cell without markers is all
solution, as nbgrader treats it; a cell that does not parse (IPython magics) gets no mutants.

Where the operators come from. The catalogue is that of cosmic-ray (binary- and
comparison-operator replacement, the number replacer's ±1, the boolean replacer: True/False,
and/or) and of mutmut 3 (`//`, `%` → `/`, `**` → `*`, `@`, bitwise swaps, `is`/`in` negated,
unary `not`/`~` removed, a call's argument removed, numbers +1); `number` extends their ±1
with 0, 1, ×2, ÷2 and −c. Neither is used as a library. mutmut 3 mutates only inside
functions (its trampolines wrap functions, and most notebook cells are top-level code) and
needs a project configuration before it mutates anything; cosmic-ray applies an operator to
the n-th occurrence in a whole module, with no way to confine it to solution lines. Both
bring a parser (libcst, parso) into an environment that is installed in every student's
kernel. So the operators are written here on the stdlib `ast`, whose node positions locate
the one segment to replace. Ours alone: a variable swapped for another one (`name`: inside
a function, another that the function uses; at a cell's top level, one that the cell or the
answers above it use; never a module, a callable or a builtin), slice bounds (`slice`),
statement deletion and removal of a `with` block's context (`statement`), a method call
removed (`call`), adjacent arguments swapped (`argument`). Strings are left alone: mutmut's
`"XX" + s + "XX"` on a plot label or a dict key only breaks a cell or changes nothing graded.
"""
from __future__ import annotations

import ast
import builtins
import functools
import math
import random
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import nbformat

from dropout_kit import cells
from dropout_kit.assignment import Assignment
from dropout_kit.audit.results import Mutant
from dropout_kit.harness.samples import BEGIN, END

OPERATORS = {
    "slice": "a slice bound ±1 or removed, a constant index ±1",
    "number": "a numeric constant c → 0, 1, c+1, c−1, c×2, c÷2, −c",
    "arithmetic": "a binary operator swapped (+↔−, *↔/, /→//, //→/, **→*, %→/, @→*), a unary − or ~ removed",
    "compare": "a comparison replaced by another one (==, !=, <, <=, >, >=; is↔is not, in↔not in)",
    "boolean": "and↔or, `not e` → `e`, True↔False",
    "name": "a variable read replaced by another variable in scope",
    "statement": "a simple statement replaced by `pass`, a `with` block's context removed",
    "call": "a method call removed: `e.method(...)` → `e`",
    "argument": "a call's argument removed, or two adjacent positional arguments swapped",
}
# `slice` comes before `number`: a bound's ±1 is a slice mutant, and the same text found
# again by a later operator is dropped.


def candidates(assignment: Assignment) -> dict[str, list[Mutant]]:
    """Every candidate mutant of each automatically graded part, in notebook order."""
    notebook = nbformat.read(assignment.source_notebook, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    trees = [_parse(cells.source_text(cell)) for cell in code]
    names = _NotebookNames.of([tree for tree in trees if tree is not None])
    found: dict[str, list[Mutant]] = {}
    answered: set[str] = set()  # the globals that the answers above the current cell read or bind
    for cell, tree in zip(code, trees):
        part = cells.grade_id(cell)
        solution = cells.nbgrader_metadata(cell).get("solution")
        if part in assignment.parts and solution:
            answer, region = solution_region(cells.source_text(cell))
            found[part] = cell_mutants(part, answer, region, names, frozenset(answered))
        if tree is not None and solution:
            answered |= _top_level_names(tree)
    return found


def sample(candidates: dict[str, list[Mutant]], per_part: int = 20, seed: int = 0,
           by_operator: bool = True) -> dict[str, list[Mutant]]:
    """`per_part` mutants of each part (all when it has fewer), in candidate order; the same
    seed gives the same sample. By operator (the default): the operators take turns, each
    drawing uniformly from its own candidates, so that the few statement deletions
    (`net.eval()`, `optimizr.zero_grad()`) are not crowded out by the many name swaps and
    numbers, most of which only break the notebook. Otherwise uniform over all candidates."""
    chosen = {}
    for part, mutants in candidates.items():
        rng = random.Random(f"{seed}:{part}")
        if len(mutants) <= per_part:
            picked = range(len(mutants))
        elif not by_operator:
            picked = rng.sample(range(len(mutants)), per_part)
        else:
            pools = [[i for i, m in enumerate(mutants) if m.operator == op] for op in OPERATORS]
            for pool in pools:
                rng.shuffle(pool)
            picked = []
            while len(picked) < per_part:
                for pool in pools:
                    if pool and len(picked) < per_part:
                        picked.append(pool.pop())
        chosen[part] = [mutants[i] for i in sorted(picked)]
    return chosen


def counts(candidates: dict[str, list[Mutant]]) -> dict[str, dict[str, int]]:
    """Part → operator → number of candidates (every operator listed)."""
    return {part: {op: sum(m.operator == op for m in mutants) for op in OPERATORS}
            for part, mutants in candidates.items()}


def solution_region(cell_source: str) -> tuple[str, frozenset[int]]:
    """The cell as an answer (markers removed, as reference_answers does) and the 1-based
    lines of that answer inside the solution region (every line when it has no markers)."""
    kept: list[tuple[str, bool]] = []
    inside, has_markers = False, False
    for line in cell_source.splitlines():
        marker = line.strip()
        if marker in (BEGIN, END):
            inside, has_markers = marker == BEGIN, True
            continue
        kept.append((line, inside))
    joined = "\n".join(line for line, _ in kept)
    answer = joined.strip("\n")
    leading = len(joined) - len(joined.lstrip("\n"))  # empty lines stripped above the answer
    count = answer.count("\n") + 1
    region = frozenset(number for number in range(1, count + 1) if not has_markers or kept[number - 1 + leading][1])
    return answer, region


@dataclass(frozen=True)
class _NotebookNames:
    """What the notebook's code says a name is, when it is not a variable."""
    imported: frozenset[str]  # modules and names brought in by imports
    callables: frozenset[str]  # functions and classes it defines, names it calls

    @classmethod
    def of(cls, trees: list[ast.Module]) -> "_NotebookNames":
        imported, callables = set(), set()
        for node in (node for tree in trees for node in ast.walk(tree)):
            if isinstance(node, ast.Import):
                imported |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {alias.asname or alias.name for alias in node.names}
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                callables.add(node.name)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                callables.add(node.func.id)
        return cls(frozenset(imported), frozenset(callables))

    @functools.cached_property
    def not_variables(self) -> frozenset[str]:
        # A model or a loss function swapped for a tensor only breaks the cell.
        return self.imported | self.callables | frozenset(dir(builtins))


def cell_mutants(part: str, answer: str, region: frozenset[int], names: _NotebookNames | None = None,
                 answered: frozenset[str] = frozenset()) -> list[Mutant]:
    """The mutants of one solution cell's answer, operator by operator, in source order;
    each compiles and differs from the answer and from every earlier one. `answered`: the
    globals that the answers above read or bind (variables a student could confuse)."""
    tree = _parse(answer)
    if tree is None:
        return []
    cell = _Cell(answer, tree, region, names or _NotebookNames.of([tree]), answered)
    seen, mutants = {answer}, []
    for operator, generate in _GENERATORS.items():
        number = 0
        for edit in generate(cell):
            mutated = answer[:edit.start] + edit.text + answer[edit.end:]
            if mutated in seen or not _compiles(mutated):
                continue
            seen.add(mutated)
            number += 1
            mutants.append(Mutant(f"{part}-{operator}-{number}", part, operator, _changed_line(answer, mutated),
                                  edit.description, answer, mutated))
    return mutants


# --- one cell: its tree, its solution lines, source offsets, variables in scope

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class _Edit:
    start: int  # character offsets in the answer
    end: int
    text: str  # replaces answer[start:end]
    description: str


class _Cell:
    def __init__(self, source: str, tree: ast.Module, region: frozenset[int], names: _NotebookNames,
                 answered: frozenset[str]):
        self.source = source
        self.lines = source.split("\n")
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.region = region
        self.names = names
        self.parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        located = [node for node in ast.walk(tree) if getattr(node, "end_lineno", None) is not None]
        # Outer nodes first among those starting at the same place.
        located.sort(key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))
        # Before Python 3.12 the positions of nodes inside an f-string are not reliable.
        in_fstrings = {inner for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                       for inner in ast.walk(node) if inner is not node}
        self.nodes = [node for node in located if self.inside(node) and node not in in_fstrings]
        self._scope_of: dict[ast.Name, ast.AST] = {}
        self._variables = self._variables_by_scope(tree, answered)

    def inside(self, node: ast.AST) -> bool:
        return all(line in self.region for line in range(node.lineno, node.end_lineno + 1))

    def offset(self, lineno: int, col: int) -> int:
        """The character offset of an ast position (its column counts UTF-8 bytes)."""
        line = self.lines[lineno - 1]
        return self.line_starts[lineno - 1] + len(line.encode()[:col].decode())

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def text(self, node: ast.AST) -> str:
        return self.source[self.start(node):self.end(node)]

    def replace(self, node: ast.AST, text: str, description: str) -> _Edit:
        return _Edit(self.start(node), self.end(node), text, description)

    def replace_described(self, node: ast.AST, text: str) -> _Edit:
        """Replaces `node`, described as "`old` → `new`", or within the smallest enclosing
        expression that is unique on its line when the old text is not (`x[:80]`, `y[:80]`)."""
        context = node
        while self._occurrences(context) > 1 and isinstance(self.parents.get(context), ast.expr):
            context = self.parents[context]
        start, end, first = self.start(node), self.end(node), self.start(context)
        whole = self.text(context)
        mutated = whole[:start - first] + text + whole[end - first:]
        return _Edit(start, end, text, f"`{_short(whole)}` → `{_short(mutated)}`")

    def _occurrences(self, node: ast.AST) -> int:
        text = self.text(node)
        if "\n" in text:
            return 1
        return len(re.findall(rf"(?<![\w.]){re.escape(text)}(?![\w])", self.lines[node.lineno - 1]))

    def operator_between(self, left: ast.AST, right: ast.AST) -> tuple[int, int]:
        """The span of the operator token between two operands; what else lies between
        them is whitespace, parentheses, line continuations and comments."""
        start, end = self.end(left), self.start(right)
        gap = re.sub(r"#[^\n]*", lambda comment: " " * len(comment.group()), self.source[start:end])
        token = [i for i, char in enumerate(gap) if char not in " \t\n\\()"]
        return start + token[0], start + token[-1] + 1

    def variables(self, name: ast.Name) -> list[str]:
        """The variables `name` could be swapped for, none if it is not a variable itself:
        those its scope binds or reads (a cell's top level also sees the globals of the
        answers above); no imports, callables or builtins."""
        variables = self._variables.get(self._scope_of.get(name), set())
        return sorted(variables - {name.id}) if name.id in variables else []

    def _variables_by_scope(self, tree: ast.Module, answered: frozenset[str]) -> dict[ast.AST, set[str]]:
        own: dict[ast.AST, set[str]] = {tree: set(answered)}
        enclosing: dict[ast.AST, ast.AST] = {}

        def visit(node: ast.AST, scope: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, _SCOPES):
                    enclosing[child] = scope
                    arguments = getattr(child, "args", None)
                    own[child] = {a.arg for a in _all_arguments(arguments)} if isinstance(arguments, ast.arguments) else set()
                    visit(child, child)
                else:
                    if isinstance(child, ast.Name):
                        own[scope].add(child.id)
                        self._scope_of[child] = scope
                    visit(child, scope)

        visit(tree, tree)

        def visible(scope: ast.AST) -> set[str]:
            # A comprehension also reads its enclosing scope's variables.
            return own[scope] | (visible(enclosing[scope]) if isinstance(scope, _COMPREHENSIONS) else set())

        return {scope: visible(scope) - self.names.not_variables for scope in own}


def _all_arguments(arguments: ast.arguments) -> list[ast.arg]:
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
            *filter(None, (arguments.vararg, arguments.kwarg))]


def _top_level_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """The nodes of a cell's top-level code: not inside its functions, classes or comprehensions."""
    for child in ast.iter_child_nodes(tree):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _top_level_nodes(child)


def _top_level_names(tree: ast.Module) -> set[str]:
    return {node.id for node in _top_level_nodes(tree) if isinstance(node, ast.Name)}


# --- the operators: each yields the edits it can make to a cell's solution region

def _slices(cell: _Cell) -> Iterator[_Edit]:
    for subscript in (node for node in cell.nodes if isinstance(node, ast.Subscript)):
        indices = subscript.slice.elts if isinstance(subscript.slice, ast.Tuple) else [subscript.slice]
        for index in indices:
            if isinstance(index, ast.Slice):
                for field in ("lower", "upper", "step"):
                    bound = getattr(index, field)
                    if bound is None:
                        continue
                    value = _int_literal(bound)
                    shifted = ([ast.Constant(value - 1), ast.Constant(value + 1)] if value is not None else
                               [ast.BinOp(bound, ast.Sub(), ast.Constant(1)), ast.BinOp(bound, ast.Add(), ast.Constant(1))])
                    for new_bound in [*shifted, None]:
                        mutated = ast.Slice(**{**{f: getattr(index, f) for f in ("lower", "upper", "step")},
                                               field: new_bound})
                        yield _in_subscript(cell, subscript, index, ast.unparse(mutated))
            else:
                value = _int_literal(index)
                if value is not None:
                    for new_value in (value - 1, value + 1):
                        yield _in_subscript(cell, subscript, index, str(new_value))


def _in_subscript(cell: _Cell, subscript: ast.Subscript, index: ast.AST, text: str) -> _Edit:
    whole, start, end = cell.text(subscript), cell.start(index), cell.end(index)
    first = cell.start(subscript)
    mutated = whole[:start - first] + text + whole[end - first:]
    return _Edit(start, end, text, f"`{_short(whole)}` → `{_short(mutated)}`")


def _numbers(cell: _Cell) -> Iterator[_Edit]:
    for node in cell.nodes:
        if _is_number(node) and not _is_negated(node, cell):
            value = node.value
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _is_number(node.operand):
            value = -node.operand.value  # `-0.5` is one literal here
        else:
            continue
        for new_value in _number_variants(value):
            text = repr(new_value)
            if new_value < 0 and _is_operand_needing_parentheses(node, cell):
                text = f"({text})"
            yield cell.replace_described(node, text)


def _number_variants(value: int | float) -> list[int | float]:
    if isinstance(value, int):
        options = [0, 1, value + 1, value - 1, value * 2, value // 2, -value]
    else:
        # 12 significant digits: 0.8 - 1 is written -0.2, not -0.19999999999999996.
        options = [float(f"{v:.12g}") for v in (0.0, 1.0, value + 1, value - 1, value * 2, value / 2, -value)]
    variants: list[int | float] = []
    for option in options:
        if option != value and option not in variants and math.isfinite(option):
            variants.append(option)
    return variants


_BINARY_SWAPS = {
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult], ast.Mod: [ast.Div], ast.MatMult: [ast.Mult],
    ast.LShift: [ast.RShift], ast.RShift: [ast.LShift], ast.BitAnd: [ast.BitOr], ast.BitOr: [ast.BitAnd],
    ast.BitXor: [ast.BitAnd],
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Pow: "**",
            ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&",
            ast.BitOr: "|", ast.BitXor: "^",
            ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


def _arithmetic(cell: _Cell) -> Iterator[_Edit]:
    for node in cell.nodes:
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            left, right = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target, node.value)
            start, end = cell.operator_between(left, right)
            augmented = "=" if isinstance(node, ast.AugAssign) else ""
            for swap in _BINARY_SWAPS.get(type(node.op), []):
                text = _SYMBOLS[swap] + augmented
                yield _Edit(start, end, text, f"`{cell.source[start:end]}` → `{text}`")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Invert)):
            operand = cell.source[cell.start(node) + 1:cell.end(node)].lstrip()  # keeps its parentheses
            yield cell.replace(node, operand, f"removed `{cell.source[cell.start(node)]}` of `{_short(cell.text(node))}`")


_COMPARISONS = [ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE]
_NEGATIONS = {ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


def _compare(cell: _Cell) -> Iterator[_Edit]:
    for node in (node for node in cell.nodes if isinstance(node, ast.Compare)):
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:]):
            start, end = cell.operator_between(left, right)
            others = [_NEGATIONS[type(op)]] if type(op) in _NEGATIONS else [o for o in _COMPARISONS if o is not type(op)]
            for other in others:
                yield _Edit(start, end, _SYMBOLS[other], f"`{_SYMBOLS[type(op)]}` → `{_SYMBOLS[other]}`")


def _boolean(cell: _Cell) -> Iterator[_Edit]:
    for node in cell.nodes:
        if isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            for left, right in zip(node.values, node.values[1:]):
                start, end = cell.operator_between(left, right)
                yield _Edit(start, end, new, f"`{old}` → `{new}`")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = cell.source[cell.start(node) + len("not"):cell.end(node)].lstrip()
            yield cell.replace(node, operand, f"`{_short(cell.text(node))}` → `{_short(operand)}`")
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield cell.replace_described(node, str(not node.value))


def _names(cell: _Cell) -> Iterator[_Edit]:
    for node in (node for node in cell.nodes if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
        parent = cell.parents.get(node)
        called = isinstance(parent, ast.Call) and parent.func is node
        # `net.eval()` → `xtest.eval()` only breaks the cell: an object's methods are its own.
        receiver = isinstance(parent, ast.Attribute) and parent.value is node
        if called or receiver or node.id in cell.names.not_variables:
            continue
        for other in cell.variables(node):
            yield cell.replace_described(node, other)


_SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Delete, ast.Assert,
                      ast.Raise, ast.Break, ast.Continue, ast.Import, ast.ImportFrom)


def _statements(cell: _Cell) -> Iterator[_Edit]:
    for node in cell.nodes:
        if isinstance(node, ast.With):
            yield _without_context(cell, node)
        elif isinstance(node, _SIMPLE_STATEMENTS):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # a docstring or `...`: deleting it changes nothing
            yield cell.replace(node, "pass", f"deleted `{_short(cell.text(node))}`")


def _without_context(cell: _Cell, node: ast.With) -> _Edit:
    """The `with` block's body in place of the block, dedented to the `with` line."""
    header = _short(cell.lines[node.lineno - 1].strip())
    body = node.body[0]
    if body.lineno == node.lineno:  # `with x: body` on one line
        return _Edit(cell.start(node), cell.end(node), cell.source[cell.start(body):cell.end(node)],
                     f"removed `{header}`")
    header_end = max(item.optional_vars.end_lineno if item.optional_vars else item.context_expr.end_lineno
                     for item in node.items)
    first = body.lineno
    while first - 1 > header_end and cell.lines[first - 2].strip()[:1] in ("", "#"):
        first -= 1  # comments above the body stay with it
    with_indent = _indentation(cell.lines[node.lineno - 1])
    body_indent = _indentation(cell.lines[body.lineno - 1])
    lines = [with_indent + line[len(body_indent):] if line.startswith(body_indent) else line
             for line in cell.lines[first - 1:node.end_lineno]]
    end = cell.line_starts[node.end_lineno - 1] + len(cell.lines[node.end_lineno - 1])
    return _Edit(cell.start(node), end, "\n".join(lines)[len(with_indent):], f"removed `{header}`")


def _calls(cell: _Cell) -> Iterator[_Edit]:
    for node in (node for node in cell.nodes if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        if isinstance(cell.parents.get(node), ast.Expr) or _is_module_path(node.func.value, cell.names.imported):
            continue  # a call as a statement is `statement`'s; `torch.nn.ReLU()` → `torch.nn` is nonsense
        attribute_end = cell.end(node.func)
        name_start = attribute_end - len(node.func.attr)
        receiver = cell.source[cell.start(node):name_start].rstrip(" \t\n\\")
        if not receiver.endswith("."):
            continue  # a comment between the receiver and its method
        receiver = receiver[:-1].rstrip(" \t\n\\")
        removed = _short(cell.source[name_start - 1:cell.end(node)])
        yield cell.replace(node, receiver, f"removed `{removed}`")


def _arguments(cell: _Cell) -> Iterator[_Edit]:
    for node in (node for node in cell.nodes if isinstance(node, ast.Call)):
        arguments = sorted([*node.args, *node.keywords], key=lambda a: (a.lineno, a.col_offset))
        for i, argument in enumerate(arguments):
            if isinstance(argument, ast.GeneratorExp):
                continue  # `f(x for x in y)`: its span takes the call's parentheses
            if i + 1 < len(arguments):  # up to the next argument: `f(a, b)` → `f(b)`
                start, end = cell.start(argument), cell.start(arguments[i + 1])
            elif i > 0:  # from the previous one's end: `f(a, b)` → `f(a)`
                start, end = cell.end(arguments[i - 1]), cell.end(argument)
            else:
                start, end = cell.start(argument), cell.end(argument)
            yield _Edit(start, end, "", f"removed argument `{_short(cell.text(argument))}`")
        for first, second in zip(node.args, node.args[1:]):
            if any(isinstance(a, ast.Starred) or a.lineno != a.end_lineno for a in (first, second)):
                continue  # a swap across lines would show as two changes
            start, end = cell.start(first), cell.end(second)
            between = cell.source[cell.end(first):cell.start(second)]
            yield _Edit(start, end, cell.text(second) + between + cell.text(first),
                        f"swapped `{_short(cell.text(first))}` and `{_short(cell.text(second))}`")


_GENERATORS = {"slice": _slices, "number": _numbers, "arithmetic": _arithmetic, "compare": _compare,
               "boolean": _boolean, "name": _names, "statement": _statements, "call": _calls,
               "argument": _arguments}
assert list(_GENERATORS) == list(OPERATORS)


# --- small helpers

def _parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. `x is 1`: a SyntaxWarning, still a mutant
            compile(source, "<mutant>", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def _changed_line(original: str, mutated: str) -> int:
    """The 1-based line of `original` where `mutated` first differs."""
    before, after = original.split("\n"), mutated.split("\n")
    return next((i for i, (a, b) in enumerate(zip(before, after), 1) if a != b), min(len(before), len(after)) + 1)


def _short(code: str, width: int = 60) -> str:
    """One line of code for a description: its first line, cut at `width` characters."""
    lines = code.strip().split("\n")
    first = lines[0].rstrip()
    if len(lines) > 1 or len(first) > width:
        return first[:width].rstrip() + "…"
    return first


def _indentation(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _is_negated(node: ast.AST, cell: _Cell) -> bool:
    parent = cell.parents.get(node)
    return isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)


def _int_literal(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value if type(node.operand.value) is int else None
    return None


def _is_operand_needing_parentheses(node: ast.AST, cell: _Cell) -> bool:
    """Whether a negative number written here would bind differently (`-2 ** 2`, `-1 .real`)."""
    parent = cell.parents.get(node)
    return ((isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node)
            or (isinstance(parent, ast.Call) and parent.func is node)
            or (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow) and parent.left is node))


def _is_module_path(node: ast.AST, imported: frozenset[str]) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in imported
