"""Briefings as Word files (python-docx), laid out as Chinese official documents are
(GB/T 9704): A4 with margins of 37/35/28/26 mm, the title in red 黑体 over a red rule,
headings in 黑体, the body in 仿宋, page numbers "— N —" in the footer. The sections and their
order are those of ``report_templates/report.html``; each names its query and window in
small print, and shows its chart (``desk.report_charts``) where one is given.

Fonts are set for East Asian text too (``w:rFonts/@w:eastAsia``): Word lays Chinese out in
that font, not in the Latin one python-docx's ``font.name`` sets.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

from core.schema import CHINA_TZ
from desk.dashboard import rumors_listed
from desk.vocabulary import (ALERT_STATE_NAMES, AUDIT_ACTION_NAMES, CHANNEL_NAMES, CLOCK_NAMES, DEADLINE_NAMES,
                             DRILL_STEP_NAMES, EMOTION_NAMES, FACT_NAMES, FILTER_NAMES, INJECT_KIND_NAMES,
                             PLATFORM_NAMES, POLARITY_NAMES, PSR_NAMES, RELEASE_STATE_NAMES, SENTIMENT_NAMES,
                             SORT_NAMES)

HEI, FANGSONG, SONG, LATIN = "黑体", "仿宋", "宋体", "Times New Roman"  # as Word names them
RED = RGBColor(0xC0, 0x00, 0x00)
GREY = RGBColor(0x59, 0x59, 0x59)
MARGINS = {"top_margin": 37, "bottom_margin": 35, "left_margin": 28, "right_margin": 26}  # mm
WIDTH = Mm(210 - 28 - 26)  # the text's width on A4
CHART_HEIGHT = Mm(120)  # at most, so that a chart keeps to a page with its heading
# What XML 1.0 cannot hold and python-docx refuses (post texts are untrusted): control
# characters but tab, newline and carriage return, lone surrogates, U+FFFE and U+FFFF.
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_docx(report, charts: dict[str, bytes]) -> bytes:
    """``report`` (a ``desk.reports.Report``) as a .docx file, with ``charts`` (PNG by
    section name) in their sections, where the HTML page shows them."""
    data = report.as_dict()
    document = _document(report.title)
    _masthead(document, report.title, data)
    _Briefing(document, charts).write(data)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _document(title: str):
    """An empty A4 document with the briefing's styles and its page-numbered footer."""
    document = Document()
    document.core_properties.title = clean(title)
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for margin, mm in MARGINS.items():
        setattr(section, margin, Mm(mm))
    defaults = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _fonts(defaults, LATIN, FANGSONG)
    defaults.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")

    styles = document.styles
    _style(styles["Normal"], FANGSONG, 16)  # 三号仿宋
    styles["Normal"].paragraph_format.line_spacing = Pt(28)
    styles["Normal"].paragraph_format.space_after = Pt(0)
    heading = _style(styles["Heading 1"], HEI, 16, latin=HEI)  # 三号黑体
    heading.font.bold, heading.font.color.rgb = False, RGBColor(0, 0, 0)
    heading.paragraph_format.space_before, heading.paragraph_format.space_after = Pt(12), Pt(4)
    for name, size in (("Report Source", 9), ("Report Table", 10.5), ("Report Chart", 10.5)):
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = styles["Normal"]
        _style(style, FANGSONG, size, spacing=1.0)
    styles["Report Source"].font.color.rgb = GREY
    styles["Report Chart"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _style(styles["Footer"], SONG, 14, spacing=1.0)  # 四号宋体
    footer.add_run("— ")
    footer._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer.add_run(" —")
    return document


def _style(style, east_asia: str, size: float, *, latin: str = LATIN, spacing: float | None = None):
    """``style`` in ``east_asia`` for Chinese and ``latin`` for the rest, at ``size`` pt."""
    _fonts(style.element.get_or_add_rPr(), latin, east_asia)
    style.font.size = Pt(size)
    if spacing is not None:
        style.paragraph_format.line_spacing = spacing
    return style


def _fonts(rpr, latin: str, east_asia: str) -> None:
    """Set the run properties' fonts, dropping the theme's (which would win over them)."""
    fonts = rpr.get_or_add_rFonts()
    fonts.attrib.clear()
    for script in ("ascii", "hAnsi", "cs"):
        fonts.set(qn(f"w:{script}"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:hint"), "eastAsia")


def _masthead(document, title: str, data: dict) -> None:
    """The red title, centred, and the window over a red rule (版头与分隔线)."""
    head = document.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    head.paragraph_format.line_spacing = 1.0
    head.paragraph_format.space_after = Pt(12)
    run = head.add_run(clean(title))
    _fonts(run._r.get_or_add_rPr(), HEI, HEI)
    run.font.size, run.font.color.rgb = Pt(22), RED  # 二号
    window = document.add_paragraph(style="Report Table")
    window._p.get_or_add_pPr().append(parse_xml(  # first after the style, where the schema wants it
        f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="12" w:space="4" w:color="C00000"/></w:pBdr>'))
    window.alignment = WD_ALIGN_PARAGRAPH.CENTER
    window.paragraph_format.space_after = Pt(12)
    window.add_run(f"{china_time(data['since'])} 至 {china_time(data['until'])}（北京时间） · 生成于 {china_time(data['made_at'])}")


class _Briefing:
    """Writes the sections, numbered 一、二、… as the HTML's are."""

    def __init__(self, document, charts: dict[str, bytes]):
        self.document, self.charts, self.headings = document, charts, 0
        self.cell_style = document.styles["Report Table"].style_id

    def write(self, data: dict) -> None:
        total = data["total_posts"]
        self.heading("总体情况")
        self.text(data["summary"]["text"])
        self.source(data["summary"])
        if data["kind"] == "drill":
            self.drill(data)
            return

        volume = data["volume"]
        self.heading("信息量走势")
        self.text(f"本期 {volume['total']} 条，上一周期 {volume['previous']['total']} 条，环比 {signed_percent(volume['change'])}。")
        self.chart("volume")
        self.table(["时间", "信息量"], zip(map(bucket_label, volume["buckets"]), volume["counts"]))
        self.source(volume)
        previous = volume["previous"]
        self.small(f"上一周期：{china_time(previous['since'])} 至 {china_time(previous['until'])}")

        platforms = data["platforms"]
        self.heading("来源平台与媒体类型")
        self.chart("platforms")
        self.bars("平台", platforms["platforms"], total, PLATFORM_NAMES)
        self.bars("媒体类型", platforms["media_types"], total)
        self.source(platforms)

        sentiment = data["sentiment"]
        self.heading("情感倾向")
        self.chart("sentiment")
        self.bars("倾向", sentiment["polarity"], total, POLARITY_NAMES)
        self.bars("情感", sentiment["sentiment"], total, SENTIMENT_NAMES)
        self.bars("情绪", sentiment["emotion"], total, EMOTION_NAMES)
        self.source(sentiment)

        self.heading("热点话题")
        self.table(["话题", "信息量"], [(name, count) for _, name, count in data["hot_words"]["topics"]])
        self.source(data["hot_words"])

        places = data["places"]
        self.heading("地域分布")
        self.chart("places")
        self.bars("省份", places["provinces"], total, places["names"])
        self.text(f"未能定位到省份的信息至少 {places['off_map']} 条。")
        self.source(places)

        self.heading("重点信息")
        self.table(["时间", "平台", "作者", "内容", "互动量"],
                   [(china_time(post["created_at"]), PLATFORM_NAMES[post["platform"]], post["author"], post["text"],
                     post["engagement"]) for post in data["top_posts"]["posts"]], widths=[3, 2, 3, 8, 2])
        self.source(data["top_posts"])
        self.table(["账号", "平台", "信息数", "互动量"],
                   [(account["author"], PLATFORM_NAMES[account["platform"]], account["posts"], account["engagement"])
                    for account in data["top_accounts"]["accounts"]])
        self.source(data["top_accounts"])

        self.heading("谣言与回应")
        if data["rumors"]["clusters"]:
            self.text(f"{rumors_listed(data['rumors']['clusters'])}疑似谣言，各以与首发内容相同或近似的帖文数（近似重复帖文）计。")
        self.table(["首发", "内容", "近似重复帖文", "回应", "时限"],
                   [(china_time(cluster["since"]), cluster["post"]["text"], cluster["count"], china_time(cluster["answered_at"]),
                     "\n".join(f"{CLOCK_NAMES.get(d['clock'], d['clock'])}：{DEADLINE_NAMES[d['state']]}（{china_time(d['due'])}）"
                               for d in cluster["deadlines"]))
                    for cluster in data["rumors"]["clusters"]], widths=[3, 7, 2, 3, 5])
        self.source(data["rumors"])

        self.heading("信息发布")
        self.table(["发布时间", "渠道", "标题"],
                   [(china_time(release["published_at"]), CHANNEL_NAMES.get(release["channel"], release["channel"]),
                     release["title"]) for release in data["releases"]["releases"]], widths=[3, 2, 9])
        self.source(data["releases"])

        self.heading("预警处置")
        self.table(["预警时间", "方案", "级别", "状态", "确认", "回应", "关闭"],
                   [(china_time(alert["opened_at"]), f"{alert['scheme']}：{alert['key']}", alert["level"],
                     ALERT_STATE_NAMES.get(alert["state"], alert["state"]),
                     china_time(alert["acknowledged_at"]), alert["release"] or "—", china_time(alert["closed_at"]))
                    for alert in data["alerts"]["alerts"]], widths=[3, 4, 1.5, 2, 3, 1.5, 3])
        self.source(data["alerts"])
        if data.get("spread"):
            self.spread(data["spread"])
        if data.get("psr"):
            self.psr(data["psr"])

    def drill(self, data: dict) -> None:
        """A drill report's own sections (desk.drill_report), as the HTML page has them."""
        drill = data["drill"]
        self.heading("演练进程与情景注入")
        self.text(f"情景“{drill['scenario_title']}”（{drill['scenario']}），{drill['speed']:g} 倍速，"
                  f"演练时间推进至 {duration_label(drill['offset_s'])}（共 {duration_label(drill['length_s'])}）。")
        self.table(["情景时间", "类型", "对象", "内容", "发出"],
                   [(duration_label(inject["at_s"]), INJECT_KIND_NAMES.get(inject["kind"], inject["kind"]), inject["to"],
                     inject["text"], china_time(inject["sent_at"]) if inject["sent_at"] else "未发出")
                    for inject in drill["injects"]], widths=[2, 2, 3, 8, 3])
        self.source(drill)

        self.heading("谣言应对用时")
        for rumor in data["rumors"]["rumors"]:
            self.text(f"首发（{PLATFORM_NAMES[rumor['platform']]}，{china_time(rumor['first_post_at'])}）：{rumor['text']}")
            rows = [(DRILL_STEP_NAMES[step["step"]], china_time(step["at"]), duration_label(step["after_s"]),
                     duration_label(step["scenario_after_s"])) for step in rumor["steps"]]
            rows += [(f"{CLOCK_NAMES.get(d['clock'], d['clock'])}（情景 {d['scenario_hours']:g} 小时）", china_time(d["due"]),
                      DEADLINE_NAMES[d["state"]], "") for d in rumor["deadlines"]]
            self.table(["环节", "时间", "距首发", "折合情景时间"], rows)
        if not data["rumors"]["rumors"]:
            self.text("情景中没有需要回应的谣言。")
        self.source(data["rumors"])

        self.heading("发布前检查发现的矛盾")
        self.table(["时间", "单位", "人员", "对象"],
                   [(china_time(caught["at"]), caught["org"], caught["actor"], caught["target"])
                    for caught in data["contradictions"]["caught"]], empty="未发现矛盾表述。")
        self.source(data["contradictions"])

        self.heading("审批等待最久的环节")
        self.table(["发布", "审批单位", "审批人", "提交", "批准", "等待"],
                   [(wait["title"], wait["org"], wait["approver"], china_time(wait["submitted_at"]),
                     china_time(wait["approved_at"]), duration_label(wait["waited_s"]))
                    for wait in data["approvals"]["longest"]], widths=[5, 3, 2, 3, 3, 2], empty="没有审批。")
        self.source(data["approvals"])

        self.heading("未处置完毕的预警")
        self.table(["预警时间", "方案", "级别", "状态", "确认"],
                   [(china_time(alert["opened_at"]), f"{alert['scheme']}：{alert['key']}", alert["level"],
                     ALERT_STATE_NAMES.get(alert["state"], alert["state"]), china_time(alert["acknowledged_at"]))
                    for alert in data["unhandled"]["alerts"]], widths=[3, 5, 1.5, 2, 3], empty="预警均已处置。")
        self.source(data["unhandled"])

    def spread(self, spread: dict) -> None:
        """How the incident's most copied rumor spread (special reports)."""
        self.heading("谣言传播路径")
        if spread["cluster"]:
            root = spread["root"] or {}  # none where the first source is no longer stored
            self.text(f"传播最广的疑似谣言，其转发评论树共 {spread['posts']} 条帖文（转发 {spread['reposts']} 条，"
                      f"评论 {spread['comments']} 条），"
                      f"传播深度 {spread['depth']} 层，最大广度 {spread['breadth']} 条。"
                      f"首发：{root.get('author') or '—'}，{china_time(root.get('created_at'))}，{root.get('text', '')}")
            self.chart("spread")
            self.table(["关键传播者", "平台", "下游转发"], [(spreader["author"] or "—", PLATFORM_NAMES[spreader["platform"]],
                                                  spreader["downstream"]) for spreader in spread["spreaders"]])
            self.small(f"传播树：{spread['link']}（据已存储的转发与评论关系）")
        else:
            self.text("未发现疑似谣言的传播。")
        self.source(spread)

    def psr(self, psr: dict) -> None:
        """The incident's pressure-state-response timeline (special reports): its phases, then
        the fact sheet's values and the responses in time order."""
        self.heading("事件演化（压力—状态—响应）")
        pressure = psr["pressure"]
        if psr["buckets"]:
            self.text(f"按{'小时' if psr['interval'] == 'hour' else '日'}统计的 {len(psr['buckets'])} 个时段中，"
                      f"信息量最高 {max(pressure['posts'])} 条，新出现的疑似谣言 {sum(pressure['rumor_clusters'])} 组，"
                      f"新增预警 {sum(pressure['alerts'])} 条。")
        self.chart("psr")
        self.table(["阶段", "时段", "依据"], [(PSR_NAMES[phase["phase"]], china_time(phase["at"]), phase["reason"])
                                        for phase in psr["phases"]], empty="时段内无相关信息，未划分阶段。")
        events = [(value["at"], FACT_NAMES.get(key, key), value["value"])
                  for key, values in psr["state"].items() for value in values]
        events += [(event["at"], PSR_NAMES[event["kind"]], event["label"]) for event in psr["response"]]
        self.table(["时间", "状态与响应", "内容"], [(china_time(at), name, text) for at, name, text in sorted(events, key=_at)],
                   widths=[3, 3, 8], empty="事实表未更新，亦无发布与预警处置。")
        self.source(psr)

    def heading(self, title: str) -> None:
        self.headings += 1
        self.document.add_heading(f"{_numeral(self.headings)}、{title}", level=1)

    def chart(self, name: str) -> None:
        """The section's chart where one is given, as wide as the text, no taller than ``CHART_HEIGHT``."""
        if self.charts.get(name):
            shape = self.document.add_paragraph(style="Report Chart").add_run().add_picture(
                io.BytesIO(self.charts[name]), width=WIDTH)
            if shape.height > CHART_HEIGHT:
                shape.width, shape.height = int(shape.width * CHART_HEIGHT / shape.height), CHART_HEIGHT

    def text(self, text: str) -> None:
        self.document.add_paragraph(clean(text)).paragraph_format.first_line_indent = Pt(32)  # two characters

    def small(self, text: str) -> None:
        self.document.add_paragraph(clean(text), style="Report Source")

    def source(self, section: dict) -> None:
        """The search behind a section, as the HTML's ``source`` macro gives it."""
        self.small(f"检索式：{section['query'] or '（全部信息）'}{filters_label(section['filters'])}"
                   f"；时间：{china_time(section['since'])} 至 {china_time(section['until'])}（北京时间）")

    def bars(self, name: str, rows, total: int, names: dict | None = None) -> None:
        """A facet as a table of counts with each one's share of the posts."""
        self.table([name, "信息量", "占比"], [((names or {}).get(value, value), count,
                                            f"{count / total:.1%}" if total else "—") for value, count in rows])

    def table(self, headers: list[str], rows, widths: list[float] | None = None, empty: str | None = None) -> None:
        """A grid with a header row repeated on each page; ``widths`` in proportions; without
        rows, ``empty`` across a row of its own where given."""
        table = self.document.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        header = table.rows[0]
        header._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
        for n, (cell, value) in enumerate(zip(header.cells, headers)):
            self._cell(cell, value).bold = True
            if widths:  # the rows added take their widths from the columns
                table.columns[n].width = cell.width = int(WIDTH * widths[n] / sum(widths))
        for row in rows:
            for cell, value in zip(table.add_row().cells, row):
                self._cell(cell, value)
        if empty and len(table.rows) == 1:
            cells = table.add_row().cells
            self._cell(cells[0].merge(cells[-1]), empty)

    def _cell(self, cell, value):
        paragraph = cell.paragraphs[0]
        paragraph._p.style = self.cell_style  # by its id: ``paragraph.style`` looks the style up in every cell
        return paragraph.add_run(clean(str(value)))


def clean(text: str) -> str:
    """``text`` without the characters a Word file cannot hold."""
    return UNWRITABLE.sub("", text)


def _numeral(n: int) -> str:
    """1 to 19 in Chinese numerals (一 … 十九), as section headings are numbered."""
    digits = "一二三四五六七八九"
    return digits[n - 1] if n < 10 else "十" + (digits[n - 11] if n > 10 else "")


def _at(event: tuple) -> datetime:
    return datetime.fromisoformat(event[0])


def bucket_label(key: str) -> str:
    """A volume bucket as a reader writes it: 2024-07-24T09 (an hour's) as 2024-07-24 09时,
    a day's as it is."""
    day, _, hour = key.partition("T")
    return f"{day} {hour}时" if hour else day


def china_time(value: str | None) -> str:
    """An ISO time as a reader writes it in China time (2024-07-24 09:30), or a dash."""
    return datetime.fromisoformat(value).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if value else "—"


def duration_label(seconds: float | None) -> str:
    """A span of time as a reader writes it: 1小时5分, 12分30秒, 40秒; a dash for none."""
    if seconds is None:
        return "—"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分{secs}秒" if minutes else f"{secs}秒"


def filters_label(filters: dict) -> str:
    """A section's filters as its source line words them: ；演练：binhai_typhoon；谣言；状态：待研判、处置中."""
    return "".join(f"；{_filter_label(name, value)}" for name, value in filters.items())


def _filter_label(name: str, value) -> str:
    if value is True:
        return FILTER_NAMES.get(name, name)
    values = value if isinstance(value, list) else [str(value)] if name == "cluster" else str(value).split(", ")
    named = {"state": {**ALERT_STATE_NAMES, **RELEASE_STATE_NAMES}, "audit": AUDIT_ACTION_NAMES,
             "sort": SORT_NAMES}.get(name, {})
    return f"{FILTER_NAMES.get(name, name)}：{'、'.join(named.get(str(v), str(v)) for v in values)}"


def signed_percent(value: float | None) -> str:
    """A change as a signed percentage (+50.0%), or a dash where there is none."""
    return "—" if value is None else f"{value:+.1%}"
