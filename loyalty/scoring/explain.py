"""Why a score is what it is, in words: reason codes derived from a snapshot.

A snapshot stores, per dimension, the decayed sum of shared events and its contribution;
reason codes are a function of those columns and the engine version, so the bulk path
writes no text and every snapshot can be explained the same way, in English or Chinese.
Up to four reasons: what lowers the score most, then what would raise it most.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from loyalty.members.models import Dimension, Locale
from loyalty.scoring.engine import ENGINES, FULL_WEIGHT_PER_HALF_LIFE_DAY, MILLI, Engine, contribution_milli
from loyalty.scoring.models import EventKind, ScoreSnapshot

MAX_REASONS = 4
MAX_LOWERING = 2

DIMENSION_LABELS_ZH = {
    Dimension.PAYMENT_HISTORY: "付款记录",
    Dimension.FULFILMENT: "履约记录",
    Dimension.TENURE: "会员时长与活跃度",
    Dimension.IDENTITY: "身份验证",
    Dimension.ASSETS: "申报资产",
}

TEXTS: dict[str, tuple[str, str]] = {
    "starting_score": (
        "No shared data counts toward your score yet, so it is the starting score of {baseline}.",
        "目前还没有计入评分的共享数据，因此您的评分为起始分 {baseline}。",
    ),
    "lowered_payment_history": (
        "Missed payments lower your score by about {points} points; each on-time payment helps it recover.",
        "逾期付款使您的评分降低了约 {points} 分；每一次按时付款都有助于恢复。",
    ),
    "lowered_fulfilment": (
        "Late returns and missed bookings lower your score by about {points} points; "
        "their weight fades over time.",
        "逾期归还和预订未到使您的评分降低了约 {points} 分；其影响会随时间减弱。",
    ),
    "lowered_other": (
        "Your {label} data lowers your score by about {points} points; its weight fades over time.",
        "您的{label_zh}数据使评分降低了约 {points} 分；其影响会随时间减弱。",
    ),
    "raise_payment_history": (
        "Two more on-time payments: about +{points}",
        "再按时付款两次：约 +{points} 分",
    ),
    "raise_fulfilment": (
        "Two more rentals returned on time: about +{points}",
        "再按时归还租赁物两次：约 +{points} 分",
    ),
    "raise_tenure": (
        "Five more purchases with partners: about +{points}",
        "在合作商户再消费五次：约 +{points} 分",
    ),
    "raise_identity": ("Verify your identity document: about +{points}", "验证您的身份证件：约 +{points} 分"),
    "raise_assets": ("Declare an asset: about +{points}", "申报一项资产：约 +{points} 分"),
    "not_shared": (
        "You don't share your {label} data, so it does not count. Sharing it is your choice.",
        "您未共享{label_zh}数据，因此不计入评分。是否共享由您决定。",
    ),
}


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, int | str] = field(default_factory=dict)

    @property
    def text_en(self) -> str:
        return TEXTS[self.code][0].format(**self.params)

    @property
    def text_zh(self) -> str:
        return TEXTS[self.code][1].format(**self.params)

    def text(self, locale: str) -> str:
        return self.text_zh if locale == Locale.SIMPLIFIED_CHINESE else self.text_en


@dataclass(frozen=True)
class Contribution:
    dimension: str
    label: str
    label_zh: str
    shared: bool
    milli: int

    @property
    def points(self) -> int:
        """Rounded to whole points, as the member sees it."""
        return (self.milli + MILLI // 2) // MILLI


def contributions(snapshot: ScoreSnapshot) -> list[Contribution]:
    return [
        Contribution(
            dimension=dimension,
            label=str(Dimension(dimension).label),
            label_zh=DIMENSION_LABELS_ZH[Dimension(dimension)],
            shared=milli is not None,
            milli=milli or 0,
        )
        for dimension, milli in snapshot.contributions_milli().items()
    ]


def reasons(snapshot: ScoreSnapshot, impacts: Mapping[str, int] | None = None) -> list[Reason]:
    """Up to four reasons, most important first; `impacts` maps event kinds to their impact."""
    engine = ENGINES[snapshot.engine_version]
    impacts = impacts if impacts is not None else dict(EventKind.objects.values_list("code", "impact"))
    sums, milli = snapshot.sums(), snapshot.contributions_milli()
    found: list[Reason] = []
    if all(value in (None, 0) for value in milli.values()):
        found.append(Reason("starting_score", {"baseline": engine.baseline}))
    found += _lowering(milli)[:MAX_LOWERING]
    found += _raising(engine, sums, milli, impacts)
    found += [_labelled("not_shared", dimension) for dimension, value in sums.items() if value is None]
    return found[:MAX_REASONS]


def _lowering(milli: Mapping[str, int | None]) -> list[Reason]:
    negative = sorted(
        (value, dimension) for dimension, value in milli.items() if value is not None and value < 0
    )
    return [
        _labelled(
            f"lowered_{dimension}" if f"lowered_{dimension}" in TEXTS else "lowered_other", dimension, -value
        )
        for value, dimension in negative
    ]


def _raising(
    engine: Engine,
    sums: Mapping[str, int | None],
    milli: Mapping[str, int | None],
    impacts: Mapping[str, int],
) -> list[Reason]:
    gains = []
    for rule in engine.rules:
        current, contribution = sums[rule.dimension], milli[rule.dimension]
        if current is None or contribution is None or rule.lift_kind not in impacts:
            continue
        added = (
            rule.lift_count * impacts[rule.lift_kind] * FULL_WEIGHT_PER_HALF_LIFE_DAY * rule.half_life_days
        )
        gain = contribution_milli(engine, rule, current + added) - contribution
        if gain >= MILLI // 2:
            gains.append((-gain, rule.dimension))
    return [
        Reason(f"raise_{dimension}", {"points": (-gain + MILLI // 2) // MILLI})
        for gain, dimension in sorted(gains)
    ]


def _labelled(code: str, dimension: str, milli: int | None = None) -> Reason:
    params: dict[str, int | str] = {
        "label": str(Dimension(dimension).label).lower(),
        "label_zh": DIMENSION_LABELS_ZH[Dimension(dimension)],
    }
    if milli is not None:
        params["points"] = (milli + MILLI // 2) // MILLI
    return Reason(code, params)
