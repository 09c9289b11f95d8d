"""``picloud call MODULE:FUNC ARGS`` and ``picloud exec -- CMD ARGS``: new jobs from the shell."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import click

import picloud
from picloud.cli.output import json_option, show, text
from picloud.cli.params import call_arguments, load_function
from picloud.cli.waiting import wait_results

F = TypeVar("F", bound=Callable[..., Any])
#: ``call``: arguments such as ``-1`` reach the function (``--`` passes ``--wait`` too).
CALL_ARGUMENTS = {"ignore_unknown_options": True}
#: ``exec``: everything after the command's name reaches it (``exec ls -l --json``).
EXEC_ARGUMENTS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


class CommandResult(NamedTuple):
    """What a command run by ``picloud exec`` did."""

    returncode: int
    stdout: str
    stderr: str


def run_command(argv: list[str]) -> CommandResult:
    """Run ``argv`` and capture its output: the job ``picloud exec`` submits. One string is a
    shell command line (``'ls | wc -l'``); several are a program and its arguments. The output
    is also written to the job's own stdout/stderr, for ``picloud info``."""
    shell = len(argv) == 1
    try:
        done = subprocess.run(
            argv[0] if shell else argv,
            shell=shell,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        return CommandResult(127, "", f"{argv[0]}: command not found\n")
    except OSError as exc:  # not executable, or not a program
        return CommandResult(126, "", f"{argv[0]}: {exc.strerror}\n")
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return CommandResult(done.returncode, done.stdout, done.stderr)


def job_options(command: F) -> F:
    """Add ``--type`` and ``--label``, PiCloud's ``_type`` and ``_label``."""
    command = click.option("--label", help="A label for the job.")(command)
    return click.option(
        "--type", "job_type", help="The pool to run on: c1, c2, m1 or s1 (default c1)."
    )(command)


def _reserved(job_type: str | None, label: str | None) -> dict[str, Any]:
    options = {"_type": job_type, "_label": label}
    return {name: value for name, value in options.items() if value is not None}


@click.command(context_settings=CALL_ARGUMENTS)
@click.argument("function")
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
@click.option("--wait", is_flag=True, help="Wait for the job and print its result.")
@click.option("--timeout", type=float, help="Seconds to wait with --wait.")
@job_options
@json_option
def call(
    function: str,
    arguments: tuple[str, ...],
    wait: bool,
    timeout: float | None,
    job_type: str | None,
    label: str | None,
    as_json: bool,
) -> None:
    """Run FUNCTION (MODULE:NAME) with ARGUMENTS as a job and print its jid.

    Arguments are Python literals where they parse (3, 'a', [1, 2], None), else strings;
    name=value passes a keyword argument (_type=c2 sets a job option)."""
    func = load_function(function)
    args, kwargs = call_arguments(arguments)
    try:
        jid = picloud.call(func, *args, **_reserved(job_type, label), **kwargs)
    except (TypeError, ValueError) as exc:  # arguments that do not fit the function
        raise click.ClickException(str(exc)) from None
    if not wait:
        show({"jid": jid}, as_json, [str(jid)])
        return
    value = wait_results([jid], timeout)[0]
    show({"jid": jid, "result": value}, as_json, [text(value)])


@click.command("exec", context_settings=EXEC_ARGUMENTS)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", type=float, help="Seconds to wait for the command.")
@job_options
@json_option
@click.pass_context
def exec_command(
    ctx: click.Context,
    command: tuple[str, ...],
    timeout: float | None,
    job_type: str | None,
    label: str | None,
    as_json: bool,
) -> None:
    """Run COMMAND as a job; print its stdout (its stderr to stderr) and exit with its code.

    One argument is a shell command line (picloud exec 'ls | wc -l'); several are a program and
    its arguments (picloud exec -- ls -l /tmp)."""
    jid = picloud.call(run_command, list(command), **_reserved(job_type, label))
    done = CommandResult(*wait_results([jid], timeout)[0])
    if as_json:
        show({"jid": jid, **done._asdict()}, True, [])
    else:
        click.echo(done.stdout, nl=False)
        click.echo(done.stderr, nl=False, err=True)
    ctx.exit(done.returncode if done.returncode >= 0 else 128 - done.returncode)
