"""`luna learn`: verify a signed export file, make an export, show the signing key (docs/learning.md).

The helpers of `cli.app` (run, fail, container_scope) are imported inside the commands: `cli.app`
imports this module to register the group, so a module-level import would be circular.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from luna_iems.telemetry.export import service as export_service
from luna_iems.telemetry.export.schemas import ExportCreate, ExportRead, PublicKeyRead

learn_app = typer.Typer(
    help="Learning loop: verify, make and sign DP exports of aggregates.", no_args_is_help=True
)


@learn_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A signed export file (JSON).")],
) -> None:
    """Check an export's Ed25519 signature against the public key it carries. Exit 0: valid; exit 1:
    invalid, with the reason on one line. Offline: needs no database or settings."""
    from luna_iems.cli.app import console, run

    verified = run(lambda: export_service.verify_file(file))
    period = verified.payload.get("period") or {}
    console.print(
        f"valid: signed by key {verified.key_fingerprint}, period {period.get('from')} .. "
        f"{period.get('to')}, payload sha256 {verified.digest_sha256}",
        highlight=False,
        soft_wrap=True,
    )


@learn_app.command("export")
def export(
    ts_from: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601 with offset.")],
    ts_to: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601 with offset.")],
    send: Annotated[bool, typer.Option(help="Also POST the file to LEARN_EXPORT_URL.")] = False,
    bandit: Annotated[bool, typer.Option(help="Include the noisy bandit statistics.")] = True,
) -> None:
    """Write a signed DP export of [from, to) (same rules as POST /learn/export: privacy flag on,
    ε budget left). Prints the file's path last."""
    from luna_iems.cli.app import CliError, console, container_scope, run

    def action() -> ExportRead:
        try:
            export_in = ExportCreate.model_validate(
                {"from": ts_from, "to": ts_to, "send": send, "include_bandit": bandit}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CliError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        with container_scope() as container, container.session_factory() as session:
            return export_service.export(
                session=session,
                settings=container.settings,
                export_in=export_in,
                actor=export_service.Actor(key_id=None, role="cli"),
            )

    result = run(action)
    spent = ", ".join(
        f"{x.ledger} {x.epsilon_spent:g} (left {x.epsilon_remaining:g})" for x in result.ledgers
    )
    console.print(
        f"export signed by {result.key_fingerprint}, ε={result.epsilon:g}; budget: {spent}"
        + ("; sent" if result.sent else ""),
        highlight=False,
        soft_wrap=True,
    )
    print(result.file)


@learn_app.command("public-key")
def public_key() -> None:
    """This instance's Ed25519 public key (base64; generated at first use) and its fingerprint."""
    from luna_iems.cli.app import load_settings, run

    def action() -> PublicKeyRead:
        return export_service.public_key(settings=load_settings())

    key = run(action)
    print(key.public_key)
    print(key.fingerprint)
