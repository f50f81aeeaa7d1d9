from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# subprocesses (`python -m runner`) run this tree's code, whichever checkout `pip install -e` named
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read or write the user's plan cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh outcome store for the test, also the default of `urs` subprocesses."""
    path = tmp_path / "state" / "outcomes.db"
    monkeypatch.setenv("URS_STORE", str(path))
    return path


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Real sshd hosts on 127.0.0.2, .3, ...: call fleet.start(n) for more."""
    from tests.sshd import Fleet

    hosts = Fleet(tmp_path_factory.mktemp("fleet"))
    yield hosts
    hosts.stop()


@pytest.fixture
def pm2(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Real PM2 with PM2_HOME in a temporary folder; killed at the end of the test."""
    from tests.pm2env import PM2Env

    env = PM2Env(tmp_path / "pm2")
    yield env
    env.stop()
