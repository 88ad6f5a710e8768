"""``satusehat token``: fetch an access token (to check credentials, or for curl)."""

from __future__ import annotations

import argparse
import json
import time

from satusehat_async.cli.main import client_from_args

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``token`` command."""
    parser = subparsers.add_parser(
        "token",
        help="fetch an access token",
        description="Fetch an access token. Prints when it expires; --print prints the token "
        "itself to stdout (for piping into curl; it is a credential, handle it as one).",
    )
    parser.add_argument(
        "--print", dest="print_token", action="store_true", help="print the bearer token itself"
    )
    parser.set_defaults(func=_token)


async def _token(args: argparse.Namespace) -> int:
    async with client_from_args(args) as client:
        token = await client.get_token()
    if args.print_token:
        print(token.access_token)
    else:
        print(
            json.dumps(
                {
                    "token_type": token.token_type,
                    "expires_in": round(token.expires_at - time.time()),
                    "auth_url": client.auth_url,
                }
            )
        )
    return 0
