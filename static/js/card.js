/*
 * A card form on Stripe.js, for the member's deposits (app) and the merchant's billing
 * card (portal). The page loads Stripe.js from the Stripe the server talks to, and says
 * in data- attributes on each <form data-card-form> what to do:
 *
 *   data-publishable-key   the key Stripe.js is made with
 *   data-stripe-account    the connected account the intent lives on, if any
 *   data-client-secret     the SetupIntent (seti_…) or PaymentIntent (pi_…) to confirm, or
 *   data-secret-url        where to POST for a fresh SetupIntent's secret ({client_secret})
 *   data-complete-url      where to POST once Stripe.js is done (with setup_intent after a
 *                          card is saved); it answers {status, client_secret?, message?}
 *   data-failed-text       what to say when something fails without a message of its own
 *
 * A SetupIntent saves the card from the form's card element (confirmCardSetup); a
 * PaymentIntent is 3-D Secure (confirmCardPayment). When the server's answer asks for
 * 3-D Secure in turn (requires_action with a new secret), that is confirmed and the server
 * asked again. Then the page is loaded again to show where things are.
 */
(function () {
  "use strict";

  function csrfToken(form) {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  async function post(form, url, fields) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
      body: new URLSearchParams(fields || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.error || form.dataset.failedText);
    }
    return answer;
  }

  async function authenticate(stripe, secret) {
    const result = await stripe.confirmCardPayment(secret);
    if (result.error) {
      throw new Error(result.error.message);
    }
  }

  function setUp(form) {
    const account = form.dataset.stripeAccount;
    const stripe = Stripe(form.dataset.publishableKey, account ? { stripeAccount: account } : undefined);
    const mount = form.querySelector("[data-card-element]");
    const card = mount ? stripe.elements().create("card") : null;
    const error = form.querySelector("[data-card-error]");
    const button = form.querySelector("button[type=submit]");
    if (card) {
      card.mount(mount);
    }

    function fail(message) {
      error.textContent = message || form.dataset.failedText;
      error.hidden = false;
      button.disabled = false;
    }

    async function complete() {
      let secret = form.dataset.clientSecret;
      if (!secret) {
        secret = (await post(form, form.dataset.secretUrl)).client_secret;
      }
      let fields = {};
      if (secret.startsWith("seti_")) {
        const result = await stripe.confirmCardSetup(secret, { payment_method: { card: card } });
        if (result.error) {
          throw new Error(result.error.message);
        }
        fields = { setup_intent: result.setupIntent.id };
      } else {
        await authenticate(stripe, secret);
      }
      let answer = await post(form, form.dataset.completeUrl, fields);
      if (answer.status === "requires_action" && answer.client_secret && answer.client_secret !== secret) {
        await authenticate(stripe, answer.client_secret);
        answer = await post(form, form.dataset.completeUrl);
      }
      if (answer.status === "requires_payment_method" && answer.client_secret) {
        form.dataset.clientSecret = answer.client_secret; // a card refused: the next try uses it
        throw new Error(answer.message);
      }
      window.location.reload();
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      complete().catch((failure) => fail(failure && failure.message));
    });
  }

  document.querySelectorAll("form[data-card-form]").forEach(setUp);
})();
