"""Charts for portal pages: pygal's server-rendered SVG, made fit for the page it sits in.

Each chart is an image with a name and a description (role="img", its <title> and <desc>
named by aria-labelledby), a sentence that says what it shows, and the same figures as a
table for a screen reader or anyone who wants the numbers (templates/portal/_chart.html).
pygal's own <script> is dropped (the page needs none), and its <style> carries the
request's CSP nonce, as the policy allows no other inline style (the view asks for the
nonce with `chart_styles_allowed`). What is drawn is cached by content (`charts_make`).
"""

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pygal
from csp.constants import NONCE
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from pygal.style import Style

from loyalty.core.headers import csp_allow

WIDTH, HEIGHT = 760, 300
CACHE_SECONDS = 24 * 3600
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    font_family="system-ui, -apple-system, 'Segoe UI', 'Noto Sans SC', sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    # Distinguishable for the common colour blindnesses (Okabe and Ito's palette).
    colors=("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"),
)

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TITLE = re.compile(r"<title>[^<]*</title>")


def chart_styles_allowed(view: Callable[..., Any]) -> Callable[..., Any]:
    """The page's Content-Security-Policy lets a style with the request's nonce in."""
    return csp_allow(lambda: {"style-src": [cast(str, NONCE)]})(view)


@dataclass(frozen=True)
class Table:
    """The chart's figures: a header row, then rows whose first cell names the row."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class ChartSpec:
    """What a chart shows: a pygal graph of `kind`, configured as every portal chart is
    (`config` adds to that), with `labels` along its axis and each of `series` drawn, and
    the same figures as `table`."""

    id: str
    title: str
    summary: str
    kind: type[pygal.graph.graph.Graph]
    labels: Sequence[str]
    series: Sequence[tuple[str, Sequence[int]]]
    table: Table
    config: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        shape = [
            self.kind.__name__,
            self.config,
            list(self.labels),
            [[name, list(values)] for name, values in self.series],
            [list(self.table.headers), [list(row) for row in self.table.rows]],
            self.id,
            self.title,
            self.summary,
        ]
        return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    summary: str
    svg: SafeString
    table: SafeString


def charts_make(request: HttpRequest, specs: Sequence[ChartSpec]) -> list[Chart]:
    """The charts of a page, each its SVG and its table's HTML.

    Drawing costs more than the rest of a page, so both are kept in the cache under a
    digest of everything that shapes them: the same figures are drawn once, and a changed
    figure is another key, so what is kept is never stale. One round trip to the cache
    for the page."""
    keys = {spec.id: f"chart:{spec.digest()}" for spec in specs}
    kept: dict[str, tuple[str, str]] = cache.get_many(list(keys.values()))
    drawn = {keys[spec.id]: _drawn(spec) for spec in specs if keys[spec.id] not in kept}
    if drawn:
        cache.set_many(drawn, timeout=CACHE_SECONDS)
    kept.update(drawn)
    nonce = escape(getattr(request, "csp_nonce", ""))
    charts = []
    for spec in specs:
        svg, table = kept[keys[spec.id]]
        # The labels pygal was given it escaped; the name, description and cells _drawn did.
        svg = svg.replace("<style ", f'<style nonce="{nonce}" ', 1)
        safe_svg = SafeString(svg)  # nosec B703  # pygal escapes its labels, _svg the rest
        safe_table = SafeString(table)  # nosec B703  # built by format_html, every cell escaped
        charts.append(
            Chart(id=spec.id, title=spec.title, summary=spec.summary, svg=safe_svg, table=safe_table)
        )
    return charts


def _drawn(spec: ChartSpec) -> tuple[str, str]:
    graph = _graph(spec.kind, spec.labels, spec.series, spec.config)
    return _svg(graph, spec.id, spec.title, spec.summary), _table_html(spec.title, spec.table)


def _table_html(title: str, table: Table) -> str:
    """The table in HTML: each row named by its first cell, figures right-aligned."""
    first, *others = table.headers
    head = format_html('<th scope="col">{}</th>', first) + format_html_join(
        "", '<th scope="col" class="num">{}</th>', ((header,) for header in others)
    )
    body = format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        (
            (row[0], format_html_join("", '<td class="num">{}</td>', ((cell,) for cell in row[1:])))
            for row in table.rows
        ),
    )
    caption = format_html('<caption class="visually-hidden">{}</caption>', title)
    return format_html("<table>{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>", caption, head, body)


def _graph(
    kind: type[pygal.graph.graph.Graph],
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    config: dict[str, Any],
) -> pygal.graph.graph.Graph:
    defaults: dict[str, Any] = {
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": WIDTH,
        "height": HEIGHT,
        "style": STYLE,
        "print_values": False,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": 40,
    }
    graph = kind(**{**defaults, **config})
    graph.x_labels = list(labels)
    for name, values in series:
        graph.add(name, list(values))
    return graph


def _svg(graph: pygal.graph.graph.Graph, id: str, title: str, summary: str) -> str:
    """pygal's SVG without its script, named and described for assistive technology."""
    svg = graph.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg)).replace(' style="opacity: 0"', "")
    named = f'<title id="{id}-title">{escape(title)}</title><desc id="{id}-desc">{escape(summary)}</desc>'
    svg = _TITLE.sub(lambda _match: "", svg, count=1)
    svg = svg.replace(
        "<svg ",
        f'<svg role="img" aria-labelledby="{id}-title {id}-desc" focusable="false" ',
        1,
    )
    head_end = svg.index(">") + 1
    return svg[:head_end] + named + svg[head_end:]
