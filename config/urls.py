from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.media import PUBLIC_IMAGE_PATTERN, public_image
from config.views import healthz, home
from surfaces.api.stripe_webhook import stripe_webhook

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("app/", include("surfaces.app.urls")),
    path("portal/", include("surfaces.portal.urls")),
    path("api/v1/", include("surfaces.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Split, so that its script is a file of its own; Swagger UI's icons are data: images.
    path(
        "api/docs/",
        csp_update({"img-src": ["data:"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html")
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("stripe/webhook", stripe_webhook, name="stripe-webhook"),
    re_path(PUBLIC_IMAGE_PATTERN, public_image, name="public-image"),
]

handler400 = "config.error_pages.bad_request"
handler403 = "config.error_pages.permission_denied"
handler404 = "config.error_pages.page_not_found"
handler500 = "config.error_pages.server_error"
