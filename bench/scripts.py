"""Script costs: JavaScript per evaluation (INLINE/SWITCH-sized), jq per evaluation, and a DO_WHILE of
INLINE tasks at 1,000 and 10,000 iterations (linear growth check). flowkit only: the peers have no
Conductor scripting to compare with."""

from __future__ import annotations

import time
from typing import Any

SCRIPT_TARGET_US = 100.0
LOOP_SIZES = (1_000, 10_000)


def _best_per_call(fn: Any, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best * 1e6


def _loop_def(n: int) -> dict[str, Any]:
    return {
        "name": "dw",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"n": n},
                "loopCondition": "$.loop['iteration'] < $.n",
                "loopOver": [
                    {
                        "name": "inc",
                        "taskReferenceName": "inc",
                        "type": "INLINE",
                        "inputParameters": {
                            "evaluatorType": "graaljs",
                            "expression": "$.i + 1",
                            "i": "${loop.output.iteration}",
                        },
                    }
                ],
            }
        ],
    }


def measure_scripts(quick: bool) -> dict[str, Any]:
    import flowkit
    from flowkit.definitions import WorkflowDef
    from flowkit.scripting import Jq, create_javascript

    calls, rounds = (200, 3) if quick else (1000, 5)
    inline_input = {"evaluatorType": "graaljs", "expression": "$.a + 1", "a": 41}
    switch_src = "if ($.x > 2) { 'big' } else { 'small' }"
    jq = Jq()
    jq.run(".a | . + 1", {"a": 1})
    out: dict[str, Any] = {
        "engines": {},
        "jq_us": _best_per_call(lambda: jq.run(".a | . + 1", {"a": 1}), calls, rounds),
        "loops": {},
    }
    for engine in ("quickjs", "v8"):
        js = create_javascript(engine=engine)
        js.evaluate("$.a + 1", inline_input)
        js.evaluate(switch_src, {"x": 3})
        out["engines"][engine] = {
            # js=js binds this iteration's engine (a lambda like the jq one, so the overheads compare)
            "inline": _best_per_call(lambda js=js: js.evaluate("$.a + 1", inline_input), calls, rounds),
            "switch": _best_per_call(lambda js=js: js.evaluate(switch_src, {"x": 3}), calls, rounds),
        }
        js.close()
    for n in LOOP_SIZES:
        definition = WorkflowDef.from_json(_loop_def(n))
        flowkit.run(definition)  # warm: plan, validation, V8 context
        best = float("inf")
        for _ in range(1 if quick or n > 1000 else 3):
            t0 = time.perf_counter()
            ex = flowkit.run(definition)
            best = min(best, time.perf_counter() - t0)
            if ex.status != "COMPLETED":
                raise RuntimeError(f"DO_WHILE of {n} ended {ex.status}: {ex.reason}")
        out["loops"][n] = best
    return out


def render_scripts(r: dict[str, Any]) -> list[str]:
    small, large = (r["loops"][n] for n in LOOP_SIZES)
    lines = [
        f"## Scripts (flowkit only; target ≤ {SCRIPT_TARGET_US:.0f} µs per INLINE/SWITCH evaluation, linear DO_WHILE)",
        "",
        "| what | µs per evaluation / iteration |",
        "|---|---:|",
    ]
    for engine, r_js in r["engines"].items():
        default = " (default)" if engine == "quickjs" else ""
        for what, label in (("inline", "INLINE-sized `$.a + 1`"), ("switch", "SWITCH-sized `if ($.x > 2) ...`")):
            verdict = ("PASS" if r_js[what] <= SCRIPT_TARGET_US else "FAIL") if default else "(opt-in engine, context)"
            lines.append(f"| JavaScript {engine}{default}, {label} | {r_js[what]:.1f} {verdict} |")
    lines += [
        f"| jq `.a \\| . + 1` | {r['jq_us']:.1f} |",
        f"| DO_WHILE of INLINE, {LOOP_SIZES[0]:,} iterations (INLINE + condition per iteration) | {small * 1e6 / LOOP_SIZES[0]:.0f} |",
        f"| DO_WHILE of INLINE, {LOOP_SIZES[1]:,} iterations | {large * 1e6 / LOOP_SIZES[1]:.0f} |",
        "",
        f"DO_WHILE growth {LOOP_SIZES[1] // LOOP_SIZES[0]}× iterations → {large / small:.2f}× time "
        f"({'linear: PASS' if large / small <= 11 else 'FAIL'}, ≤ 11 counts as linear).",
        "",
    ]
    return lines
