"""``${...}`` expressions: compiled once per definition, resolved per task (semantics §3)."""

from flowkit.expressions._compile import (
    Resolver,
    compile_value,
    has_expression,
    java_string,
    parse_path,
    referenced_roots,
)

__all__ = ["Resolver", "compile_value", "has_expression", "java_string", "parse_path", "referenced_roots"]
