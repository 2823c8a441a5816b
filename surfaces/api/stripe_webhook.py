"""Stripe's webhooks in, at /stripe/webhook: a plain view, outside the partner API (no
key, no CSRF token: Stripe signs the body instead).

A verified event is stored and answered 200, whatever its type, and applied by a task; a
repeat is answered 200 too. A body whose signature does not verify is a 400, so Stripe
shows the delivery as failed.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from perks.billing.errors import StripeSignatureInvalid
from perks.billing.services import stripe_event_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except StripeSignatureInvalid as error:
        return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=400)
    return JsonResponse({"received": event.stripe_id})
