"""Create the first superuser with a generated password, printed once.

No password is fixed anywhere: each new checkout gets its own. When the user
already exists the command says so and leaves it alone.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser with a random password and print it once (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin", help="Login name (default: admin).")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Superuser '{username}' already exists; its password was printed when it was created. "
                f"To set a new one: python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                "Superuser created. Log in at http://127.0.0.1:8000/ (staff pages; /admin/ to edit) with"
            )
        )
        self.stdout.write(f"    username: {username}\n    password: {password}")
        self.stdout.write("This password is shown only now.")
