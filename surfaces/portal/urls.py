from django.contrib.auth.views import LogoutView
from django.urls import path

from loyalty.core.passwords import password_urls
from surfaces.portal import account, billing, campaigns, cashier, holds, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="portal:login"), name="logout"),
    # The signed-in person's own account; before the merchants' <slug>/ pages.
    path("login/code/", account.LoginTokenView.as_view(), name="login-token"),
    path("account/", account.account, name="account"),
    path("account/two-factor/", account.totp_enrol, name="totp-enrol"),
    *password_urls("portal", login_url="portal:login"),
    path("<slug:slug>/", views.dashboard, name="dashboard"),
    path("<slug:slug>/perks/<str:ref>/status", views.perk_status, name="perk-status"),
    path("<slug:slug>/keys/", views.keys, name="keys"),
    path("<slug:slug>/keys/<str:prefix>/revoke", views.key_revoke, name="key-revoke"),
    path("<slug:slug>/webhooks/", views.webhooks, name="webhooks"),
    path(
        "<slug:slug>/webhooks/deliveries/<int:delivery_id>/retry", views.delivery_retry, name="delivery-retry"
    ),
    path("<slug:slug>/audit/", views.audit, name="audit"),
    path("<slug:slug>/counter/", cashier.counter, name="counter"),
    path(
        "<slug:slug>/redemptions/<str:ref>/reversal",
        cashier.redemption_reversal,
        name="redemption-reversal",
    ),
    path("<slug:slug>/campaigns/", campaigns.campaigns, name="campaigns"),
    path("<slug:slug>/campaigns/<str:ref>/", campaigns.campaign, name="campaign"),
    path(
        "<slug:slug>/campaigns/<str:ref>/progress",
        campaigns.campaign_progress_fragment,
        name="campaign-progress",
    ),
    path("<slug:slug>/campaigns/<str:ref>/codes.csv", campaigns.campaign_codes, name="campaign-codes"),
    path("<slug:slug>/holds/", holds.holds, name="holds"),
    path("<slug:slug>/holds/<str:ref>/", holds.hold, name="hold"),
    path("<slug:slug>/holds/<str:ref>/lift", holds.hold_lift, name="hold-lift"),
    path("<slug:slug>/billing/", billing.billing, name="billing"),
    path("<slug:slug>/billing/card/setup", billing.card_setup, name="billing-card-setup"),
    path("<slug:slug>/billing/card", billing.card_save, name="billing-card-save"),
]
