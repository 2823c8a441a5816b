"""Domain events of the member side, which the scoring app subscribes to, so that
`members` never imports `scoring` (loyalty/scoring/receivers.py).

They are sent inside the transaction that causes them, with `send`, not after commit: a
member without a standing, or a consent change the engine does not see, must roll back
with its cause, so a receiver's error reaches the sender.

- `member_joined`: `member` (a saved Member).
- `consent_changed`: `member_id`, `dimension`, `granted`.
- `check_verified`: `member` (a Member), `check` ("email", "phone" or "identity"),
  `verified_at` (an aware datetime).
"""

from django.dispatch import Signal

member_joined = Signal()
consent_changed = Signal()
check_verified = Signal()
