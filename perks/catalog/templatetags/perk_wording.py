"""`{% load perk_wording %}`, then `{{ perk|perk_title }}`, `{{ perk|perk_description }}` and
`{{ perk|perk_benefit }}`: perks.catalog.wording for templates, in the active language."""

from django import template

from perks.catalog import wording

register = template.Library()
register.filter("perk_title", wording.perk_title)
register.filter("perk_description", wording.perk_description)
register.filter("perk_benefit", wording.perk_benefit)
