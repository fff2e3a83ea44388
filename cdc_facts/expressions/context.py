"""What a compiled expression reads, and the compiled tree it is made of.

Every SQL node compiles to a :class:`Node`: a closure (``fn``) that takes one change and
returns a value, plus what the compiler knows about it statically (its SQL text, its type,
its constant value). Parents call their children's closures directly, so evaluating a rule
is a chain of plain Python calls with no tree walking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cdc_facts.errors import EvaluationError
from cdc_facts.types import Row


class EvalContext(Protocol):
    """What :meth:`Expression.evaluate` reads. :class:`cdc_facts.changes.Change` satisfies it."""

    @property
    def op(self) -> str: ...

    @property
    def before(self) -> Row | None: ...

    @property
    def after(self) -> Row | None: ...

    @property
    def source(self) -> Mapping[str, object]: ...

    @property
    def ts_ms(self) -> int | None: ...


#: A compiled (sub-)expression: one change in, one value out (``None`` is SQL NULL).
Evaluator = Callable[[EvalContext], object]


class _NoConstant:
    def __repr__(self) -> str:
        return "NO_CONSTANT"


#: Marks a node whose value is only known at run time.
NO_CONSTANT: object = _NoConstant()


@dataclass(eq=False, slots=True)
class Node:
    """One compiled SQL node.

    Attributes:
        fn: Evaluates the node against a change.
        sql: The node's SQL text, for explanations and error messages.
        type: Best-effort static type name (``'boolean'``, ``'integer'``...) or ``None``.
        children: The compiled operands, in source order.
        const: The node's value when it does not depend on the change, else ``NO_CONSTANT``.
        column: ``(scope, column)`` when the node is a plain name such as ``after.status``.
    """

    fn: Evaluator
    sql: str
    type: str | None = None
    children: tuple[Node, ...] = ()
    const: object = NO_CONSTANT
    column: tuple[str, str | None] | None = None

    @property
    def is_constant(self) -> bool:
        """True when the value is known at compile time."""
        return self.const is not NO_CONSTANT


def constant(value: object) -> Evaluator:
    """An evaluator that ignores the change and returns ``value``."""

    def fn(change: EvalContext) -> object:
        return value

    return fn


#: What a failing operation raises inside an evaluator before it becomes an EvaluationError.
OPERATION_ERRORS = (ValueError, TypeError, ArithmeticError)


def evaluation_error(sql: str, problem: BaseException) -> EvaluationError:
    """The error for a sub-expression that cannot be evaluated, naming it."""
    reason = "division by zero" if isinstance(problem, ZeroDivisionError) else str(problem)
    return EvaluationError(
        f"cannot evaluate `{sql}`: {reason or type(problem).__name__}",
        hint="guard the expression (CASE WHEN ... THEN ... END) or fix the data it reads",
    )
