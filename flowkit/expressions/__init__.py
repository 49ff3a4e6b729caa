"""``${...}`` expressions: compiled once per definition, resolved per task (Conductor's ``ParametersUtils.java``)."""

from flowkit.expressions._compile import (
    Resolver,
    compile_value,
    copy_json,
    has_expression,
    mentions_expression,
    parse_path,
    referenced_roots,
)
from flowkit.expressions._java import case_string, java_double, java_string, truthy

__all__ = [
    "Resolver",
    "case_string",
    "compile_value",
    "copy_json",
    "has_expression",
    "java_double",
    "java_string",
    "mentions_expression",
    "parse_path",
    "referenced_roots",
    "truthy",
]
