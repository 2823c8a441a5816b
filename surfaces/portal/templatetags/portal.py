"""What a merchant page shows of the others: only those the person's role opens
(`surfaces.portal.access.may_use`, from the permission each page declares)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from surfaces.portal import access

register = template.Library()


@register.simple_tag(takes_context=True)
def may_use(context: template.Context, url_name: str) -> bool:
    """`{% may_use "portal:campaign-codes" as can_download %}`: whether the role opens that page."""
    return access.may_use(context["request"], url_name)


@register.simple_tag(takes_context=True)
def section_link(context: template.Context, url_name: str, label: str) -> SafeString | str:
    """A link to one of the merchant's sections, or nothing for a role it would refuse."""
    request = context["request"]
    if not access.may_use(request, url_name):
        return ""
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[request.merchant.slug]), label)
