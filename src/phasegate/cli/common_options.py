"""The options every command takes on either side of its name.

``phasegate --json runs`` and ``phasegate runs --json`` mean the same: the root callback
keeps what was given before the subcommand, and each command is wrapped so that it also
takes ``-v``/``-q`` and gets ``--store``, ``--kubeconfig``, ``--context``, ``--json`` and
``--reports`` filled from the flags given before it, then from the environment
(``PHASEGATE_STORE``, ``PHASEGATE_KUBECONFIG``, ``PHASEGATE_CONTEXT``,
``PHASEGATE_REPORTS``), then from the project file (``cli/project.py``). What was settled
is ``common.options()``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from phasegate.cli import common, project
from phasegate.errors import PlanError

JsonOption = Annotated[bool, typer.Option("--json", help="print one JSON document")]
StoreOption = Annotated[Optional[str], typer.Option("--store", help=common.STORE_HELP)]  # noqa: UP045
ContextOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--context", help="kubeconfig context (env PHASEGATE_CONTEXT); must equal "
                 "the plan's target.context"),
]
KubeconfigOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--kubeconfig", help="kubeconfig file (env PHASEGATE_KUBECONFIG; default: "
                 "the project file's, else $KUBECONFIG, ~/.kube/config)"),
]
VerboseOption = Annotated[
    int, typer.Option("--verbose", "-v", count=True, show_default=False,
                      help="more logging (-vv for debug)")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="no progress lines: only results and errors")
]

# A command's parameter name → the Options field it shares with every other command.
_SHARED = {"json_output": "json", "store": "store", "kubeconfig": "kubeconfig",
           "context": "context", "reports": "reports"}
_LEVEL = ("verbose", "quiet")


def before_the_subcommand(verbose: int, quiet: bool, json_output: bool, store: str | None,
                          kubeconfig: str | None, context: str | None) -> None:
    """The root callback's part: every invocation starts from what was given before the
    subcommand (and nothing left over from an earlier invocation in the same process)."""
    common.set_options(common.Options())
    _project.clear()
    _settle({"verbose": verbose, "quiet": quiet, "json_output": json_output, "store": store,
             "kubeconfig": kubeconfig, "context": context})


def mount(app: typer.Typer) -> None:
    """Wrap every command and group callback of ``app``, its sub-apps included."""
    for command in app.registered_commands:
        if command.callback is not None:
            command.callback = wrap(command.callback)
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        if sub.registered_callback is not None and sub.registered_callback.callback:
            sub.registered_callback.callback = wrap(sub.registered_callback.callback)
        mount(sub)


def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` taking -v/-q as well, its shared parameters filled from ``common.options()``."""
    signature = inspect.signature(func, eval_str=True)
    own = signature.parameters
    hints = typing.get_type_hints(func, include_extras=True)
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=annotation)
             for name, default, annotation in (("verbose", 0, VerboseOption),
                                               ("quiet", False, QuietOption))
             if name not in own]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _LEVEL if name not in own and name in kwargs}
        given.update({name: kwargs[name] for name in _SHARED if name in own and name in kwargs})
        settled = _settle(given)
        if any(name in own for name in ENVIRONMENT):  # commands that need none skip the file
            settled = _with_defaults(settled)
        for name, field in _SHARED.items():
            if name in own and name in kwargs:
                kwargs[name] = _typed(getattr(settled, field), own[name].annotation)
        return func(*args, **kwargs)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*own.values(), *added])
    command.__annotations__ = {**hints, **{p.name: p.annotation for p in added}}
    return command


def _settle(given: dict[str, Any]) -> common.Options:
    """Fold flags given at one level into the options so far; a later level's flag wins."""
    before = common.options()
    verbosity = before.verbosity
    quiet = bool(given.get("quiet"))
    verbose = int(given.get("verbose") or 0)
    if (quiet and (verbose or verbosity > 0)) or (verbose and verbosity < 0):
        _refuse(before.json or bool(given.get("json_output")), "-q and -v ask for opposite "
                "things; give one of them")
    if quiet:
        verbosity = -1
    elif verbose:
        verbosity += verbose
        from phasegate import logs

        logs.configure(verbosity)
    changes: dict[str, Any] = {"verbosity": verbosity,
                               "json": before.json or bool(given.get("json_output"))}
    for name, field in _SHARED.items():
        value = given.get(name)
        if field != "json" and value is not None:
            changes[field] = str(value)
    settled = dataclasses.replace(before, **changes)
    common.set_options(settled)
    return settled


ENVIRONMENT = {"store": "PHASEGATE_STORE", "kubeconfig": "PHASEGATE_KUBECONFIG",
               "context": "PHASEGATE_CONTEXT", "reports": "PHASEGATE_REPORTS"}
_project: list[project.Defaults] = []  # read once per invocation (the root empties it)


def _with_defaults(settled: common.Options) -> common.Options:
    """What the flags left unset, from the environment, then from the project file."""
    if not _project:
        try:
            _project.append(project.load(Path.cwd()))
        except PlanError as exc:
            from phasegate.cli.output import Terminal

            Terminal(settled.json).abort(exc)
    changes: dict[str, Any] = {}
    for field, variable in ENVIRONMENT.items():
        if getattr(settled, field) is None:
            changes[field] = os.environ.get(variable) or getattr(_project[0], field)
    settled = dataclasses.replace(settled, **changes)
    common.set_options(settled)
    return settled


def _typed(value: Any, annotation: Any) -> Any:
    """A settled value in the type the command declared (paths stay paths)."""
    if value is None or isinstance(value, bool):
        return value
    return Path(value) if Path in _types_of(annotation) else value


def _types_of(annotation: Any) -> set[Any]:
    found = {annotation}
    for arg in typing.get_args(annotation):
        found |= _types_of(arg)
    return found


def _refuse(json_mode: bool, message: str) -> typing.NoReturn:
    from phasegate.cli.output import Terminal

    Terminal(json_mode).abort(PlanError(message, file="<command line>"))
