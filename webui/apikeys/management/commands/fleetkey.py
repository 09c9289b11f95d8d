"""``manage.py fleetkey``: make the fleet authority (once) and print its public half, the
``PICLOUD_FLEET_PUBLIC_KEY`` every worker host needs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from picloud.authority import Authority, authority_file
from picloud.exceptions import CloudException


class Command(BaseCommand):
    help = (
        "Make the fleet authority's key pair if there is none (in fleet_authority_file, "
        "default ~/.picloud/fleet-authority.key) and print its public key for the workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="print only the public key")

    def handle(self, *args: Any, **options: Any) -> None:
        path = authority_file()
        try:
            authority = Authority.load_or_create(path)
        except (CloudException, OSError) as exc:
            raise CommandError(str(exc)) from None
        if options["quiet"]:
            self.stdout.write(authority.public_key)
            return
        self.stdout.write(f"fleet authority: {path} (keep it on this host only)")
        self.stdout.write(f"PICLOUD_FLEET_PUBLIC_KEY={authority.public_key}")
