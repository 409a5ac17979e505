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
