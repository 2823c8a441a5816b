"""What every portal page does the same way: run one service and say how it went, page a list."""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from loyalty.core.errors import DomainError

PAGE_SIZE = 25
T = TypeVar("T")


def attempt(request: HttpRequest, action: Callable[[], T], success: str) -> T | None:
    """`action()`, with `success` shown when it works and the refusal's message when not."""
    try:
        result = action()
    except DomainError as error:
        messages.error(request, error.message)
        return None
    messages.success(request, success)
    return result


def form_create(
    request: HttpRequest,
    form_class: type[forms.Form],
    create: Callable[[dict[str, Any]], T],
    success: str,
) -> tuple[forms.Form, T | None]:
    """A form that makes one thing: bound to a POST, the thing made from its cleaned data
    (None if the form or the service refused), and a blank form again once it is made."""
    form = form_class(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return form, None
    created = attempt(request, lambda: create(form.cleaned_data), success)
    return (form if created is None else form_class()), created


def page_of(request: HttpRequest, items: Any) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
