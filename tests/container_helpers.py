"""Shared pieces of the container tests (tests/test_container*.py): the files' paths, a reader of the
Dockerfile's logical instructions per stage, and the variables of .env.example.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
GITIGNORE = ROOT / ".gitignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def _dockerfile_instructions(text: str) -> list[Instruction]:
    """Logical instructions: comment lines dropped, backslash continuations joined, keywords upper-cased."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


@cache
def _stages() -> tuple[tuple[Instruction, ...], ...]:
    stages: list[list[Instruction]] = []
    for instruction in _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{instruction.keyword} before the first FROM"
        stages[-1].append(instruction)
    return tuple(tuple(stage) for stage in stages)


def _final_stage() -> tuple[Instruction, ...]:
    return _stages()[-1]


def _args(stage: tuple[Instruction, ...], keyword: str) -> list[str]:
    return [instruction.args for instruction in stage if instruction.keyword == keyword]


def _base_image(stage: tuple[Instruction, ...]) -> str:
    """The image of ``FROM [--platform=...] IMAGE [AS name]``."""
    words = [word for word in stage[0].args.split() if not word.startswith("--")]
    return words[0]


def _exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"expected the exec (JSON) form, got {args!r}"
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), args
    return [str(item) for item in value]


def _env(stage: tuple[Instruction, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in _args(stage, "ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"use ENV KEY=VALUE, not the legacy ENV KEY VALUE form: {args!r}"
            env[key] = value
    return env


def _dockerfile_healthcheck() -> list[str]:
    (args,) = _args(_final_stage(), "HEALTHCHECK")
    match = re.fullmatch(r"(?P<options>(?:--\S+\s+)*)CMD\s+(?P<command>.+)", args)
    assert match, f"HEALTHCHECK without CMD: {args!r}"
    return _exec_form(match["command"])


@dataclass(frozen=True)
class ExampleVariable:
    value: str
    commented_out: bool


@cache
def _env_example() -> dict[str, ExampleVariable]:
    """Variables of .env.example, set (``NAME=value``) or offered commented out (``# NAME=value``)."""
    variables: dict[str, ExampleVariable] = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)", raw)
        if match:
            variables[match["name"]] = ExampleVariable(match["value"].strip(), bool(match["comment"]))
    return variables
