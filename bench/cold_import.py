"""What importing each handler costs on a cold start, against ``import boto3`` in the same run.

    PYTHONPATH=layers/scrip:local .venv/bin/python bench/cold_import.py [--runs 3] [--only SUBSTRING] [--before DIR]

``--before`` measures another checkout too (``git archive REV layers/scrip functions
template.yaml`` unpacked in DIR), each function right after this one's, against the same
``import boto3``: the before and after of a change in one run.

Each measure is a fresh interpreter that imports the handler module as Lambda does (its
folder the working directory, the layer on the path, the template's environment as Lambda
gives it), timed as CPU (user + system) of the child process; a handler's figure is the best
of ``--runs``, as is ``import boto3``'s, so a busy machine inflates neither. Prints a table of
handlers (costliest first) and, for the costliest, what ``-X importtime`` says dominates.

``--no-exit`` ends each interpreter with ``os._exit`` right after its import. A Lambda sandbox
never finalizes its interpreter, but ``python -c`` does, and tearing down what was imported
costs CPU that grows with it (about 0.05 s after ``import boto3``, 0.1 s after a handler): the
default keeps the issue's definition, ``--no-exit`` shows what a cold start pays.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from scrip_local import template as template_module
from scrip_local.runtime import handler_file

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
# What Lambda sets besides the template's variables (values only need to look real).
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "LAMBDA_TASK_ROOT": "/var/task",
    "PYTHONDONTWRITEBYTECODE": "",
}


def _environment(template: template_module.Template, function: str) -> dict[str, str]:
    layer = template.root / "layers" / "scrip"
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(layer)}
    for name, value in template.functions[function].environment.items():
        if isinstance(value, dict) and value.get("Ref") in template.parameters:
            value = template.parameters[value["Ref"]]
        # Resources are placeholders: nothing is called at import.
        environment[name] = str(value) if not isinstance(value, dict) else f"bench-{name.lower()}"
    return environment | {k: v for k, v in LAMBDA_ENVIRONMENT.items() if v}


def _cpu_seconds(code: str, cwd: Path, environment: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _best(code: str, cwd: Path, environment: dict[str, str], runs: int) -> float:
    return min(_cpu_seconds(code, cwd, environment) for _ in range(runs))


def _module(function: str, template: template_module.Template) -> tuple[Path, str]:
    """The working directory and the module Lambda imports for ``function``."""
    spec = template.functions[function]
    _, attribute = handler_file(spec)
    return spec.code_dir, spec.handler.removesuffix("." + attribute)


def _dominant_imports(cwd: Path, module: str, environment: dict[str, str], top: int = 12) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 2:  # the handler's own imports and theirs: what a change can act on
            rows.append((int(cumulative), name.strip(), depth))
    rows.sort(reverse=True)
    return [f"{'  ' * depth}{name}: {micros / 1e6:.3f} s" for micros, name, depth in rows[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="only functions whose logical id contains this")
    parser.add_argument("--before", type=Path, help="another checkout, measured in turn with this one")
    parser.add_argument("--no-exit", action="store_true", help="leave out the interpreter's teardown")
    args = parser.parse_args()
    end = "; import os; os._exit(0)" if args.no_exit else ""
    template = template_module.load(ROOT / "template.yaml")
    before = template_module.load(args.before / "template.yaml") if args.before else None
    functions = sorted(name for name in template.functions if args.only in name)
    boto3 = _best("import boto3" + end, ROOT, _environment(template, functions[0]), max(args.runs, 5))
    rows = []
    for function in functions:
        cwd, module = _module(function, template)
        seconds = _best(f"import {module}" + end, cwd, _environment(template, function), args.runs)
        earlier = None
        if before and function in before.functions:
            cwd, module = _module(function, before)
            earlier = _best(f"import {module}" + end, cwd, _environment(before, function), args.runs)
        rows.append((seconds, function, earlier))
    rows.sort(key=lambda row: row[0], reverse=True)
    teardown = ", without the interpreter's teardown" if args.no_exit else ""
    print(f"import boto3: {boto3:.3f} s CPU (best of {max(args.runs, 5)}{teardown}); handler target {TARGET_RATIO}x")
    print(f"{'function':<48} {'CPU s':>7} {'x boto3':>8}" + (f" {'before':>7} {'x boto3':>8}" if before else ""))
    for seconds, function, earlier in rows:
        line = f"{function:<48} {seconds:>7.3f} {seconds / boto3:>8.2f}"
        if earlier is not None:
            line += f" {earlier:>7.3f} {earlier / boto3:>8.2f}"
        print(line + ("" if seconds <= TARGET_RATIO * boto3 else "  over"))
    for label, column in (("now", 0), ("before", 2)):
        ratios = [row[column] / boto3 for row in rows if row[column] is not None]
        if ratios:
            print(
                f"{label}: {len(ratios)} functions, median {statistics.median(ratios):.2f}x, "
                f"max {max(ratios):.2f}x, over {TARGET_RATIO}x: {sum(r > TARGET_RATIO for r in ratios)}"
            )
    worst = next((f for _, f, _ in rows if f != "OpenapiJsonGetFunction"), None)
    if worst:
        cwd, module = _module(worst, template)
        print(f"\nwhat dominates {worst} (-X importtime, cumulative, one run):")
        for line in _dominant_imports(cwd, module, _environment(template, worst)):
            print("  " + line)


if __name__ == "__main__":
    main()
