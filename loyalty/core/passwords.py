"""Password change and reset for a surface: Django's own views, the surface's look.

The app and the portal each include `password_urls("<surface>", login_url=...)` in their
URLs. Every page renders `<surface>/account_page.html` (a title, a few words, the form if
there is one); the reset mail is `<surface>/password_reset_email.txt`, so its link leads
back to the surface the person asked from. Mail goes through Django's email backend
(`EMAIL_URL`, the console in the demo).
"""

from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpResponse
from django.urls import URLPattern, path, reverse_lazy
from django.utils.translation import gettext_lazy as _


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    success_message = _("Your password is changed. Use the new one from now on.")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A new password set from the mailed link also lifts a lockout on the account: the
    link proves the person holds the mailbox, which is more than a password would."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


def password_urls(surface: str, *, login_url: str) -> list[URLPattern]:
    page = f"{surface}/account_page.html"

    def to(name: str) -> Any:
        return reverse_lazy(f"{surface}:{name}")

    return [
        path(
            "account/password/",
            login_required(
                PasswordChangeView.as_view(template_name=page, success_url=to("account")), login_url=login_url
            ),
            name="password-change",
        ),
        path(
            "password-reset/",
            auth_views.PasswordResetView.as_view(
                template_name=page,
                email_template_name=f"{surface}/password_reset_email.txt",
                subject_template_name=f"{surface}/password_reset_subject.txt",
                success_url=to("password-reset-sent"),
                extra_context={
                    "intro": _(
                        "Give the e-mail address you sign in with: "
                        "we will send a link to choose a new password."
                    )
                },
            ),
            name="password-reset",
        ),
        path(
            "password-reset/sent/",
            auth_views.PasswordResetDoneView.as_view(
                template_name=page,
                extra_context={
                    "intro": _(
                        "If an account uses that address, a link to choose a new password is on its way. "
                        "It works once, for a few days. "
                        "Nothing came? Look in the spam folder, or check the address."
                    )
                },
            ),
            name="password-reset-sent",
        ),
        path(
            "password-reset/<uidb64>/<token>/",
            PasswordResetConfirmView.as_view(template_name=page, success_url=to("password-reset-done")),
            name="password-reset-confirm",
        ),
        path(
            "password-reset/done/",
            auth_views.PasswordResetCompleteView.as_view(
                template_name=page,
                extra_context={"intro": _("Your new password is set. You can sign in with it now.")},
            ),
            name="password-reset-done",
        ),
    ]
