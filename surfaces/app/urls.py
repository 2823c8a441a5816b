from django.contrib.auth.views import LogoutView
from django.urls import path

from loyalty.core.passwords import password_urls
from surfaces.app import account, deposits, events, me, member_pass, pwa, score, sharing, views, wallet
from surfaces.app.erasure import account_delete, account_delete_cancel
from surfaces.app.language import language

app_name = "app"

urlpatterns = [
    path("", score.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", account.LoginTokenView.as_view(), name="login-token"),
    path("logout/", LogoutView.as_view(next_page="app:login"), name="logout"),
    path("language/", language, name="language"),
    path("me/", me.me, name="me"),
    path("messages/", me.member_messages, name="messages"),
    path("account/", account.account, name="account"),
    path("account/confirm-password", account.password_confirm, name="password-confirm"),
    *password_urls("app", login_url="app:login"),
    path("holds/", views.holds, name="holds"),
    path("events/", events.events, name="events"),
    path("events/<int:event_id>/dispute", events.event_dispute, name="event-dispute"),
    path("holds/<str:ref>/appeal", views.hold_appeal_file, name="hold-appeal"),
    path("consents/", views.consents, name="consents"),
    path("consents/links/add", sharing.link_add, name="link-add"),
    path("consents/links/<int:link_id>/end", sharing.link_end_view, name="link-end"),
    path("points/", views.points, name="points"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/export.json", views.privacy_export, name="privacy-export"),
    path("privacy/delete/", account_delete, name="account-delete"),
    path("privacy/delete/cancel", account_delete_cancel, name="account-delete-cancel"),
    path("pass/", member_pass.member_pass, name="pass"),
    path("deposits/", deposits.deposits, name="deposits"),
    path("deposits/<str:ref>/complete", deposits.deposit_complete, name="deposit-complete"),
    path("deposits/cards/remove", deposits.card_remove, name="card-remove"),
    path("perks/", wallet.perks, name="perks"),
    path("perks/<str:ref>/claim", wallet.perk_claim, name="perk-claim"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/<int:voucher_id>/", wallet.voucher, name="voucher"),
    path("wallet/<int:voucher_id>/qr.<str:kind>", wallet.voucher_qr, name="voucher-qr"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="sw"),
    path("offline/", pwa.offline, name="offline"),
]
