"""``${...}`` expressions: compiled once per definition, resolved per task (Conductor's ``ParametersUtils.java``)."""

from flowkit.expressions._compile import (
    Resolver,
    compile_value,
    copy_json,
    has_expression,
    mentions_expression,
    parse_path,
    read_copy,
    referenced_roots,
    single_path,
    walk_path,
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
    "read_copy",
    "referenced_roots",
    "single_path",
    "truthy",
    "walk_path",
]
