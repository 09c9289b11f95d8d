"""``manage.py createapikey``: make an API key and print its secret (the only time it is shown)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webui.apikeys.issuing import issue_key


class Command(BaseCommand):
    help = "Create an API key; its secret is printed once and stored only hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--description", default="", help="what the key is for")
        parser.add_argument("--user", help="Django username that owns the key")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no Django user named {options['user']!r}")
        api_key, secret = issue_key(description=options["description"], user=user)
        if options["json"]:
            self.stdout.write(json.dumps({"api_key": api_key.key, "api_secretkey": secret}))
            return
        self.stdout.write(f"api_key:       {api_key.key}")
        self.stdout.write(f"api_secretkey: {secret}")
        self.stdout.write("Keep the secret now: it is stored hashed and cannot be shown again.")
        self.stdout.write(f'Use it with: cloud.setkey({api_key.key}, "{secret}")')
