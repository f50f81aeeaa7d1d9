"""One step on one host: `when`, check mode, attempts with retries and backoff, and the
run / check + recover / module actions. Returns the raw (unredacted) StepResult.

Whatever happens inside a step becomes its result: `failed` when the thing checked is
broken (or an action ran out of time), `error` when the check itself broke (a template that
does not render, an argument that is invalid once rendered, a module that raised): an error
is never followed by `recover`; `interrupted` when the run was cancelled meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runner.connections import Become, Connection, Unreachable
from runner.errors import DeadlineExceeded, Interrupted, current_traceback
from runner.execute.when import when_false
from runner.fields import with_defaults
from runner.model import FAILING, Action, PastAction, PastOutcome, Status, Step, StepResult
from runner.modules import ActionResult, Mode, Module, ModuleCall
from runner.templating import TemplateFailure, bounded_by, evaluate, render, text


class InvalidArgument(Exception):
    """A module argument that does not fit its field once rendered."""


class NothingToDo(Exception):
    """A module found nothing to do here (no token, not configured): the step is skipped."""

    def __init__(self, result: ActionResult) -> None:
        super().__init__(result.reason)
        self.result = result


@dataclass(frozen=True)
class StepCall:
    playbook: str
    host: str
    step: Step
    connection: Connection
    context: Mapping[str, Any]
    modules: Mapping[str, Module]
    check_mode: bool
    cancel: threading.Event
    become: Become | None
    timeout: float  # each action of an attempt: the step's, the playbook's or the run's
    past_actions: tuple[PastAction, ...] = ()  # what modules did on this host in earlier runs
    previous: tuple[PastOutcome, ...] = ()  # this step's earlier outcomes here, newest first
    quarantined: str = ""  # why the flap guard withholds this step's recovery here, if it does
    secret: Callable[[str], None] = field(default=lambda value: None)  # masks a module's secret
    # told before each wait between attempts: (next attempt, attempts, delay, why it failed)
    on_retry: Callable[[int, int, float, str], None] | None = None


@dataclass(frozen=True)
class Outcome:
    status: Status
    last: ActionResult
    reason: str = ""
    skip: str = ""
    attempts: int = 1
    fields: Mapping[str, Any] | None = None
    recovery_ran: bool = False  # a later attempt that passes at once still counts as recovered


def execute(call: StepCall) -> StepResult:
    started_at, start = time.time(), time.monotonic()
    outcome = _guarded(call)
    if call.cancel.is_set() and outcome.status in {Status.FAILED, Status.ERROR}:
        outcome = replace(outcome, status=Status.INTERRUPTED,
                          reason=f"interrupted: {_why(call.cancel)}")
    last = outcome.last
    status = outcome.status
    recovery = outcome.recovery_ran or (call.step.kind == "module" and status is Status.CHANGED
                                        and not call.check_mode)
    return StepResult(
        playbook=call.playbook, host=call.host, step=call.step.name, status=status, rc=last.rc,
        attempts=outcome.attempts, duration_s=round(time.monotonic() - start, 4),
        reason=outcome.reason, stdout=last.stdout, stderr=last.stderr,
        changed=status in {Status.CHANGED, Status.RECOVERED},
        # a failure of the step itself (quarantined included), not of its host
        ignored=status in FAILING - {Status.UNREACHABLE} and call.step.ignore_errors,
        started_at=started_at, ended_at=time.time(),
        fields={**(outcome.fields or last.fields),
                **({"skip": outcome.skip} if outcome.skip else {}),
                **({"recovery": True} if recovery else {})},
    )


def _why(cancel: threading.Event) -> str:
    return str(getattr(cancel, "reason", "") or "the run was stopped")


def _guarded(call: StepCall) -> Outcome:
    """The step's outcome, whatever the step raised; only a lost connection goes up."""
    try:
        return _decide(call)
    except Unreachable:
        raise
    except NothingToDo as skip:
        return Outcome(Status.SKIPPED, skip.result, skip.result.reason, skip="module",
                       attempts=0)
    except Interrupted:
        return Outcome(Status.INTERRUPTED, ActionResult(False),
                       f"interrupted: {_why(call.cancel)}")
    except TemplateFailure as exc:
        return _error(f"{call.step.name}: {exc}", type(exc).__name__)
    except InvalidArgument as exc:  # it names the module and the argument
        return _error(str(exc), type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - a module raised: the check itself broke
        return _error(f"{type(exc).__name__}: {exc}", type(exc).__name__,
                      current_traceback(limit=-8))


def _error(reason: str, kind: str, trace: str = "") -> Outcome:
    fields = {"error": kind, **({"traceback": trace} if trace else {})}
    return Outcome(Status.ERROR, ActionResult(False, fields=fields), reason, fields=fields)


def _decide(call: StepCall) -> Outcome:
    step = call.step
    if step.when is not None:
        with bounded_by(time.monotonic() + call.timeout, call.cancel):
            wanted = evaluate(step.when, call.context)
        if not wanted:
            steps = call.context.get("steps", {})
            return Outcome(Status.SKIPPED, ActionResult(True), when_false(step.when, steps),
                           skip="when", attempts=0)
    if call.check_mode and step.kind == "run":
        return Outcome(Status.SKIPPED, ActionResult(True),
                       f"check mode: would run {_shown(call, step.action)}", skip="check",
                       attempts=0)
    return _attempts(call)


def _shown(call: StepCall, action: Action) -> str:
    """An action as check mode reports it: the command, or the module with its arguments,
    rendered (as written when they do not render)."""
    if call.step.no_log:
        return "(hidden: no_log)"
    try:
        with bounded_by(time.monotonic() + call.timeout, call.cancel):
            args = render(dict(action.args), call.context)
    except TemplateFailure:
        return action.describe()
    if action.is_shell:
        return text(args["cmd"])
    shown = " ".join(f"{k}={v}" for k, v in args.items() if v not in (None, "", [], {}))
    return f"{action.module} {shown}"[:300]


def _attempts(call: StepCall) -> Outcome:
    retry = call.step.retry
    recovered = False
    attempt = 0
    while True:
        attempt += 1
        outcome = _attempt(call)
        recovered = recovered or outcome.recovery_ran
        if outcome.status is not Status.FAILED or attempt > retry.retries:
            break
        delay = retry.wait_before(attempt + 1)
        if call.on_retry is not None:
            call.on_retry(attempt + 1, retry.retries + 1, delay, outcome.reason)
        if call.cancel.wait(delay):
            break
    if recovered and outcome.status is Status.OK:
        outcome = replace(outcome, status=Status.RECOVERED)
    return replace(outcome, attempts=attempt, recovery_ran=recovered)


def _attempt(call: StepCall) -> Outcome:
    step = call.step
    if step.kind == "check":
        return _check(call)
    mode = Mode.CHECK if call.check_mode or call.quarantined else Mode.APPLY
    result = perform(call, step.action, mode)
    if result.ok:
        return Outcome(Status.CHANGED if result.changed else Status.OK, result)
    if call.quarantined and step.kind == "module":
        return _withheld(call, result)
    reason = result.reason
    if call.check_mode and step.kind == "module":
        reason = f"{reason}; would apply {step.action.module}"
    return Outcome(Status.FAILED, result, reason)


def _check(call: StepCall) -> Outcome:
    first = perform(call, call.step.action, Mode.CHECK)
    if first.ok:
        return Outcome(Status.OK, first)
    recover = _recovery(call, first)
    if isinstance(recover, Outcome):
        return recover
    fixed = perform(call, recover, Mode.APPLY)
    if not fixed.ok:
        return Outcome(Status.FAILED, fixed, f"recovery failed: {fixed.reason}",
                       fields=fixed.fields, recovery_ran=True)
    again = perform(call, call.step.action, Mode.CHECK)
    fields = {**again.fields, **fixed.fields}  # what the recovery did wins
    if again.ok:
        return Outcome(Status.RECOVERED, again, f"recovered: {first.reason}", fields=fields,
                       recovery_ran=True)
    return Outcome(Status.FAILED, again, f"still failing after recovery: {again.reason}",
                   fields=fields, recovery_ran=True)


def _recovery(call: StepCall, first: ActionResult) -> Action | Outcome:
    """The recovery to run after a failed check, or the outcome when none runs: none given,
    the flap guard withholds it, or check mode only says what it would do."""
    if call.step.recover is None:
        return Outcome(Status.FAILED, first, first.reason)
    if call.quarantined:
        return _withheld(call, first)
    if call.check_mode:
        would = _shown(call, call.step.recover)
        return Outcome(Status.FAILED, first, f"{first.reason}; would recover: {would}",
                       fields={**first.fields, "would_recover": would})
    return call.step.recover


def _withheld(call: StepCall, result: ActionResult) -> Outcome:
    return Outcome(Status.QUARANTINED, result,
                   f"{result.reason}; recovery withheld: {call.quarantined}",
                   fields={**result.fields, "quarantined": call.quarantined})


def perform(call: StepCall, action: Action, mode: Mode) -> ActionResult:
    """Run one action (shell or module) with the step's env, cwd and become, within the
    step's timeout: rendering, the command and every wait of a module share one deadline."""
    deadline = time.monotonic() + call.timeout
    with bounded_by(deadline, call.cancel):
        env = {k: text(render(v, call.context)) for k, v in call.step.env.items()}
        cwd = text(render(call.step.cwd, call.context)) if call.step.cwd else None
        args = render(dict(action.args), call.context)
        if action.is_shell:
            command = text(args["cmd"])
        else:
            module = call.modules[action.module]
            args = _module_args(module, action.module, args)
    if action.is_shell:
        return _shell(call, command, env, cwd, deadline)
    try:
        result = module.run(ModuleCall(
            args=args, mode=mode, connection=call.connection, host=call.host, vars=call.context,
            timeout=call.step.timeout, env=env, cwd=cwd, become=call.become, deadline=deadline,
            cancel=call.cancel, past_actions=call.past_actions, previous=call.previous,
            secret=call.secret))
    except DeadlineExceeded:
        return ActionResult(False, reason=f"{action.module}: timed out after "
                            f"{call.timeout:g}s")
    if result.skipped:
        raise NothingToDo(result)
    _check_actions(action.module, result.fields.get("actions"))
    return result


def _check_actions(module: str, actions: object) -> None:
    """What a module says it did is recorded and counted against caps in later runs: a list of
    {"kind": str, "target": str}; anything else is a bug of the module (the step is `error`)."""
    if actions is None:
        return
    if not isinstance(actions, list) or not all(
            isinstance(a, dict) and isinstance(a.get("kind"), str)
            and isinstance(a.get("target"), str) for a in actions):
        raise InvalidArgument(f"{module}: reported fields['actions'] as {actions!r}; expected a "
                              "list of {'kind': str, 'target': str}")


def _module_args(module: Module, name: str, rendered: dict[str, Any]) -> dict[str, Any]:
    args = {k: module.fields[k].coerce(v) if k in module.fields else v
            for k, v in rendered.items()}
    args = with_defaults(module.fields, args)
    for key, declared in module.fields.items():
        if key in args and (expected := declared.check(args[key])):
            raise InvalidArgument(f"{name}: {key}: expected {expected}, found {args[key]!r}")
    return args


def _shell(call: StepCall, command: str, env: dict[str, str], cwd: str | None,
           deadline: float) -> ActionResult:
    step = call.step
    left = max(deadline - time.monotonic(), 0.001)
    res = call.connection.run(command, env=env, cwd=cwd, timeout=left, become=call.become)
    ok = res.rc in step.ok_codes and not res.timed_out
    if ok:
        return ActionResult(True, res.rc, res.stdout, res.stderr)
    if res.timed_out:
        reason = f"timed out after {call.timeout:g}s; its processes were killed"
    else:
        reason = f"exit code {res.rc}"
        detail = _last_line(res.stderr) or _last_line(res.stdout)
        reason += f": {detail}" if detail else ""
    return ActionResult(False, res.rc, res.stdout, res.stderr, reason=reason)


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
