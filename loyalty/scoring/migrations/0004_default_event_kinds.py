"""The event kinds of engine version 1: the seven partner-reportable kinds of the partner API (docs/integration.md)
and the kinds only the platform records."""

from django.db import migrations

EVENT_KINDS = [
    # code, dimension, impact, partner_reportable, label, label_zh
    ("purchase", "tenure", 2, True, "A purchase with a partner", "在合作商户消费"),
    ("payment_on_time", "payment_history", 10, True, "A payment made on time", "按时付款"),
    ("payment_missed", "payment_history", -40, True, "A missed payment", "逾期未付款"),
    ("obligation_settled", "payment_history", 10, True, "An outstanding obligation settled", "结清欠款"),
    ("rental_returned_on_time", "fulfilment", 10, True, "A rental returned on time", "按时归还租赁物"),
    ("rental_returned_late", "fulfilment", -25, True, "A rental returned late", "逾期归还租赁物"),
    ("booking_no_show", "fulfilment", -20, True, "A booking missed without cancelling", "预订未到且未取消"),
    ("email_verified", "identity", 5, False, "Email address verified", "邮箱已验证"),
    ("phone_verified", "identity", 10, False, "Phone number verified", "手机号已验证"),
    ("identity_verified", "identity", 25, False, "Identity document verified", "身份证件已验证"),
    ("asset_declared", "assets", 10, False, "An asset declared", "已申报一项资产"),
    ("asset_verified", "assets", 20, False, "A declared asset verified", "已核实一项申报资产"),
]


def create_event_kinds(apps, schema_editor):
    EventKind = apps.get_model("scoring", "EventKind")
    for code, dimension, impact, partner_reportable, label, label_zh in EVENT_KINDS:
        EventKind.objects.get_or_create(
            code=code,
            defaults={
                "dimension": dimension,
                "impact": impact,
                "partner_reportable": partner_reportable,
                "label": label,
                "label_zh": label_zh,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0003_events_snapshots_holds")]

    operations = [migrations.RunPython(create_event_kinds, migrations.RunPython.noop)]
