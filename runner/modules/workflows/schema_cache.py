"""Code generated from the workflow schema, kept between runs in the user's own cache folder
(`$XDG_CACHE_HOME/urs/schemas`, mode 0700) compiled, so later runs skip generating and
compiling it (bytecode is kept even where PYTHONDONTWRITEBYTECODE is set). A file is loaded only
if this user owns it and nobody else may write it; the file name carries this Python's bytecode
magic number. Anything unreadable is generated again; a cache that cannot be written is no
error."""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

Check = Callable[[Any], Any]


def folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "urs" / "schemas"


def _path(name: str) -> Path:
    return folder() / f"{name}-{importlib.util.MAGIC_NUMBER.hex()}.bin"


def load(name: str) -> Check | None:
    path = _path(name)
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        entry, code = marshal.loads(path.read_bytes())  # noqa: S302 - our own file, see above
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return _run(entry, code) if isinstance(code, CodeType) and isinstance(entry, str) else None


def store(name: str, entry: str, source: str) -> Check | None:
    """Keep the compiled source; return its function named entry."""
    code = compile(source, name, "exec")
    with contextlib.suppress(OSError):
        where = folder()
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=where, delete=False, suffix=".tmp") as tmp:
            tmp.write(marshal.dumps((entry, code)))
        Path(tmp.name).chmod(0o600)
        Path(tmp.name).replace(_path(name))
    return _run(entry, code)


def _run(entry: str, code: CodeType) -> Check | None:
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - compiled from the schema by fastjsonschema
    check = namespace.get(entry)
    return check if callable(check) else None
