"""The playbook schema: every field a playbook and a step may have, and the checks that turn
loaded YAML into `Playbook` and `Step` values, collecting every problem in one pass."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.errors import Problem, describe, did_you_mean
from runner.fields import Field, Fields, as_list, parse_duration
from runner.load.yamlfile import Node, Seq
from runner.model import SHELL, Action, Playbook, Retry, Step

PLAYBOOK_FIELDS: Fields = {
    "name": Field("str", "the playbook's name (default: the file's stem)"),
    "description": Field("str", "one line shown by `urs list`"),
    "hosts": Field("str", "an inventory host pattern (default: all)", default="all"),
    "defaults": Field("mapping", "variables with the lowest precedence: inventory vars win"),
    "vars": Field("mapping", "variables for every step's templates"),
    "secrets": Field("mapping", "variables whose values are masked in all output"),
    "steps": Field("list", "the steps"),
    "playbooks": Field("names", "other playbooks to run as part of this one graph"),
    "concurrency": Field("int", "steps run at once on one host (default 4)", minimum=1),
    "timeout": Field("duration", "the timeout of each step that sets none (default: the run's, "
                     "300s)", minimum=0.001),
    "serial": Field("int", "hosts per batch; the next batch starts when one ends", minimum=1),
    "max_fail_percentage": Field("number", "stop starting batches past this share of failed "
                                 "hosts", minimum=0, maximum=100),
}

STEP_FIELDS: Fields = {
    "name": Field("str", "unique within the playbook", required=True),
    "description": Field("str", "what the step is for"),
    "needs": Field("names", "steps that must pass first"),
    "when": Field("when", "a Jinja2 expression; the step is skipped when false"),
    "retries": Field("int", "extra attempts after a failed one", minimum=0),
    "delay": Field("duration", "wait before the second attempt"),
    "backoff": Field("number", "each later wait is this many times the previous", minimum=1),
    "max_delay": Field("duration", "the longest wait between attempts"),
    "timeout": Field("duration", "the longest one attempt may take", minimum=0.001),
    "ignore_errors": Field("bool", "a failure neither skips dependents nor fails the run"),
    "tags": Field("names", "names for --tags and --skip-tags"),
    "become": Field("bool", "run as another user through sudo"),
    "become_user": Field("str", "the user for become (default root)"),
    "env": Field("env", "environment variables for the step's commands"),
    "cwd": Field("str", "the working directory of the step's commands"),
    "no_log": Field("bool", "hide the step's command and output everywhere"),
    "local": Field("bool", "run on the control machine, once per host, with its vars"),
    "run_once": Field("bool", "run for the first host only; every host gets the result"),
    "ok_codes": Field("codes", "exit codes that count as success (default 0)"),
}

ACTIONS = ("run", "check")


@dataclass
class Parsed:
    """What one file gave, kept when it has problems too: the steps that passed the schema and
    the names templates may use, so their template problems are reported in the same pass."""

    file: str
    steps: list[Step] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)
    step_names: set[str] = field(default_factory=set)
    rejected: list[tuple[int, Node]] = field(default_factory=list)  # steps that did not parse


Resolve = Callable[[str, str, int], Playbook | None]


class Collector:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.step_names: set[str] = set()
        self.rejected: list[tuple[int, Node]] = []  # steps with problems, as loaded

    def add(self, line: int | None, field: str, expected: str, found: str = "",
            hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, field, expected, found, hint))

    def fields(self, node: Node, spec: Fields, where: str, allowed: set[str]) -> None:
        for key, value in node.items():
            path = f"{where}.{key}" if where else key
            if key not in spec and key not in allowed:
                self.add(node.line_of(key), path, "a known key", f"'{key}'",
                         did_you_mean(key, [*spec, *allowed]))
            elif key in spec and (expected := spec[key].check(value)):
                hint = boolean_hint(value, self.step_names) if key == "needs" else ""
                self.add(node.line_of(key), path, expected, describe(value), hint)
        for key, spec_field in spec.items():
            if spec_field.required and key not in node:
                self.add(node.line, f"{where}.{key}" if where else key,
                         "a value (it is required)", "none")


BOOLEAN_WORDS = {True: ("on", "yes", "true", "y"), False: ("off", "no", "false", "n")}


def boolean_hint(value: object, step_names: set[str]) -> str:
    """For `needs: on` (YAML 1.1 reads on/yes/no as booleans): quote it, and which step."""
    found = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, bool)]
    if not found:
        return ""
    words = BOOLEAN_WORDS[found[0]]
    match = next((n for n in sorted(step_names) if n.lower() in words), "")
    for word in words[:3] if not match else ():
        match = did_you_mean(word, step_names).removeprefix("did you mean '").rstrip("'?")
        if match:
            break
    hint = f"YAML reads an unquoted {', '.join(words[:3])} as {str(found[0]).lower()}: quote " \
        "step names"
    return f"{hint}; did you mean '{match}'?" if match else hint


def build_playbook(data: Any, file: str, stem: str, modules: Mapping[str, Fields],
                   resolve: Resolve) -> tuple[Playbook | None, list[Problem], Parsed]:
    """A Playbook from loaded YAML, every problem found on the way, and what parsed."""
    col = Collector(file)
    parsed = Parsed(file)
    if not isinstance(data, Node):
        expected = "a playbook (a mapping with 'steps' or 'playbooks')"
        col.add(getattr(data, "line", 1), "", expected, "an empty file" if data is None
                else describe(data))
        return None, col.problems, parsed
    col.fields(data, PLAYBOOK_FIELDS, "", set())
    if "steps" not in data and "playbooks" not in data:
        col.add(data.line, "steps", "a list of steps (or 'playbooks')", "none")
    raw_steps: list[Any] = data["steps"] if isinstance(data.get("steps"), list) else []
    col.step_names = parsed.step_names = {str(s["name"]) for s in raw_steps
                                          if isinstance(s, dict) and "name" in s}
    parsed.steps = steps = _steps(col, data.get("steps"), modules)
    parsed.rejected = col.rejected
    parsed.variables = {k for key in ("vars", "defaults", "secrets")
                        if isinstance(data.get(key), dict) for k in data[key]}
    includes = _includes(col, data, resolve)
    if col.problems:
        return None, col.problems, parsed
    book = Playbook(
        name=str(data.get("name") or stem), path=file, description=data.get("description") or "",
        hosts=data.get("hosts") or "all", vars=data.get("vars") or {},
        defaults=data.get("defaults") or {},
        secrets=data.get("secrets") or {}, steps=tuple(steps), includes=tuple(includes),
        concurrency=data.get("concurrency") or 4, serial=data.get("serial"),
        timeout=parse_duration(data["timeout"]) if "timeout" in data else None,
        max_fail_percentage=data.get("max_fail_percentage"),
    )
    return book, col.problems, parsed


def _includes(col: Collector, data: Node, resolve: Resolve) -> list[Playbook]:
    names = data.get("playbooks")
    if not isinstance(names, str | list):
        return []
    found = []
    for index, name in enumerate(as_list(names)):
        line = names.line_of(index) if isinstance(names, Seq) else data.line_of("playbooks")
        included = resolve(str(name), col.file, line) if isinstance(name, str) else None
        if included is not None:
            found.append(included)
    return found


def _steps(col: Collector, raw: object, modules: Mapping[str, Fields]) -> list[Step]:
    if not isinstance(raw, Seq):
        return []
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        where = f"steps[{index}]"
        if not isinstance(item, Node):
            col.add(raw.line_of(index), where, "a step (a mapping)", describe(item))
            continue
        name = item.get("name")
        if isinstance(name, str) and name in seen:
            col.add(item.line_of("name"), f"{where}.name", "a unique step name",
                    f"'{name}' again (first on line {seen[name]})")
        elif isinstance(name, str):
            seen[name] = item.line_of("name")
        step = _step(col, item, index, where, modules)
        if step is not None:
            steps.append(step)
        else:
            col.rejected.append((index, item))
    _check_needs(col, raw, steps, set(seen))
    return steps


def _check_needs(col: Collector, raw: Seq, steps: list[Step], names: set[str]) -> None:
    for step in steps:
        node = raw[step.index]
        for need in step.needs:
            if need not in names:
                col.add(node.line_of("needs"), f"steps[{step.index}].needs",
                        "the name of a step in this playbook", f"'{need}'",
                        did_you_mean(need, names))


def _step(col: Collector, node: Node, index: int, where: str,
          modules: Mapping[str, Fields]) -> Step | None:
    before = len(col.problems)
    col.fields(node, STEP_FIELDS, where, {*ACTIONS, "recover", *modules})
    kind, action = _main_action(col, node, where, modules)
    recover = _recover(col, node, where, modules, kind)
    if len(col.problems) > before or action is None:
        return None
    retry = Retry(
        retries=node.get("retries", 0), delay=parse_duration(node.get("delay", 0)) or 0.0,
        backoff=float(node.get("backoff", 1)),
        max_delay=parse_duration(node["max_delay"]) if "max_delay" in node else None,
    )
    when = node.get("when")
    return Step(
        name=node["name"], line=node.line, index=index, kind=kind, action=action,
        recover=recover, needs=tuple(as_list(node.get("needs"))),
        when=None if when is None else str(when).lower() if isinstance(when, bool) else when,
        retry=retry, timeout=parse_duration(node["timeout"]) if "timeout" in node else None,
        ignore_errors=node.get("ignore_errors", False), tags=frozenset(as_list(node.get("tags"))),
        become=node.get("become"), become_user=node.get("become_user"),
        env={k: _env_value(v) for k, v in (node.get("env") or {}).items()},
        cwd=node.get("cwd"), no_log=node.get("no_log", False), local=node.get("local", False),
        run_once=node.get("run_once", False),
        ok_codes=frozenset(as_list(node.get("ok_codes", 0))),
        description=node.get("description") or "", key_lines=dict(node.key_lines),
    )


def _env_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _main_action(col: Collector, node: Node, where: str,
                 modules: Mapping[str, Fields]) -> tuple[str, Action | None]:
    keys = [k for k in node if k in ACTIONS or k in modules]
    if not keys:
        col.add(node.line, where, "one action: run, check or a module ("
                + ", ".join(sorted(modules)) + ")", "none")
        return "run", None
    if len(keys) > 1:
        col.add(node.line_of(keys[1]), where, "exactly one action", ", ".join(keys))
        return "run", None
    key = keys[0]
    if key in modules:
        return "module", _module_action(col, node, key, f"{where}.{key}", modules)
    return key, _action(col, node, key, f"{where}.{key}", modules)


def _recover(col: Collector, node: Node, where: str, modules: Mapping[str, Fields],
             kind: str) -> Action | None:
    if "recover" not in node:
        return None
    if kind != "check":
        col.add(node.line_of("recover"), f"{where}.recover", "recover only beside check",
                f"recover with {kind}")
        return None
    return _action(col, node, "recover", f"{where}.recover", modules)


def _action(col: Collector, node: Node, key: str, where: str,
            modules: Mapping[str, Fields]) -> Action | None:
    """`run`, `check` or `recover`: a shell command, or (check/recover) a one-module mapping."""
    value, line = node[key], node.line_of(key)
    if isinstance(value, str) and value.strip():
        return Action(SHELL, {"cmd": value}, line)
    if key != "run" and isinstance(value, Node) and len(value) == 1:
        (module,) = value
        if module in modules:
            return _module_action(col, value, module, f"{where}.{module}", modules)
        col.add(value.line_of(module), f"{where}.{module}", "a module", f"'{module}'",
                did_you_mean(module, modules))
        return None
    expected = "a shell command" if key == "run" else "a shell command or one module mapping"
    col.add(line, where, expected, describe(value))
    return None


def _module_action(col: Collector, node: Node, key: str, where: str,
                   modules: Mapping[str, Fields]) -> Action | None:
    args = node[key]
    if args is None:
        args = Node()
        args.line, args.key_lines = node.line_of(key), {}
    if not isinstance(args, Node):
        col.add(node.line_of(key), where, f"the {key} module's arguments (a mapping)",
                describe(args))
        return None
    before = len(col.problems)
    col.fields(args, modules[key], where, set())
    if len(col.problems) > before:
        return None
    return Action(key, dict(args), node.line_of(key))
