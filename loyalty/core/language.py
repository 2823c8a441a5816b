"""The language cookie every surface's language switch writes.

Before anyone chooses, the browser's Accept-Language decides (Django's LocaleMiddleware);
the cookie, once set, wins over it on every page of the site.
"""

from typing import Literal, cast

from django.conf import settings
from django.http import HttpResponse

SameSite = Literal["Lax", "Strict", "None"]


def language_cookie_set(response: HttpResponse, language: str) -> None:
    """Remember `language` in this browser, for the pages before sign-in and after sign-out."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=cast(SameSite, settings.LANGUAGE_COOKIE_SAMESITE),
    )
