"""The words of the crisis desk that commands and forms offer as choices: kinds and levels of
organisations, people's roles, the channels a release is written for. A module of its own,
without SQLAlchemy, so that the command line can name them without loading the tables."""

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
POLARITY_NAMES = {"negative": "负面", "neutral": "中性", "positive": "正面"}
