from django.contrib.auth.views import LogoutView
from django.urls import path

from surfaces.app import views, wallet

app_name = "app"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="app:login"), name="logout"),
    path("holds/", views.holds, name="holds"),
    path("holds/<str:ref>/appeal", views.hold_appeal_file, name="hold-appeal"),
    path("consents/", views.consents, name="consents"),
    path("points/", views.points, name="points"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/export.json", views.privacy_export, name="privacy-export"),
    path("pass/", views.member_pass, name="pass"),
    path("perks/", wallet.perks, name="perks"),
    path("perks/<str:ref>/claim", wallet.perk_claim, name="perk-claim"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/<str:code>/", wallet.voucher, name="voucher"),
    path("wallet/<str:code>/qr.<str:kind>", wallet.voucher_qr, name="voucher-qr"),
]
