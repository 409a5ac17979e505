"""The words of the crisis desk that commands and forms offer as choices: kinds and levels of
organisations, people's roles, the channels a release is written for. A module of its own,
without SQLAlchemy, so that the command line can name them without loading the tables."""

from desk.states import ReleaseState

ORG_KINDS = ("government", "enterprise")
# government: province, city, county, department; enterprise: company, branch
ORG_LEVELS = ("province", "city", "county", "department", "company", "branch")
ROLES = ("analyst", "drafter", "approver", "publisher", "admin")
# what a release is written for (length limits, the rumor clocks it meets); a press
# conference's release is the statement read there and published with it
CHANNELS = ("weibo", "wechat", "website", "press_conference")
REPORT_KINDS = ("daily", "special", "flash")  # briefings (desk.reports)
# The Chinese names of the values the index counts, as the review UI's zh_CN catalog
# words them (label_platform_*, label_sentiment_*, label_polarity_*): the reports are
# written in Chinese only, and name a value as the pages do.
PLATFORM_NAMES = {"weibo": "微博", "wechat": "微信公众号", "tieba": "贴吧", "news": "新闻网站", "gov": "官方发布"}
SENTIMENT_NAMES = {"positive": "正面", "weak_negative": "轻度负面", "anger": "愤怒", "anxiety": "焦虑"}
EMOTION_NAMES = {"fear": "恐惧", "disgust": "厌恶", "optimism": "乐观", "surprise": "惊讶", "gratitude": "感激",
                 "sadness": "悲伤", "anger": "愤怒"}
POLARITY_NAMES = {"negative": "负面", "neutral": "中性", "positive": "正面"}
CHANNEL_NAMES = {"weibo": "微博", "wechat": "微信文章", "website": "网站公告", "press_conference": "新闻发布会"}
ALERT_STATE_NAMES = {"new": "待研判", "handling": "处置中", "answered": "已回应", "closed": "已关闭"}
# A rumor clock's deadlines (the shipped clocks.toml's; a home's own are shown by name) and their states.
CLOCK_NAMES = {"authoritative_information": "发布权威信息", "press_conference": "新闻发布会"}
DEADLINE_NAMES = {"met": "已按时回应", "running": "计时中", "missed": "已超时"}
FACT_NAMES = {"affected_areas": "停电区域", "households": "停电户数", "cause": "停电原因",
              "restoration_estimate": "预计恢复时间", "hotline": "服务热线", "last_update": "最近更新时间"}
PSR_RESPONSES = ("release", "press_conference", "alert_acknowledged", "alert_closed")  # desk.psr's kinds of response
# The names of a PSR timeline's figures (desk.psr): its pressure series, its kinds of
# response and its phases.
PSR_NAMES = {"posts": "信息量", "negative_share": "负面占比", "rumor_clusters": "新出现的疑似谣言", "alerts": "新增预警",
             "release": "发布信息", "press_conference": "新闻发布会", "alert_acknowledged": "确认预警",
             "alert_closed": "关闭预警", "onset": "起始", "peak": "高峰", "recovery": "回落"}
# A drill report's steps of the response to a rumor (desk.drill_report) and the kinds of
# a scenario's injects (desk.scenario.INJECT_KINDS).
DRILL_STEP_NAMES = {"alert": "发出预警", "acknowledgement": "确认预警", "approval": "回应获批", "publication": "回应发布"}
INJECT_KIND_NAMES = {"journalist_call": "记者来电", "rumor_video": "谣言视频", "new_fault": "新故障"}
# The filters a report's section names in its source line (desk.reports, desk.drill_report),
# the values some of them take, and a filter that is only on (True) said by its name alone.
FILTER_NAMES = {"drill": "演练", "rumor": "谣言", "cluster": "聚类", "sort": "排序", "among": "取互动量最高的信息数",
                "state": "状态", "audit": "审计记录", "incident": "事件编号", "opened": "期间新开"}
SORT_NAMES = {"engagement": "按互动量"}
RELEASE_STATE_NAMES = {ReleaseState.PUBLISHED.value: "已发布"}
AUDIT_ACTION_NAMES = {"workflow.blocked": "发布前检查拦截", "release.submit": "提交审核", "release.approve": "审批"}
