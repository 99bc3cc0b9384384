from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create a demo admin when there is no user at all, and say how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        if not users.exists():
            users.create_superuser(USERNAME, email="", password=password)
            self.stdout.write(f"Created the admin user. Log in as {USERNAME} / {password}")
            return
        admin = users.filter(username=USERNAME).first()
        if admin is not None and admin.check_password(password):
            self.stdout.write(f"Log in as {USERNAME} / {password}")
        else:
            self.stdout.write("Log in with your account (python manage.py createsuperuser adds one).")
