"""What every command of ``gilmok`` shares: the settings, one-line errors, the cordon and level
flags, and the database engines as the schema's owner or as the service.

Every command reads the settings once (lazily, so that ``--help`` works with a broken
environment), and every :class:`geo.errors.GilmokError` ends the command with one line on stderr
naming the problem (exit status 1), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from api.settings import Settings, load_settings
from geo.cordon import CordonOptions
from geo.domain import CORDON_MODES, DEFAULT_DORI_LEVEL, DIRECTIONS, DORI_PX_PER_M, TRAVEL_MODES
from geo.errors import GilmokError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print one error line and exit with status 1."""
    click.echo(f"gilmok: error: {message}", err=True)
    sys.exit(1)


def domain_errors(func: F) -> F:
    """Report gilmok's own errors as one line instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GilmokError as exc:
            fail(exc.message)
        return None

    return wrapper  # type: ignore[return-value]


class Context:
    """Settings, read lazily so that ``--help`` works with a broken environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)

_CORDON_FLAGS = (
    click.option("--radius", "radius_m", type=float, help="Cordon radius, metres (default 500)."),
    click.option("--minutes", type=float, help="Time-based cordon: minutes of travel ..."),
    click.option("--speed-kmh", type=float, help="... at this speed, km/h."),
    click.option("--mode", type=click.Choice(CORDON_MODES), default=CORDON_MODES[0]),
    click.option("--direction", type=click.Choice(DIRECTIONS), default=DIRECTIONS[0]),
    click.option("--travel", type=click.Choice(TRAVEL_MODES), default=TRAVEL_MODES[0]),
)

#: ``--level``: the DORI level cameras are ranked at.
level_option = click.option(
    "--level",
    type=click.Choice(tuple(DORI_PX_PER_M)),
    default=DEFAULT_DORI_LEVEL,
    show_default=True,
    help="DORI level (IEC 62676-4) the cameras must reach on the watch stretch.",
)


def cordon_options(func: F) -> F:
    """The cordon's six options as flags (their choices from :mod:`geo.domain`), given to the
    command as one checked :class:`geo.cordon.CordonOptions` named ``cordon``. Put it below
    :func:`domain_errors`, which reports a bad combination (a radius and minutes) as one line."""

    @wraps(func)
    def wrapper(
        *args: Any,
        radius_m: float | None,
        minutes: float | None,
        speed_kmh: float | None,
        mode: str,
        direction: str,
        travel: str,
        **kwargs: Any,
    ) -> Any:
        cordon = CordonOptions(
            radius_m=radius_m, minutes=minutes, speed_kmh=speed_kmh,
            mode=mode, direction=direction, travel=travel,
        )  # fmt: skip
        return func(*args, cordon=cordon, **kwargs)

    decorated: Any = wrapper
    for flag in reversed(_CORDON_FLAGS):
        decorated = flag(decorated)
    return decorated


def checked_engine(ctx: Context, *, owner: bool = False) -> Any:
    """A checked engine on a database at the code's schema revision: as the service, or with
    ``owner`` as the schema's owner (imports)."""
    from geo.store import connect
    from geo.store.migrate import require_current

    settings = ctx.settings
    checked = connect(settings.owner_database_url if owner else settings.database_url)
    require_current(checked)
    return checked


def service_engine(ctx: Context) -> Any:
    """:func:`checked_engine`, refusing a login role that could change the schema or the audit trail
    (the long-running service: ``serve``, ``worker``)."""
    from geo.store.app_role import require_service_role
    from geo.store.db import database_errors

    checked = checked_engine(ctx)
    with database_errors(checked.url), checked.connect() as conn:
        require_service_role(conn)
    return checked


def cli_actor() -> str:
    """How the audit trail names a person at the terminal."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
