"""A pydantic ``ValidationError`` of the settings -> one line per problem: ``FILE: KEY: what is wrong; what to do``.

The key is spelled as in TOML (``http.read_timeout``, ``sources[3].kind``; sources are counted from 0, in file
order). A value that came from the environment is named by its variable instead of the file.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from watcher.config_durations import DURATION_FIELDS, Seconds, as_seconds, show
from watcher.notify.settings import (
    AppriseSettings,
    ConsoleSettings,
    EmailSettings,
    SlackSettings,
    WebhookSettings,
)

_MAX_LINES = 10

_CHANNEL_MODELS: dict[str, type[BaseModel]] = {
    "slack": SlackSettings,
    "email": EmailSettings,
    "webhook": WebhookSettings,
    "console": ConsoleSettings,
    "apprise": AppriseSettings,
}


def _describe(exc: ValidationError, file: str, overridden: Mapping[tuple[str, ...], str]) -> str:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] in ("duplicate_source_name", "duplicate_channel_name"):
            ctx = error.get("ctx") or {}
            table = "sources" if error["type"] == "duplicate_source_name" else "channels"
            lines.append(
                f"{file}: {table}[{ctx['index']}].name: {ctx['name']!r} is already used by {table}[{ctx['first']}]; "
                f"give every {table[:-1]} a unique name"
            )
            continue
        loc, tag = _strip_channel_tag(loc)
        if error["type"] == "union_tag_invalid":
            loc = (*loc, "type")
        key = _key(loc)
        variable = overridden.get(tuple(str(part) for part in loc))
        where = f"{variable} (overrides {key})" if variable else f"{file}: {key}" if key else file
        lines.append(f"{where}: {_problem(error, loc, tag)}")
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"... and {len(lines) - _MAX_LINES} more problems"]
    return "\n".join(lines)


def _key(loc: tuple[int | str, ...]) -> str:
    """``('sources', 3, 'kind')`` -> ``sources[3].kind``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _strip_channel_tag(loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], str | None]:
    """pydantic puts a channel's type into the location (``channels.0.webhook.url``): take it out."""
    if len(loc) >= 3 and loc[0] == "channels" and isinstance(loc[1], int) and loc[2] in _CHANNEL_MODELS:
        return (*loc[:2], *loc[3:]), str(loc[2])
    return loc, None


def _problem(error: ErrorDetails, loc: tuple[int | str, ...], tag: str | None = None) -> str:
    kind, given, ctx = error["type"], error["input"], error.get("ctx") or {}
    if kind == "union_tag_invalid":
        names = [repr(t) for t in _CHANNEL_MODELS]
        return f"{show(ctx.get('tag'))} is not allowed; use {', '.join(names[:-1])} or {names[-1]}"
    if kind == "union_tag_not_found":
        return f"required key is missing; add type = one of {', '.join(repr(t) for t in _CHANNEL_MODELS)}"
    if kind == "extra_forbidden" and tag is not None and len(loc) == 3:
        return _unknown_key(str(loc[-1]), list(_CHANNEL_MODELS[tag].model_fields))
    field = loc[-1] if loc else ""
    duration = field in DURATION_FIELDS
    if duration and (seconds := as_seconds(given)) is not None:
        given = Seconds(seconds)
    if kind == "extra_forbidden":
        return _unknown_key(str(field), _allowed_keys(loc[:-1]))
    if kind == "missing":
        return f"required key is missing; add {field} = ..."
    if kind == "literal_error":
        return f"{show(given)} is not allowed; use {ctx['expected']}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than", "greater_than_equal"):
        bound, word = (ctx["gt"], "greater than") if kind == "greater_than" else (ctx["ge"], "at least")
        return f"{show(given)} is too small; use {word} {_bound(bound, duration)}"
    if kind in ("less_than", "less_than_equal"):
        bound, word = (ctx["lt"], "less than") if kind == "less_than" else (ctx["le"], "at most")
        return f"{show(given)} is too large; use {word} {_bound(bound, duration)}"
    if kind == "string_too_short":
        return f"{show(given)} is too short; use at least {ctx['min_length']} character(s)"
    if kind == "string_too_long":
        return f"{show(given)} is too long; use at most {ctx['max_length']} characters"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        table = f"[[{_key(loc[:-1])}]]" if isinstance(field, int) else f"[{_key(loc)}]"
        return f"{show(given)} is not a table; use {table} with keys {', '.join(_allowed_keys(loc))}"
    if kind == "list_type":
        return f"{show(given)} is not a list of tables; write each one as [[{field}]]"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        hint = " or a duration such as '30m'" if duration else ""
        return f"{show(given)} is not a whole number; use an integer such as 10{hint}"
    if kind in ("float_parsing", "float_type"):
        return f"{show(given)} is not a number; use a number such as 20 or 2.5"
    if kind in ("bool_parsing", "bool_type"):
        return f"{show(given)} is not a boolean; use true or false"
    if kind == "string_type":
        return f'{show(given)} is not a string; put it in quotes ("...")'
    return f"{show(given)}: {error['msg']}"


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return f"unknown key; allowed keys are {', '.join(allowed)}"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys of the table at ``loc`` (``()`` is the top level), in declaration order."""
    from watcher.config import Settings  # here, not at the top: watcher.config imports this module

    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _model_in(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model class inside ``X``, ``list[X]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _bound(bound: object, duration: bool) -> object:
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    return Seconds(bound) if duration and isinstance(bound, int) else bound
