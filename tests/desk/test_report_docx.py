"""Briefings as Word files (desk.report_docx): made from a real home's report and read back
with python-docx: the official layout (A4, margins, 黑体 title in red, 仿宋 body, page
numbers), the figures in its tables equal to the report's JSON, charts, untrusted texts."""

from __future__ import annotations

import io
import struct
import zlib

import docx
from docx.oxml.ns import qn

from desk.report_charts import draw
from desk.report_docx import CHART_HEIGHT, WIDTH, render_docx
from desk.reports import FORMATS, Report, render
from desk.vocabulary import PLATFORM_NAMES, PSR_NAMES
from tests.conftest import cli
from tests.desk.report_home import DAY, ON_THE_DAY, RUMOR, report_home
from tests.desk.test_reports import _report

HEADINGS = ["一、总体情况", "二、信息量走势", "三、来源平台与媒体类型", "四、情感倾向", "五、热点话题", "六、地域分布",
            "七、重点信息", "八、谣言与回应", "九、信息发布", "十、预警处置"]


def _read(report, charts=None):
    return docx.Document(io.BytesIO(render_docx(report, charts or {})))


def _rows(table) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def _east_asia(element) -> str:
    return element.find(qn("w:rPr")).find(qn("w:rFonts")).get(qn("w:eastAsia"))


def _png(width: int, height: int) -> bytes:
    """A red PNG of ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    pixels = b"".join(b"\x00" + b"\xc0\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


def test_a_word_briefing_is_laid_out_as_an_official_document(tmp_path):
    document = _read(_report(report_home(tmp_path), "daily", day=DAY.date()))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4
    assert [round(margin.mm) for margin in (section.top_margin, section.bottom_margin, section.left_margin,
                                            section.right_margin)] == [37, 35, 28, 26]

    title = document.paragraphs[0]
    assert title.text == "舆情日报" and title.alignment == 1  # centred
    [run] = title.runs
    assert _east_asia(run._r) == "黑体" and str(run.font.color.rgb) == "C00000"
    rule = document.paragraphs[1]._p.find(qn("w:pPr")).find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "C00000"
    assert "2024-07-24 00:00 至 2024-07-24 23:59（北京时间）" in document.paragraphs[1].text

    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == HEADINGS
    assert _east_asia(document.styles["Heading 1"].element) == "黑体"
    assert _east_asia(document.styles["Normal"].element) == "仿宋"

    footer = section.footer.paragraphs[0]._p
    [field] = footer.findall(qn("w:fldSimple"))
    assert field.get(qn("w:instr")).strip() == "PAGE"
    assert "".join(text.text for text in footer.iter(qn("w:t"))) == "— 1 —"


def test_the_word_tables_hold_the_reports_figures_and_each_section_its_search(tmp_path):
    report = _report(report_home(tmp_path), "daily", day=DAY.date())
    figures = report.as_dict()
    document = _read(report)
    texts = [p.text for p in document.paragraphs]
    assert f"本期 {figures['total_posts']} 条，上一周期 8 条，环比 +50.0%。" in texts and figures["total_posts"] == ON_THE_DAY
    assert figures["summary"]["text"] in texts
    assert texts.count("检索式：（全部信息）；时间：2024-07-24 00:00 至 2024-07-24 23:59（北京时间）") >= 5
    assert "检索式：（全部信息）；谣言；时间：2024-07-24 00:00 至 2024-07-24 23:59（北京时间）" in texts

    tables = {tuple(_rows(table)[0]): _rows(table)[1:] for table in document.tables}
    assert tables[("时间", "信息量")] == [[f"{bucket.replace('T', ' ')}时", str(count)] for bucket, count in
                                       zip(figures["volume"]["buckets"], figures["volume"]["counts"])]
    assert tables[("平台", "信息量", "占比")] == [[PLATFORM_NAMES[platform], str(count), f"{count / ON_THE_DAY:.1%}"]
                                          for platform, count in figures["platforms"]["platforms"]]
    assert tables[("省份", "信息量", "占比")][0][:2] == ["湖北省", "3"]
    posts = figures["top_posts"]["posts"]
    assert [[text, engagement] for _, _, _, text, engagement in tables[("时间", "平台", "作者", "内容", "互动量")]] == \
        [[post["text"], str(post["engagement"])] for post in posts] and len(posts) == 10
    assert "停电了 <script>alert(1)</script> 第3条" in [post["text"] for post in posts]  # as text, not markup
    [rumor] = tables[("首发", "内容", "近似重复帖文", "回应", "时限")]  # copies of its text, not its spread tree
    assert "1组疑似谣言，各以与首发内容相同或近似的帖文数（近似重复帖文）计。" in texts
    assert rumor[2] == "3" and rumor[4].startswith("发布权威信息：已按时回应")
    assert tables[("发布时间", "渠道", "标题")] == [["2024-07-24 21:00", "微博", "关于城东变电站的情况说明"]]
    assert tables[("预警时间", "方案", "级别", "状态", "确认", "回应", "关闭")][0][1:4] == ["停电监测：爆炸", "III", "已关闭"]


def test_charts_are_drawn_in_their_sections_to_the_pages_width(tmp_path):
    report = _report(report_home(tmp_path), "daily", day=DAY.date())
    wide, tall = _png(400, 200), _png(100, 400)
    document = _read(report, {"volume": wide, "places": tall, "psr": wide})  # no psr section in a daily report
    shapes = document.inline_shapes
    assert len(shapes) == 2
    assert shapes[0].width == WIDTH and shapes[0].height == WIDTH // 2
    assert shapes[1].height == CHART_HEIGHT and shapes[1].width < WIDTH  # a tall chart keeps to the page
    headings = [p for p in document.paragraphs if p.style.name == "Heading 1" or p._p.xpath(".//w:drawing")]
    assert [p.text or "图" for p in headings][1:3] == ["二、信息量走势", "图"]
    assert [p.text or "图" for p in headings][6:8] == ["六、地域分布", "图"]
    blobs = {part.blob for part in document.part.package.image_parts}
    assert blobs == {wide, tall}


def test_untrusted_texts_with_control_characters_are_kept_as_text(tmp_path):
    figures = _report(report_home(tmp_path), "daily", day=DAY.date()).as_dict()
    figures["top_posts"]["posts"][0].update(text="谣言\x00\x01\x08\x0b\x0c\x1f\ufffe<w:t>&amp;</w:t><script>x</script>\t末",
                                            author="账号\x07")
    figures["title"] = "舆情日报\x1b"
    document = _read(Report.from_dict(figures))
    assert document.paragraphs[0].text == "舆情日报" and document.core_properties.title == "舆情日报"
    row = next(_rows(table)[1] for table in document.tables if _rows(table)[0][3:4] == ["内容"])
    assert row[2] == "账号" and row[3] == "谣言<w:t>&amp;</w:t><script>x</script>\t末"


def test_a_special_report_in_word_shows_how_its_rumor_spread(tmp_path):
    report = _report(report_home(tmp_path), "special")
    spread = report.as_dict()["spread"]
    document = _read(report)
    texts = [p.text for p in document.paragraphs]
    assert [text for text in texts if text.endswith("谣言传播路径")] == ["十一、谣言传播路径"]
    assert f"传播最广的疑似谣言，其转发评论树共 3 条帖文（转发 0 条，评论 0 条），传播深度 0 层，最大广度 3 条。首发：账号1，2024-07-24 20:00，{RUMOR}" in texts
    assert f"传播树：/spread/cluster/{spread['cluster']}（据已存储的转发与评论关系）" in texts
    assert f"检索式：停电；谣言；聚类：{spread['cluster']}；时间：2024-07-23 06:00 至 2024-07-25 08:00（北京时间）" in texts
    assert ["关键传播者", "平台", "下游转发"] in [_rows(table)[0] for table in document.tables]

    spread.update(root=None)  # its first source no longer stored
    texts = [p.text for p in _read(Report.from_dict({**report.as_dict(), "spread": spread})).paragraphs]
    assert "传播最广的疑似谣言，其转发评论树共 3 条帖文（转发 0 条，评论 0 条），传播深度 0 层，最大广度 3 条。首发：—，—，" in texts
    spread.update(cluster=None)
    texts = [p.text for p in _read(Report.from_dict({**report.as_dict(), "spread": spread})).paragraphs]
    assert "未发现疑似谣言的传播。" in texts


def test_a_special_report_in_word_shows_the_incidents_psr_timeline(tmp_path):
    report = _report(report_home(tmp_path), "special")
    figures = report.as_dict()
    psr = figures["psr"]
    psr["state"] = {"households": [{"at": "2024-07-24T20:30:00+08:00", "value": 1200}]}
    document = _read(Report.from_dict(figures))
    texts = [p.text for p in document.paragraphs]
    assert [text for text in texts if text.startswith("十")] == ["十、预警处置", "十一、谣言传播路径", "十二、事件演化（压力—状态—响应）"]
    assert f"按小时统计的 {len(psr['buckets'])} 个时段中，信息量最高 3 条，新出现的疑似谣言 1 组，新增预警 1 条。" in texts
    tables = {tuple(_rows(table)[0]): _rows(table)[1:] for table in document.tables}
    assert tables[("阶段", "时段", "依据")] == [[PSR_NAMES[phase["phase"]], "2024-07-24 " + phase["at"][11:16], phase["reason"]]
                                          for phase in psr["phases"]] and len(psr["phases"]) == 3
    assert tables[("时间", "状态与响应", "内容")] == [  # the fact sheet's values among the responses, in time order
        ["2024-07-24 20:15", "确认预警", "III级预警：爆炸"], ["2024-07-24 20:30", "停电户数", "1200"],
        ["2024-07-24 21:00", "发布信息", "关于城东变电站的情况说明"], ["2024-07-24 22:05", "关闭预警", "III级预警：爆炸"]]

    psr.update(buckets=[], phases=[], state={}, response=[])
    document = _read(Report.from_dict(figures))
    tables = {tuple(_rows(table)[0]): _rows(table)[1:] for table in document.tables}
    assert tables[("阶段", "时段", "依据")] == [["时段内无相关信息，未划分阶段。"] * 3]  # one cell across the row
    assert tables[("时间", "状态与响应", "内容")] == [["事实表未更新，亦无发布与预警处置。"] * 3]
    assert not any(p.text.startswith("按小时统计") for p in document.paragraphs)


def test_render_makes_the_word_file_with_the_reports_charts_and_the_command_writes_it(tmp_path):
    home = report_home(tmp_path / "home")
    report = _report(home, "special")
    assert FORMATS["docx"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    made = docx.Document(io.BytesIO(render(report, "docx")))
    charts = draw(report.as_dict())
    assert set(charts) == {"volume", "platforms", "sentiment", "places", "psr", "spread"}
    assert {part.blob for part in made.part.package.image_parts} == set(charts.values())
    assert len(made.inline_shapes) == len(charts) and made.paragraphs[0].text == "舆情专报：7·24 停电"

    out = tmp_path / "daily.docx"
    written = cli("report", "daily", "--date", "2024-07-24", "--format", "docx", "--out", str(out), home=home)
    assert written.stdout == f"舆情日报: {ON_THE_DAY} posts, written to {out}\n"
    assert docx.Document(str(out)).paragraphs[0].text == "舆情日报"
