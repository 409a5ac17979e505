"""The message catalogs: every id translated into Chinese, the files in step with the
template, every error code that desk/ and indexes/ raise in them; errors render in the
reader's language in the UI and stay English everywhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.errors import CodedError
from desk.accounts import AccountError
from desk.checks import MESSAGES as english_problems, Problem, message as english
from desk.errors import Invalid, InvalidTransition, WorkflowError
from crawlers.jobs import JobError
from desk.transmitters import ChannelConfigError, Place
from indexes.errors import IndexUnavailable
from indexes.query import QueryError
from review_ui import i18n

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w*)(?:![rsa])?\}")
FAMILIES = (AccountError, ChannelConfigError, IndexUnavailable, JobError, QueryError, WorkflowError)


def catalog(name: str):
    with (i18n.TRANSLATIONS / name).open("rb") as file:
        return read_po(file)


def flags(name: str) -> dict[str, str]:
    """msgid -> its flags line, read from the file: Babel's reader derives python-brace-format
    from the msgid, which here is a key without placeholders."""
    text = (i18n.TRANSLATIONS / name).read_text(encoding="utf-8")
    return dict((msgid, line) for line, msgid in re.findall(r'^#, (.*)\nmsgid "(.+)"$', text, re.M))


TEMPLATE = catalog("messages.pot")
FILES = {locale: f"{locale}/LC_MESSAGES/messages.po" for locale in i18n.LOCALES.values()}
TRANSLATED = {locale: catalog(name) for locale, name in FILES.items()}


def test_every_message_id_has_a_chinese_text_and_the_files_agree_with_the_template():
    ids = {message.id for message in TEMPLATE if message.id}
    assert len(ids) > 400
    for locale, translated in TRANSLATED.items():
        assert {message.id for message in translated if message.id} == ids, locale
        assert flags(FILES[locale]) == flags("messages.pot"), locale
        for message in translated:
            if message.id:
                assert not message.fuzzy, (locale, message.id)
    for message in TRANSLATED["zh_CN"]:
        if message.id:
            assert message.string.strip(), f"{message.id} has no Chinese text"


def test_a_text_with_placeholders_is_flagged_python_brace_format():
    flagged = {msgid for msgid, line in flags("messages.pot").items() if "python-brace-format" in line}
    for message in TEMPLATE:
        if message.id:
            texts = [translated[message.id].string for translated in TRANSLATED.values()]
            assert (message.id in flagged) == any(PLACEHOLDER.search(text) for text in texts), message.id


def test_every_error_code_raised_in_desk_and_indexes_has_a_catalog_entry():
    """Each code of each family is in the catalogs, and each code a raise names (found in
    the source) is one of its family's codes."""
    for family in FAMILIES:
        for code in family.MESSAGES:
            assert family.PREFIX + code in TEMPLATE, f"{family.__name__} {code} is in no catalog"
    raised = 0
    for where, cls, code, _ in _raises():
        assert code in cls.MESSAGES, f"{where} raises an unknown code {code!r}"
        raised += 1
    assert raised > 80


def test_each_catalog_text_of_an_error_uses_only_the_values_its_raises_pass():
    """A placeholder the code does not pass would be a KeyError on the page: each entry, in
    both languages, uses the values each raise of its code names (or their ``<key>_name``);
    the problems of the checks use the same values in the catalogs as in English."""
    for where, cls, code, given in _raises():
        allowed = given | {f"{key}_name" for key in given if key in i18n._NAMED}
        for locale, translated in TRANSLATED.items():
            entry = translated.get(cls.PREFIX + code)  # one missing fails the test above
            used = set(PLACEHOLDER.findall(entry.string)) if entry else set()
            assert used <= allowed, f"{where}: {locale} {cls.PREFIX + code} uses {sorted(used - allowed)}"
    for key, text in english_problems.items():
        for locale, translated in TRANSLATED.items():
            assert set(PLACEHOLDER.findall(translated[f"problem_{key}"].string)) == set(PLACEHOLDER.findall(text)), \
                (locale, key)


def _raises():
    """Each coded error the source raises with a code written in it: where, its class, the
    code and the names of the values passed (every raise names them)."""
    classes = {cls.__name__: cls for family in FAMILIES for cls in (family, *_subclasses(family))}
    for package in ("core", "desk", "indexes", "review_ui", "crisiswatch"):
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and ast.unparse(node.func).rsplit(".", 1)[-1] in classes:
                    code = node.args[0] if node.args else None
                    if isinstance(code, ast.Constant):
                        assert all(keyword.arg for keyword in node.keywords), f"{source.name}:{node.lineno} passes **values"
                        yield (f"{source.name}:{node.lineno}", classes[ast.unparse(node.func).rsplit(".", 1)[-1]],
                               code.value, {keyword.arg for keyword in node.keywords})


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_an_error_is_english_as_text_and_in_the_readers_language_on_the_page(app):
    refusal = InvalidTransition("state", action="approve", state="draft")
    quoting = Invalid("incident_query", error=QueryError("quote_open"))
    assert str(refusal) == "cannot approve a release in state draft" and refusal.reason == str(refusal)
    assert str(quoting) == "the incident's search query: a quotation mark (\") is not closed"
    with app.test_request_context("/?lang=zh"):
        assert i18n.error_message(refusal) == "状态为“草稿”的稿件不能批准。"
        assert i18n.error_message(quoting) == "事件的舆情检索式有误：双引号没有成对，请补上另一个双引号。"
        assert i18n.error_message(AccountError("password_short", min=10)) == "密码至少需要 10 个字符。"
    with app.test_request_context("/?lang=en"):  # the UI names the step and the state; the CLI their codes
        assert i18n.error_message(refusal) == "“Approve” is not possible while the release is “Draft”"
        assert i18n.error_message(quoting) == str(quoting)


def test_a_channels_file_mistake_says_where_and_an_index_error_what_to_do_in_the_readers_language(app):
    where = Place(Path("/srv/channels.toml"), org=1, org_name="供电局", channel=2, channel_name="w")
    secret = ChannelConfigError("webhook_secret", where=where)
    own = ChannelConfigError("/srv/channels.toml: a queue channel needs queue")  # a transmitter's own words
    assert str(secret) == ("/srv/channels.toml: [[organisation]] number 1 (供电局), channel 2 (w): "
                           "a webhook channel needs a secret of 16 characters or more")
    with app.test_request_context("/?lang=zh"):
        assert i18n.error_message(secret) == ("/srv/channels.toml 中第 1 个 [[organisation]] 表（供电局）的第 2 个渠道（w）："
                                              "webhook 渠道需要至少 16 个字符的 secret")
        assert i18n.error_message(Invalid("channels_file", error=ChannelConfigError("missing", path="/srv/x.toml"))) \
            == "发布渠道配置文件有误：/srv/x.toml 不存在（可参照 desk/channels.example.toml 编写）"
        assert i18n.error_message(own) == str(own)
    with app.test_request_context("/?lang=en"):  # the page in English says what the command line says
        for family in (ChannelConfigError, IndexUnavailable):
            for code, text in family.MESSAGES.items():
                err = family(code, **{name: where if name == "where" else "x" for name in PLACEHOLDER.findall(text)})
                assert i18n.error_message(err) == str(err), code

def test_an_error_the_catalogs_lack_keeps_its_english(app):
    class Unlisted(CodedError):
        MESSAGES = {"new": "something new about {thing}"}

    with app.test_request_context("/?lang=zh"):
        assert i18n.error_message(Unlisted("new", thing="x")) == "something new about x"


def test_a_catalog_not_compiled_names_make_install(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    i18n.catalog.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="run `make install`"):
            i18n.catalog("en")
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()


def test_a_check_problem_reads_in_the_readers_language_from_the_catalogs(app):
    """The checks of ``desk`` say their problems in English (the command line, the audit
    log); the release page says them through the catalogs."""
    other = {"stated": "96598", "expected": "95598、0898-12345", "source": "release", "release_id": 7,
             "org_name": "海南电网公司"}
    hotline = Problem("contradiction", "hotline", other, True)
    too_long = Problem("too_long", "too_long", {"channel": "weibo", "part": "text", "length": 2001, "limit": 2000}, True)
    missing = Problem("missing_fact", "missing_fact", {"fact": "households"}, True)
    with app.test_request_context("/?lang=zh"):
        assert i18n.problem_message(hotline) == "服务热线与海南电网公司第7号发布不一致：稿件 96598，海南电网公司第7号发布 95598、0898-12345"
        assert i18n.problem_message(too_long) == "微博超出长度：2001 字，上限 2000 字"
        assert i18n.problem_message(missing) == "稿件未引用事实表中的停电户数"
    with app.test_request_context("/?lang=en"):
        assert i18n.problem_message(hotline) == "Hotline differs from release #7 of 海南电网公司: draft 96598, " \
                                                "release #7 of 海南电网公司 95598、0898-12345"
    assert english(missing) == "The draft does not quote the fact sheet's household count"


@pytest.mark.parametrize("problem", [
    *(Problem("missing_fact", "missing_fact", {"fact": fact}, True)
      for fact in ("households", "restoration_estimate", "hotline", "affected_areas")),
    *(Problem("too_long", "too_long", {"channel": channel, "part": part, "length": 2001, "limit": 2000}, True)
      for channel in ("weibo", "wechat", "website", "press_conference") for part in ("title", "body", "text")),
    Problem("contradiction", "household_count", {"stated": "1200", "expected": "900", "source": "release",
                                                 "release_id": 7, "org_name": "海南电网公司"}, True),
], ids=lambda problem: "-".join(map(str, [problem.message_key, *problem.detail.values()][:3])))
def test_the_english_release_page_words_a_problem_as_the_command_line_and_release_0_1_0_do(app, problem):
    """The page's English is the checks' English, word for word: "household count" and
    "website notice", not the page's labels ("Households affected", "Website notice")."""
    with app.test_request_context("/?lang=en"):
        assert i18n.problem_message(problem) == english(problem)


def test_a_problem_names_its_fact_and_channel_in_the_words_of_release_0_1_0(app):
    too_long = Problem("too_long", "too_long", {"channel": "website", "part": "title", "length": 31, "limit": 30}, True)
    missing = Problem("missing_fact", "missing_fact", {"fact": "restoration_estimate"}, True)
    with app.test_request_context("/?lang=en"):
        assert i18n.problem_message(too_long) == "website notice title too long: 31 characters, limit 30"
        assert i18n.problem_message(missing) == "The draft does not quote the fact sheet's restoration estimate"
    with app.test_request_context("/?lang=zh"):
        assert i18n.problem_message(too_long) == "网站公告标题超出长度：31 字，上限 30 字"
        assert i18n.problem_message(missing) == "稿件未引用事实表中的预计恢复时间"
