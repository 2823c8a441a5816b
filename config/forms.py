"""How Django forms render when a template prints `{{ form }}` or `{{ field.as_field_group }}`.

One form and one field template for every form the project renders whole (the portal's,
and any other surface's that chooses to): the label, its help and its errors in the same
places, the errors and help tied to the input by `aria-describedby` (Django sets it, and
`aria-invalid`, from the ids these templates give them), and a checkbox beside its label
rather than above it. They are project templates (templates/forms/), so the renderer reads
the project's template settings; Django's own widget templates come from `django.forms`
among the installed apps.
"""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "forms/div.html"
    field_template_name = "forms/field.html"
