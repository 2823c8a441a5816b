from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from loyalty.core.views import healthz, home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("app/", include("loyalty.app.urls")),
    path("portal/", include("perks.portal.urls")),
    path("api/v1/", include("perks.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "loyalty.errors.bad_request"
handler403 = "loyalty.errors.permission_denied"
handler404 = "loyalty.errors.page_not_found"
handler500 = "loyalty.errors.server_error"
