"""A briefing's charts as PNG images, drawn with matplotlib from the report's figures
(``Report.as_dict()``, or the same read back from JSON) with Chinese text in Debian's Noto
CJK fonts (fonts-noto-cjk).

Figures are made with ``matplotlib.figure.Figure``, not pyplot, so no window or global
figure is involved; ``savefig`` draws them with the Agg canvas. Charts are drawn from the
sections' counts, never from posts, so a report over 100,000 posts draws as fast as one
over ten.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy
from matplotlib import colormaps, dates, font_manager, rc_context
from matplotlib.collections import PolyCollection
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.schema import CHINA_TZ
from desk.vocabulary import FACT_NAMES, PLATFORM_NAMES, PSR_NAMES, PSR_RESPONSES, SENTIMENT_NAMES

log = logging.getLogger(__name__)

# Chinese fonts by preference: the briefings' 黑体 stand-in first, then others that draw Chinese
FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
         "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN")
WIDTH, HEIGHT, DPI = 6.3, 2.4, 120  # inches: the A4 page's text width
RED, GREY = "#c00000", "#bbbbbb"
SENTIMENT_COLORS = {"positive": "#4a9a5b", "weak_negative": "#e0a030", "anger": RED, "anxiety": "#7a4fa0"}
HOURLY, DAILY = "%m-%d %H时", "%m-%d"  # time axes' labels
TOP_PLACES = 10  # provinces on the bar chart drawn when no map is at hand


# matplotlib is not thread-safe, and rc_context sets its global settings: the review UI's
# threads draw one report at a time
_ONE_AT_A_TIME = threading.Lock()


class NoChineseFont(RuntimeError):
    """No installed font draws Chinese: the charts would show boxes."""


@cache
def chinese_font(candidates: tuple[str, ...] = FONTS) -> str:
    """The first of ``candidates`` that matplotlib finds installed; another than the first
    is logged, none at all is an error."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in candidates:
        if name in installed:
            if name != candidates[0]:
                log.warning("the charts use %s: %s is not installed (apt-get install fonts-noto-cjk)",
                            name, candidates[0])
            return name
    raise NoChineseFont(f"no Chinese font for the report's charts (tried {', '.join(candidates)}): "
                        "install fonts-noto-cjk")


def draw(data: dict, *, china_map: Path | None = None) -> dict[str, bytes]:
    """PNG images by section name, for the sections present with something to draw among
    volume, platforms, sentiment, places, psr and spread. ``china_map`` is the folder of the
    provinces' GeoJSON (``100000.json``, the dashboard's map); without it the places are bars."""
    drawers = {"volume": _volume, "platforms": _platforms, "sentiment": _sentiment,
               "places": lambda section: _places(section, china_map), "psr": _psr, "spread": _spread}
    charts = {}
    style = {"font.family": [chinese_font(), "DejaVu Sans"], "font.size": 8, "axes.unicode_minus": False,
             "axes.spines.top": False, "axes.spines.right": False,
             "text.parse_math": False}  # a name with two $ (a post's author) is text, not a formula
    with _ONE_AT_A_TIME, rc_context(style):
        for name, drawer in drawers.items():
            figure = drawer(data[name]) if data.get(name) else None
            if figure is not None:
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png")
                charts[name] = buffer.getvalue()
    return charts


def _figure(height: float = HEIGHT) -> Figure:
    return Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")


def _when(value: str) -> datetime:
    """An ISO time; a bucket without an offset ("2024-07-24T01") is China time, as the dashboard's."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def _time_axis(axes, form: str) -> None:
    """A few ticks in China time, whatever the span (one instant too)."""
    axes.xaxis.set_major_locator(dates.AutoDateLocator(minticks=3, maxticks=7, tz=CHINA_TZ))
    axes.xaxis.set_major_formatter(dates.DateFormatter(form, tz=CHINA_TZ))


def _volume(section: dict) -> Figure | None:
    if not any(section["counts"]):
        return None
    figure = _figure()
    axes = figure.subplots()
    hourly = section["interval"] == "hour"
    times = [_when(bucket) for bucket in section["buckets"]]
    axes.bar(times, section["counts"], width=(1 / 24 if hourly else 1) * 0.8, color=RED, align="edge")
    _time_axis(axes, HOURLY if hourly else DAILY)
    axes.set_title(f"信息量走势（按{'小时' if hourly else '日'}，共{section['total']}条）")
    axes.set_ylabel("信息数")
    return figure


def _bars(axes, rows, names: dict, title: str) -> None:
    """Horizontal bars, the largest on top."""
    rows = list(rows)[::-1]
    bars = axes.barh([names.get(value, value) for value, _ in rows], [count for _, count in rows], color=RED)
    axes.bar_label(bars, padding=2)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes.set_title(title)


def _platforms(section: dict) -> Figure | None:
    if not section["platforms"]:
        return None
    figure = _figure()
    left, right = figure.subplots(1, 2)
    _bars(left, section["platforms"], PLATFORM_NAMES, "来源平台")
    _bars(right, section["media_types"], {}, "媒体类型")
    return figure


def _sentiment(section: dict) -> Figure | None:
    """Stacked bars of the sentiments by bucket (as the volume chart draws its buckets)."""
    trend = section["sentiment_trend"]
    if not any(any(series) for series in trend.values()):
        return None
    figure = _figure()
    axes = figure.subplots()
    hourly = len(section["buckets"][0]) > len("2024-07-24")
    times = [_when(bucket) for bucket in section["buckets"]]
    below = numpy.zeros(len(times))
    for name, series in trend.items():
        axes.bar(times, series, bottom=below, width=(1 / 24 if hourly else 1) * 0.8, align="edge",
                 color=SENTIMENT_COLORS.get(name, GREY), label=SENTIMENT_NAMES.get(name, name))
        below += numpy.asarray(series)
    _time_axis(axes, HOURLY if hourly else DAILY)
    axes.set_title("情感倾向走势", pad=18)
    axes.set_ylabel("信息数")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncols=len(trend), fontsize="small")
    return figure


@cache
def _provinces(path: Path) -> list[tuple[str, list]]:
    """(code, outer rings) of each province in the country's GeoJSON, read once."""
    shapes = []
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry, properties = feature["geometry"], feature["properties"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        shapes.append((str(properties.get("adcode", "")), [polygon[0] for polygon in polygons]))
    return shapes


def _places(section: dict, china_map: Path | None) -> Figure | None:
    counts = {code: count for code, count in section["provinces"]}
    if not counts:
        return None
    if china_map is None or not (china_map / "100000.json").exists():
        figure = _figure()
        _bars(figure.subplots(), section["provinces"][:TOP_PLACES], section["names"], "信息量前列的省份")
        return figure
    figure = _figure(3.6)
    axes = figure.subplots()
    shades = ListedColormap(colormaps["Reds"](numpy.linspace(0.15, 1, 256)))  # a province with posts never white
    scale = Normalize(0, max(counts.values()))
    rings, colors = [], []
    for code, outlines in _provinces(china_map / "100000.json"):
        rings += outlines
        colors += [shades(scale(counts[code])) if code in counts else "#f2f2f2"] * len(outlines)
    axes.add_collection(PolyCollection(rings, facecolors=colors, edgecolors="#888888", linewidths=0.3))
    axes.autoscale_view()
    axes.set_aspect(1.2)  # degrees of longitude look narrower than of latitude at China's latitudes
    axes.set_axis_off()
    figure.colorbar(ScalarMappable(scale, shades), ax=axes, shrink=0.6, label="信息数")
    top = "、".join(f"{section['names'].get(code, code)}{count}条" for code, count in section["provinces"][:3])
    axes.set_title(f"地域分布（{top}）")
    return figure


def _psr(section: dict) -> Figure | None:
    """Pressure, state and response on one time axis, the phases marked across it."""
    if not section["buckets"]:
        return None
    figure = _figure(4.2)
    figure.suptitle("压力—状态—响应（PSR）")
    pressure, state, response = figure.subplots(3, 1, sharex=True, height_ratios=[3, 2, 1])
    _pressure(pressure, section)
    _state(state, section["state"])
    for event in section["response"]:
        response.plot([_when(event["at"])], [PSR_RESPONSES.index(event["kind"])], "o", color=RED, markersize=3)
    response.set_yticks(range(len(PSR_RESPONSES)), [PSR_NAMES[kind] for kind in PSR_RESPONSES], fontsize=6)
    response.set_ylim(-0.5, len(PSR_RESPONSES) - 0.5)
    response.set_ylabel("响应")
    for phase in section["phases"]:
        when = _when(phase["at"])
        for axes in (pressure, state, response):
            axes.axvline(when, color="#333333", linestyle="--", linewidth=0.7)
        state.annotate(PSR_NAMES[phase["phase"]], (when, 1), xycoords=("data", "axes fraction"), xytext=(2, -2),
                       textcoords="offset points", va="top")
    _time_axis(response, HOURLY if section["interval"] == "hour" else DAILY)
    return figure


def _pressure(axes, section: dict) -> None:
    """Posts by bucket, new rumor clusters and alerts as marks above them, the negative share."""
    times = [_when(bucket) for bucket in section["buckets"]]
    figures = section["pressure"]
    axes.bar(times, figures["posts"], width=(1 / 24 if section["interval"] == "hour" else 1) * 0.8, color=GREY,
             align="edge", label=PSR_NAMES["posts"])
    for row, (name, marker, color) in enumerate((("rumor_clusters", "^", RED), ("alerts", "s", "#e0a030"))):
        found = [(when, count) for when, count in zip(times, figures[name]) if count]
        if found:
            axes.scatter([when for when, _ in found], [0.92 - 0.1 * row] * len(found),
                         s=[12 + 8 * min(count, 5) for _, count in found], marker=marker, color=color,
                         label=PSR_NAMES[name], transform=axes.get_xaxis_transform())
    share = axes.twinx()
    share.plot(times, [None if value is None else 100 * value for value in figures["negative_share"]],
               color=RED, linewidth=1, label=PSR_NAMES["negative_share"] + "（%）")
    share.set_ylim(0, 100)
    share.spines["right"].set_visible(True)
    axes.set_ylabel("压力")
    axes.set_ymargin(0.3)
    handles, labels = (a + b for a, b in zip(axes.get_legend_handles_labels(), share.get_legend_handles_labels()))
    axes.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=4, fontsize=7)


def _state(axes, state: dict) -> None:
    """The fact sheet's numbers as steps, and a mark at the foot of the band where its texts
    (areas, cause, hotline...) were set: the section's table beside the chart reads them,
    while written on the chart those set together (often four at once) overlap."""
    axes.set_ylabel("状态")
    texts = set()
    for key, values in state.items():
        numbers = [(_when(v["at"]), v["value"]) for v in values if isinstance(v["value"], (int, float))]
        if numbers:
            axes.step([when for when, _ in numbers], [number for _, number in numbers], where="post", marker=".",
                      label=FACT_NAMES.get(key, key))
        texts |= {_when(v["at"]) for v in values if not isinstance(v["value"], (int, float))}
    if texts:
        axes.scatter(sorted(texts), [0.08] * len(texts), marker="|", s=80, color="#555555",
                     label="文字事实更新（见下表）", transform=axes.get_xaxis_transform())
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper right", frameon=False, fontsize=7)
    if not state:
        axes.text(0.5, 0.5, "事实表未更新", transform=axes.transAxes, ha="center", va="center", color=GREY)
        axes.set_yticks([])


def _spread(section: dict) -> Figure | None:
    """The cluster's growth (posts so far, depth) beside its key spreaders."""
    if not section.get("cluster") or not section["over_time"]:
        return None
    figure = _figure()
    growth, spreaders = (figure.subplots(1, 2, width_ratios=[3, 2]) if section["spreaders"]
                         else (figure.subplots(), None))
    times = [_when(row["at"]) for row in section["over_time"]]
    growth.plot(times, [row["posts"] for row in section["over_time"]], color=RED)
    if section["depth"]:  # reposts of reposts: how deep the tree grew
        depth = growth.twinx()
        depth.step(times, [row["depth"] for row in section["over_time"]], where="post", color=GREY)
        depth.spines["right"].set_visible(True)
        depth.yaxis.set_major_locator(MaxNLocator(integer=True))
        depth.set_ylabel("深度（层，灰线）")
    growth.set_ylabel("累计信息数")
    growth.set_title(f"传播：{section['posts']}条，深度{section['depth']}层，最大广度{section['breadth']}")
    _time_axis(growth, "%m-%d\n%H:%M")
    if spreaders is None:
        return figure
    rows = [(f"{s['author'] or '—'}（{PLATFORM_NAMES.get(s['platform'], s['platform'])}）", s["downstream"])
            for s in section["spreaders"]]
    _bars(spreaders, rows, {}, "关键传播者（下游转发）")
    return figure
