"""The app's shell: which tab of the bottom bar a page belongs to, and its title in the top bar.

`{% load app_shell %}`, then `{% app_tab as tab %}` and `{% page_title %}`.
"""

from django import template
from django.template.loader_tags import BLOCK_CONTEXT_KEY
from django.urls import reverse
from django.utils.safestring import SafeString

register = template.Library()

# The first segment of a page's path under /app/ names its tab; every other page is under Me.
TAB_OF_SECTION = {"": "score", "perks": "perks", "wallet": "wallet"}
ME = "me"


@register.simple_tag(takes_context=True)
def app_tab(context: template.Context) -> str:
    """The tab a page belongs to: Score, Perks and Wallet by their paths, everything else Me."""
    request = context.get("request")
    root = reverse("app:home")
    if request is None or not request.path.startswith(root):
        return ""
    section = request.path.removeprefix(root).split("/", 1)[0]
    return TAB_OF_SECTION.get(section, ME)


@register.simple_tag(takes_context=True)
def page_title(context: template.Context) -> SafeString:
    """The page's `page_title` block, rendered once more for the top bar (the document's
    <title> renders it first): Django has no `self.block` to name a block twice."""
    blocks = context.render_context.get(BLOCK_CONTEXT_KEY)
    block = blocks.get_block("page_title") if blocks is not None else None
    if block is None:
        return SafeString("")
    # A block's output is template output, already escaped where it held variables.
    return SafeString(block.render(context))  # nosec B703
