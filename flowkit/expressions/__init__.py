"""``${...}`` expressions: compiled once per definition, resolved per task (Conductor's ``ParametersUtils.java``)."""

from flowkit.expressions._compile import (
    Resolver,
    compile_value,
    copy_json,
    has_expression,
    java_string,
    mentions_expression,
    parse_path,
    referenced_roots,
)

__all__ = [
    "Resolver", "compile_value", "copy_json", "has_expression", "java_string", "mentions_expression", "parse_path",
    "referenced_roots",
]  # fmt: skip
