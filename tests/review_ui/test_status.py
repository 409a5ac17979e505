"""What a home holds: `crisiswatch status` and the administrator's status page show the
same figures, both built by desk.status.report; only administrators see the page."""

import json

import pytest
from parsel import Selector

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from indexes.backends import open_index
from indexes.indexer import index_pending
from review_ui import create_app
from tests.conftest import cli, html, logged_in_client


@pytest.fixture
def filled_home(home) -> Settings:
    """Posts on two platforms, three of them tagged and all but the last indexed; a crawl job
    whose last run was blocked."""
    store = Store(home.database_url)
    store.upsert_posts([make_post(platform=platform, platform_id=post_id, text=f"东湖区停电了 {post_id}",
                                  created_at="2024-07-25 08:00")
                        for platform, post_id in [("weibo", "w1"), ("weibo", "w2"), ("weibo", "w3"),
                                                  ("news", "n1"), ("news", "n2")]])
    store.save_tags([Tags(post_id, 0.2, "anger", 0.9, [], "test-model") for post_id in (1, 2, 4)])
    index_pending(store, open_index(home))
    store.upsert_posts([make_post(platform="weibo", platform_id="w4", text="又停电了", created_at="2024-07-25 09:00")])
    run = store.start_crawl_run("demo-news", "news")
    store.finish_crawl_run(run, status="blocked", pages=12, stored=3, duplicates=0, rejected=0)
    store.close()
    return home


def test_the_command_and_the_admin_page_show_the_same_figures(filled_home):
    figures = json.loads(cli("status", "--json", home=filled_home).stdout)
    assert figures["posts"] == {"weibo": {"stored": 4, "tagged": 2, "indexed": 3},
                                "news": {"stored": 2, "tagged": 1, "indexed": 2}}
    assert figures["index"]["documents"] == 5

    admin = logged_in_client(create_app(filled_home), roles=("admin",))
    response = admin.get("/admin/status")
    assert response.status_code == 200
    page = Selector(html(response))
    for platform, row in figures["posts"].items():
        for column, value in row.items():
            assert page.css(f'tr[data-platform="{platform}"] td.{column}::text').get() == str(value), (platform, column)
    for column, value in figures["totals"].items():
        assert page.css(f"tr.totals td.{column}::text").get() == str(value), column
    assert page.css(".status-index::text").get() == f"检索索引：embedded，{figures['index']['documents']} 条文档"

    [job] = [job for job in figures["jobs"] if job["name"] == "demo-news"]
    assert job["health"] == "blocked" and job["last_run"]["pages"] == 12
    row = page.css('tr[data-job="demo-news"]')
    assert row.css("td.health::text").get() == "被拦截"
    assert "：12 页，新增 3 条" in row.css("td.last-run::text").get()
    never = [job["name"] for job in figures["jobs"] if job["health"] == "never run"]
    assert never and all(page.css(f'tr[data-job="{name}"] td.health::text').get() == "从未运行" for name in never)

    assert figures["models"] and all(model["fallback"] for model in figures["models"].values())  # none trained
    for task, model in figures["models"].items():
        assert page.css(f'tr[data-task="{task}"] td:nth-of-type(1)::text').get() == model["version"]
        assert page.css(f'tr[data-task="{task}"] td.fallback::text').get() == "备用规则（未训练模型）"
    assert figures["tagged_by"] == {"test-model": 3}
    assert page.css(".tagged-by::text").getall() == ["3 条帖子由 test-model 标注"]

    english = html(admin.get("/admin/status?lang=en"))
    assert "System status" in english and "FALLBACK (no trained model)" in english
    assert "Search index: embedded, 5 documents" in english


def test_the_admin_page_links_to_it_and_an_outdated_index_is_told_not_a_crash(filled_home):
    admin = logged_in_client(create_app(filled_home), roles=("admin",))
    assert 'href="/admin/status"' in html(admin.get("/admin/"))
    (filled_home.index_dir / "meta.json").write_text("{}")  # the layout of crisiswatch 0.1
    response = admin.get("/admin/status")
    assert response.status_code == 503 and "crisiswatch index --rebuild" in html(response)


def test_an_analyst_cannot_see_it(filled_home):
    app = create_app(filled_home)
    analyst = logged_in_client(app, roles=("analyst",))
    assert analyst.get("/admin/status").status_code == 403
    assert app.test_client().get("/admin/status").status_code == 302  # anonymous: to the login page


def test_a_broken_jobs_file_is_told_on_the_page_and_by_the_command_not_a_crash(filled_home):
    (filled_home.home / "jobs.toml").write_text("[[job]]\nname = \"x\"\n", encoding="utf-8")
    admin = logged_in_client(create_app(filled_home), roles=("admin",))
    response = admin.get("/admin/status")
    assert response.status_code == 503
    assert "采集任务配置文件有误" in html(response) and "第 1 个任务缺少 spider" in html(response)
    english = html(admin.get("/admin/status?lang=en"))
    assert "jobs file" in english and "job 1 has no spider" in english

    status = cli("status", home=filled_home, check=False)
    assert status.exit_code == 1 and "job 1 has no spider" in status.stderr


def test_the_precise_tier_is_told_off_without_an_encoder_and_named_with_one(filled_home, tmp_path, monkeypatch):
    """Status looks for the encoder's files, it loads no model: placeholders do here."""
    partial, full = tmp_path / "partial", tmp_path / "full"
    for folder, files in ((partial, ["config.json"]), (full, ["config.json", "vocab.txt"])):
        folder.mkdir()
        for name in files:
            (folder / name).write_text("{}")
    (full / "model.safetensors").write_bytes(bytes(3 * 2**20))
    no_encoder = "no encoder: set CRISISWATCH_ENCODER"
    lacking = f"the encoder folder {partial} lacks model.safetensors, vocab.txt"
    cases = [("off", False, f"precise tier: off ({no_encoder})",
              "精细层：未启用（没有编码器：请设置 CRISISWATCH_ENCODER）", f"Precise tier: off ({no_encoder})"),
             (partial, False, f"precise tier: off ({lacking})",
              f"精细层：未启用（编码器文件夹 {partial} 缺少 model.safetensors, vocab.txt）", f"Precise tier: off ({lacking})"),
             (full, True, f"precise tier: on (encoder {full}, 3.0 MB)",
              f"精细层：已启用（编码器 {full}，3.0 MB）", f"Precise tier: on (encoder {full}, 3.0 MB)")]
    for setting, on, line, chinese, english in cases:
        monkeypatch.setenv("CRISISWATCH_ENCODER", str(setting))
        assert json.loads(cli("status", "--json", home=filled_home).stdout)["precise_tier"]["on"] is on
        assert cli("status", home=filled_home).stdout.splitlines()[-1] == line
        admin = logged_in_client(create_app(Settings.load(filled_home.home)), roles=("admin",))
        assert Selector(html(admin.get("/admin/status"))).css(".precise-tier::text").get() == chinese
        assert Selector(html(admin.get("/admin/status?lang=en"))).css(".precise-tier::text").get() == english
