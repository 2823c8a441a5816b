"""`manage.py totp_enrol <username>`: give an operator the authenticator-app device the
console asks a code of, from a terminal on the servers (where production operators get
theirs; `ADMIN_TOTP_SELF_ENROL` lets the demo's enrol from the console instead).

It prints the otpauth:// URL and its QR code for the operator to scan, then the device is
confirmed at once: whoever may run commands here vouches for the person they hand it to.
"""

from io import StringIO
from typing import Any

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Console"


class Command(BaseCommand):
    help = "Enrol an authenticator app (TOTP) for a user: prints its QR code and otpauth:// URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="remove the user's existing devices first (a lost or replaced phone)",
        )

    def handle(self, *args: Any, username: str, replace: bool, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        devices = TOTPDevice.objects.filter(user=user)
        if devices.filter(confirmed=True).exists() and not replace:
            raise CommandError(f"{username} has a device already; add --replace to give them a new one.")
        devices.delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
        qr = segno.make(device.config_url, error="m")
        drawing = StringIO()
        qr.terminal(out=drawing, compact=True)
        self.stdout.write(drawing.getvalue())
        self.stdout.write(f"\n{device.config_url}\n")
        self.stdout.write(
            self.style.SUCCESS(
                f"Scan the code (or open the URL) in {username}'s authenticator app; "
                "the console asks for its code from their next sign-in."
            )
        )
