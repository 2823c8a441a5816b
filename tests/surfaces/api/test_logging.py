"""The partner API's log lines hold no voucher code: a partner looking up a code that is
not theirs (or no one's) gets a 404, and Django's request log line names only the code's
first symbols, in the tests' capture as in the JSON production writes."""

import json
import logging

from perks.vouchers.codes import code_format, code_generate
from tests.factories import VoucherFactory
from tests.support.logs import as_written


def test_a_voucher_looked_up_by_code_is_logged_masked(partner, other_partner, caplog):
    code = VoucherFactory.create(perk__merchant=other_partner.merchant).code
    unknown = code_generate()
    caplog.set_level(logging.DEBUG)

    responses = [partner.get(f"/vouchers/{code}"), partner.get(f"/vouchers/{code_format(unknown).lower()}")]

    assert [response.status_code for response in responses] == [404, 404]
    lines = [record for record in caplog.records if record.name == "django.request"]
    assert [record.getMessage() for record in lines] == [
        f"Not Found: /api/v1/vouchers/{code[:4]}…",
        f"Not Found: /api/v1/vouchers/{code_format(unknown).lower()[:4]}…",
    ]
    written = [as_written(record) for record in lines]
    assert [json.loads(line)["message"] for line in written] == [record.getMessage() for record in lines]
    folded = " ".join(written).upper().replace("-", "")
    assert code not in folded
    assert unknown not in folded
    assert "WSGIREQUEST" not in folded
