"""Domain events of the member side, which the scoring app subscribes to, so that
`members` never imports `scoring` (loyalty/scoring/receivers.py).

They are sent inside the transaction that causes them, with `send`, not after commit: a
member without a standing, or a consent change the engine does not see, must roll back
with its cause, so a receiver's error reaches the sender.

- `member_joined`: `member` (a saved Member).
- `consent_changed`: `member_id`, `dimension`, `granted`.
- `check_verified`: `member` (a Member), `check` ("email", "phone" or "identity"),
  `verified_at` (an aware datetime).
- `member_erased`: `member` (the Member, its row locked), `at` (an aware datetime). Every
  app pseudonymises its own rows of that member (scoring, points, merchants, vouchers), so
  erasure never imports upward; the member side then removes its own.
"""

from django.dispatch import Signal

member_joined = Signal()
consent_changed = Signal()
check_verified = Signal()
member_erased = Signal()
