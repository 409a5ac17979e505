"""Make a small home with the release at 1c39a2e (before the desk/ package): posts with
reposts, tags, index, organisations, users, an incident with facts, releases in several
states, a delivery, comments, sessions, audit log."""
import json, subprocess, sys, os
from pathlib import Path
home = Path(sys.argv[1]); home.mkdir(parents=True, exist_ok=True)
posts = home.parent / "posts.jsonl"
rows = [
 {"id": "p1", "text": "滨海市龙华区大面积停电，已经三个小时了还没来电 #停电#", "time": "2024-07-25 15:10:00", "user": {"id": "u1", "screen_name": "市民甲", "verified": False}, "reposts_count": 12, "comments_count": 3, "attitudes_count": 40,
  "reposts": [{"id": "r1", "text": "转发微博 听说要停一个星期？", "time": "2024-07-25 15:30:00", "user": {"id": "u2"}, "parent": "p1"},
              {"id": "r2", "text": "不会吧，谣言吧", "time": "2024-07-25 15:40:00", "user": {"id": "u3"}, "parent": "r1"}]},
 {"id": "p2", "text": "供电局：抢修人员已全部到位，预计今晚22时前恢复供电，热线95598", "time": "2024-07-25 16:00:00", "user": {"id": "u9", "screen_name": "滨海供电局", "verified": True}},
 {"id": "p3", "text": "美兰区也停电了，冰箱里的东西都坏了，太气人了😡", "time": "2024-07-25 17:20:00", "user": {"id": "u4"}},
 {"id": "p4", "text": "<script>alert(1)</script> 停电 谣言说全市停电一周", "time": "2024-07-26 08:00:00", "user": {"id": "u5"}},
 {"id": "p5", "text": "来电了！感谢抢修师傅们的辛苦付出", "time": "2024-07-26 09:00:00", "user": {"id": "u6"}},
]
posts.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
env = dict(os.environ, CRISISWATCH_HOME=str(home))
cw = [sys.executable, "-m", "crisiswatch"]
def run(*args, input=None):
    r = subprocess.run(cw + list(args), env=env, input=input, text=True, capture_output=True)
    print(args, r.returncode, r.stdout[-300:], r.stderr[-300:]); assert r.returncode == 0
run("import", str(posts)); run("tag"); run("index")
run("org", "add", "滨海市人民政府新闻办公室", "--kind", "government", "--level", "city")
run("org", "add", "滨海供电局", "--kind", "enterprise", "--level", "company")
run("user", "add", "admin", "--org", "滨海市人民政府新闻办公室", "--role", "admin", "--password-stdin", input="admin-password-1\n")
run("user", "add", "gov", "--org", "滨海市人民政府新闻办公室", "--role", "drafter", "--password-stdin", input="gov-password-1\n")
run("user", "add", "chief", "--org", "滨海市人民政府新闻办公室", "--role", "approver", "--role", "publisher", "--password-stdin", input="chief-password-1\n")
run("user", "add", "grid", "--org", "滨海供电局", "--role", "drafter", "--role", "approver", "--password-stdin", input="grid-password-1\n")
(home / "exports").mkdir(exist_ok=True)
(home / "channels.toml").write_text('[[organisation]]\nname = "滨海市人民政府新闻办公室"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\nfolder = "exports"\n')
sys.path.insert(0, os.getcwd())
from core.settings import Settings
from core.store import Store
from review_ui.workflow import open_sessions, releases, outbox, accounts
from review_ui.workflow.facts import set_fact
from review_ui.workflow.tables import Organisation
settings = Settings.load(home)
store = Store(settings.database_url)
sessions = open_sessions(store.engine, home)
with sessions.begin() as s:
    gov, grid, chief = accounts.find_user(s, "gov"), accounts.find_user(s, "grid"), accounts.find_user(s, "chief")
    inc = releases.create_incident(s, gov, "7·25 滨海停电", query="停电", org_ids=[grid.org_id])
    for k, v in {"affected_areas": ["龙华区", "美兰区"], "households": "12000", "restoration_estimate": "7月25日22:00", "hotline": "95598", "cause": "强降雨"}.items():
        set_fact(s, gov, inc, k, v)
    set_fact(s, grid, inc, "households", "13000")  # a dispute
    body = "7月25日15时许，受强降雨影响，龙华区、美兰区部分线路故障，约1.2万户居民用电受到影响。预计7月25日22:00前全部恢复供电。如有疑问请拨打95598。"
    r1 = releases.create_release(s, gov, inc, "关于龙华区、美兰区停电情况的通报", body, "website", [], rumor_clusters=[])
    releases.submit(s, gov, r1); releases.approve(s, chief, r1)
    channels = outbox.load_channels(home / "channels.toml")
    releases.schedule(s, chief, r1, enqueue=lambda sess, rel: outbox.enqueue(sess, rel, channels))
    r2 = releases.create_release(s, gov, inc, "第二次通报（草稿）", body + "抢修进展良好。", "weibo", [grid.org_id], joint=True)
    releases.edit(s, gov, r2, "第二次通报", body + "抢修进展顺利。")
    releases.submit(s, gov, r2)
    releases.request_changes(s, grid, r2, "户数请核对")
    releases.add_comment(s, gov, r2, "已核对")
    accounts.start_session(s, gov)
report = outbox.deliver_due(sessions, channels)
print(report)
