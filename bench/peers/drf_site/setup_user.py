"""Migrate the peer's database and print an API token for a fresh user."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
call_command("migrate", verbosity=0)

from django.contrib.auth.models import User  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

user, _ = User.objects.get_or_create(username="bench")
token, _ = Token.objects.get_or_create(user=user)
print(token.key)
