"""The rule-expression compiler: SQL expressions over a change, compiled once into closures.

>>> from cdc_facts.changes import Change
>>> expression = compile_expression("after.total > 100.0 AND op IN ('c', 'u')")
>>> expression.evaluate(Change(op="c", before=None, after={"total": 150}))
True

See ``docs/expressions.md`` for the language: names, operators, casts, functions, NULL and
UNKNOWN.
"""

from cdc_facts.expressions.compiler import EvalContext, Expression, Reference, compile_expression
from cdc_facts.expressions.functions import FUNCTIONS, FunctionSpec, register_function

__all__ = [
    "FUNCTIONS",
    "EvalContext",
    "Expression",
    "FunctionSpec",
    "Reference",
    "compile_expression",
    "register_function",
]
