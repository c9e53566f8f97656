"""Copies edge_function/router.js into edge-function.yaml's FunctionCode, or checks the copy.

CloudFormation cannot read a file, so the template carries the router's code inline, under
`Fn::Sub` with the one line `const POOL = "...";` written as `const POOL = "${Pool}";`: the
stack's Pool parameter is the only thing a deployment changes in the shipped file.

    python -m deploy.function_code          # rewrite the template's copy from router.js
    python -m deploy.function_code --check  # exit 1 if the copy differs
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from deploy.checks import load_template

ROOT = Path(__file__).resolve().parents[1]
ROUTER = ROOT / "edge_function" / "router.js"
TEMPLATE = ROOT / "deploy" / "cloudformation" / "edge-function.yaml"
POOL_LINE = re.compile(r'^const POOL = "[^"\\\n]*";$', re.M)
PLACEHOLDER = 'const POOL = "${Pool}";'
_BLOCK = re.compile(r"^(      FunctionCode: !Sub \|\n)((?:        .*\n|\n)*)", re.M)
_INDENT = " " * 8


class CodeError(Exception):
    """router.js cannot be carried by the template as it is."""


def expected(router: str) -> str:
    """The FunctionCode the template must carry for `router` (the text of router.js)."""
    if len(POOL_LINE.findall(router)) != 1:
        raise CodeError('router.js must have exactly one line const POOL = "...";')
    if "${" in router:
        raise CodeError('router.js must not contain "${": Fn::Sub would expand it')
    return POOL_LINE.sub(PLACEHOLDER, router)


def carried(template: str) -> str:
    """The FunctionCode string in the template's text."""
    parsed = load_template(template, TEMPLATE.name)
    code = parsed["Resources"]["RouterFunction"]["Properties"]["FunctionCode"]["Fn::Sub"]
    if not isinstance(code, str):
        raise CodeError("FunctionCode is not a plain !Sub string")
    return code


def rewrite(template: str, router: str) -> str:
    """`template` with its FunctionCode block replaced by the code for `router`."""
    code = expected(router).rstrip("\n")
    block = "".join(f"{_INDENT}{line}\n" if line else "\n" for line in code.split("\n"))
    match = _BLOCK.search(template)
    if match is None:
        raise CodeError("no `      FunctionCode: !Sub |` block in the template")
    return template[: match.start(2)] + block + "\n" + template[match.end(2) :]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    router = ROUTER.read_text(encoding="utf-8")
    template = TEMPLATE.read_text(encoding="utf-8")
    try:
        if args == ["--check"]:
            if carried(template) != expected(router):
                sys.stderr.write(
                    f"{TEMPLATE.name} does not carry router.js: run this without --check\n"
                )
                return 1
            return 0
        if args:
            sys.stderr.write("usage: python -m deploy.function_code [--check]\n")
            return 2
        TEMPLATE.write_text(rewrite(template, router), encoding="utf-8")
    except CodeError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
