"""UI strings in Chinese (the default) and English, and the labels of tag values.

The language comes from ``?lang=zh|en``, remembered in a cookie, else Chinese. Strings
are plain ``str`` (never Markup): whatever is formatted into them is escaped by Jinja
like any other value.
"""

from __future__ import annotations

import re

from flask import g, has_request_context, request, url_for

from desk import limits
from nlp import places
from review_ui.params import args_with, link_args
from review_ui.services import services

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "incidents": "事件",
        "nav_incidents": "事件与发布",
        "new_incident": "新建事件",
        "incident_title": "事件名称",
        "incident_query": "舆情检索式",
        "major_incident": "重大事件",
        "no_incidents": "还没有事件。",
        "create": "创建",
        "incident_meta": "开始于 {since}",
        "incident_posts": "相关帖子",
        "dashboard": "态势看板",
        "fact_sheet": "事实表",
        "fact_affected_areas": "停电区域",
        "fact_households": "停电户数",
        "fact_cause": "停电原因",
        "fact_restoration_estimate": "预计恢复时间",
        "fact_hotline": "服务热线",
        "fact_last_update": "最近更新时间",
        "fact_owner": "（{org} 负责，{at} 更新）",
        "fact_unset": "尚未填写",
        "set_fact": "更新事实",
        "fact_disputed": "有争议",
        "fact_dispute": "{org} 认为：{value}（{at}）",
        "fact_disputed_saved": "{fact}由{org}负责：您的数值已作为争议记录在事实表上，请与其协商。",
        "incident_orgs": "处理单位",
        "incident_orgs_help": "开启事件的单位和这里列出的单位可以填写事实表；对他方负责的事实项填写不同数值时，记为争议并在事实表上显示。",
        "name_orgs": "添加处理单位",
        "rumor_clocks": "谣言应对时限",
        "rumor_clocks_help": "按国务院关于回应社会关切的要求：重大事件 5 小时内发布权威信息，24 小时内举行新闻发布会。时限自谣言首条帖子起算。",
        "rumor": "谣言",
        "spreading_since": "传播起始",
        "deadlines": "时限",
        "answered_by": "回应稿件",
        "volume_before_after": "发布前后声量",
        "hours_ago": "已传播 {n} 小时",
        "clock_authoritative_information": "发布权威信息",
        "clock_press_conference": "新闻发布会",
        "deadline_met": "已按时回应",
        "deadline_running": "计时中",
        "deadline_missed": "已超时",
        "unanswered": "未回应",
        "answer_rumor": "起草回应",
        "retry_delivery": "重新发送",
        "no_channels": "以下单位没有配置发布渠道，不会收到此稿：{orgs}",
        "before_after": "前 {hours} 小时 {before} 条，后 {after} 条",
        "volume_pending": "发布满 {hours} 小时后显示",
        "no_rumors": "暂无谣言簇。",
        "releases": "发布稿",
        "no_releases": "还没有发布稿。",
        "new_release": "起草发布稿",
        "release_title": "标题",
        "release_body": "正文",
        "channel": "渠道",
        "channel_weibo": "微博",
        "channel_wechat": "微信文章",
        "channel_website": "网站公告",
        "channel_press_conference": "新闻发布会",
        "required_orgs": "须审批的单位",
        "joint_release": "政企联合发布",
        "answers_clusters": "回应的谣言簇",
        "clusters_placeholder": "从搜索结果复制簇编号，逗号分隔",
        "save_draft": "保存草稿",
        "state_draft": "草稿",
        "state_in_review": "审核中",
        "state_approved": "已批准",
        "state_scheduled": "已排期",
        "state_published": "已发布",
        "kind_release": "发布稿",
        "kind_correction": "更正",
        "kind_withdrawal": "撤回",
        "drafted_by": "起草单位：{org}",
        "corrects": "更正/撤回",
        "scheduled_for": "排期 {at}",
        "published_at": "发布于 {at}",
        "checks": "发布前检查",
        "checks_pass": "检查通过：与事实表和对方发布一致，无敏感词，长度合规。",
        "approvals": "审批",
        "approved_by": "已批准（{user}，第 {version} 版）",
        "awaiting_approval": "待审批",
        "actions": "操作",
        "save_version": "保存为新版本",
        "do_submit": "提交审核",
        "do_approve": "批准",
        "do_unschedule": "取消排期",
        "do_schedule": "排期发布",
        "schedule_at": "发布时间（北京时间，留空为立即）",
        "do_request_changes": "退回修改",
        "changes_wanted": "修改意见",
        "do_correct": "发布更正",
        "do_withdraw": "撤回发布",
        "do_comment": "发表意见",
        "do_edit": "编辑",
        "comments": "意见",
        "changes_requested": "退回修改",
        "versions": "版本",
        "version_by": "第 {number} 版，{user}，{at}",
        "diff_previous": "与上一版比较",
        "diff_title": "第 {a} 版与第 {b} 版的差异",
        "compare": "比较",
        "deliveries": "发送状态",
        "status": "状态",
        "attempts": "尝试次数",
        "last_error": "最近错误",
        "delivery_pending": "待发送",
        "delivery_sending": "发送中",
        "delivery_cancelled": "已取消（撤销排期）",
        "delivery_delivered": "已送达",
        "delivery_failed": "发送失败",
        "delivery_held": "已暂停发送",
        "release_held": "排期发布已暂停：稿件与当前事实表不一致（见“发布前检查”）。事实表与稿件一致后，下一次发布时自动送出；也可撤销排期，修改后重新审批。",
        "dashboard_meta": "共 {n} 条相关帖子",
        "chart_volume": "各平台声量",
        "chart_sentiment": "情感变化",
        "chart_emotion": "情绪变化",
        "chart_topics": "话题占比",
        "chart_places": "地区分布",
        "top_rumor_clusters": "主要谣言簇",
        "top_posts": "高互动帖子",
        "product": "舆情监测 · crisiswatch",
        "search": "搜索",
        "search_placeholder": "输入关键词，如：停电 恢复供电",
        "search_help": "空格分隔的词须全部出现；\"…\" 精确短语；A OR B 任一即可；NOT 词 或 -词 排除。",
        "since": "开始日期",
        "until": "结束日期",
        "sort": "排序",
        "sort_relevance": "相关度",
        "sort_newest": "最新",
        "sort_engagement": "互动最多",
        "rumor_only": "只看疑似谣言",
        "more_filters": "更多筛选（平台、认证、极性、情感、情绪、话题、谣言概率）",
        "any": "不限",
        "rumor_min": "谣言概率不低于",
        "rumor_max": "谣言概率不高于",
        "apply": "应用",
        "clear_filters": "清除全部筛选",
        "facet_platform": "平台",
        "facet_verified": "作者认证",
        "facet_polarity": "极性",
        "facet_sentiment": "情感",
        "facet_emotion": "情绪",
        "facet_topics": "话题",
        "facet_places": "地区",
        "facet_cluster": "重复文本",
        "facet_rumor": "谣言判断",
        "cluster_label": "近似重复 #{hash}",
        "cluster_id": "簇编号 {id}（起草回应时填入“回应的谣言簇”）",
        "active_filters": "当前筛选",
        "remove_filter": "移除此筛选",
        "histogram_day": "按日分布（北京时间）",
        "histogram_hour": "按小时分布（北京时间）",
        "interval_day": "按日",
        "interval_hour": "按小时",
        "results_count": "共 {total} 条结果",
        "no_results": "没有找到符合条件的帖子。可以减少关键词或放宽筛选条件。",
        "index_unavailable": "搜索索引暂时不可用，请联系管理员。详情：{detail}",
        "no_more": "没有更多结果了。",
        "prev": "上一页",
        "next": "下一页",
        "next_page": "下一页",
        "first_page": "回到第一页",
        "pager": "翻页",
        "page_of": "第 {page} / {pages} 页",
        "page_reach": "第 {page} 页，可翻至第 {last} 页（其余请改按最新排序或缩小范围）",
        "rumor_prob": "谣言概率 {pct}%",
        "untagged": "尚未标注",
        "details": "详情",
        "original": "原文链接",
        "query_error": "查询有误：{message}",
        "back_to_search": "返回搜索",
        "post": "帖子",
        "meta": "基本信息",
        "field_platform": "平台",
        "field_kind": "类型",
        "field_author": "作者",
        "author_user": "用户 {id}",
        "verified": "已认证",
        "field_created": "发布时间",
        "field_stored": "入库时间",
        "field_counts": "转发 / 评论 / 点赞",
        "field_source": "来源",
        "field_platform_id": "平台内编号",
        "field_parent": "回复/转发自",
        "field_url": "原始链接",
        "url_not_link": "（非 http/https 链接，不可点击）",
        "tags": "标注",
        "field_rumor": "谣言概率",
        "field_sentiment": "情感",
        "field_sentiment_score": "情感置信度",
        "field_emotion": "情绪",
        "field_emotion_scores": "各情绪得分",
        "field_polarity": "极性",
        "field_organisations": "机构",
        "nav_search": "搜索",
        "stories": "正在发酵的话题",
        "stories_help": "最近一段时间里明显多于前一天的关键词，以及用这些词的帖子。点击关键词可查看这段时间的全部相关帖子。",
        "last_hours": "最近 {n} 小时",
        "stories_window": "时间范围：{since} 至 {until}（以最新一条帖子为止）",
        "stories_bad_window": "时间窗口只能是 {windows} 小时。",
        "story_meta": "{n} 条帖子 · 首次出现 {first} · 最近 {last} · 热度为前一天的 {burst} 倍",
        "no_stories": "这段时间没有明显新出现的话题。",
        "field_locations": "其他地点",
        "corrections": "人工校正",
        "corrections_help": "标签有误时请选择正确的值并保存；下次训练模型（crisiswatch train）时会学习这些校正。",
        "correct_rumor": "是否谣言",
        "correct_sentiment": "情感",
        "correct_emotion": "情绪",
        "correct_topics": "话题（可多选）",
        "topics_corrected": "话题已人工校正",
        "save_correction": "保存",
        "corrected_as": "已校正为：{value}",
        "correction_saved": "已保存对“{task}”的校正。",
        "correction_unchanged": "“{task}”与当前标注相同，未记录校正。",
        "choose": "请选择",
        "field_topics": "话题",
        "field_places": "地区",
        "field_cluster": "重复文本",
        "field_model": "模型版本",
        "truncated": "正文过长，已截断。",
        "capture": "原始响应（证据）",
        "capture_help": "采集时保存的原始页面，原文删除后仍可举证；下载查看，不在本站打开。",
        "capture_download": "下载（{status}，{fetched}，SHA-256 {sha}…）",
        "replies": "回复与转发",
        "no_replies": "暂无回复或转发。",
        "not_found_title": "找不到页面",
        "not_found": "找不到该帖子或页面。它可能已被删除，或链接有误。",
        "error_title": "出错了",
        "bad_request": "请求无效。",
        "too_large": "提交的内容过大（超过 1 MB），请缩短后再试。",
        "csrf_failed": "表单已失效（缺少或过期的安全令牌）：请返回上一页，刷新后再提交。",
        "forbidden": "您的角色无权访问此页面或执行此操作。",
        "server_error": "服务器内部错误，请稍后重试；如果持续出现，请联系管理员。",
        "language": "English",
        "none": "—",
        "sep": "：",
        "time_note": "时间均为北京时间",
        "login": "登录",
        "logout": "退出登录",
        "username": "用户名",
        "password": "密码",
        "login_help": "账号由系统管理员创建；忘记密码请联系管理员重置。",
        "login_failed": "用户名或密码错误。",
        "login_locked": "登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试，或联系管理员解锁。",
        "login_address_limited": "此地址登录失败次数过多，请 {minutes} 分钟后再试。",
        "nav_admin": "系统管理",
        "admin": "系统管理",
        "audit_log": "审计日志",
        "audit_ok": "哈希链校验通过，共 {n} 条记录。",
        "audit_broken": "哈希链在第 {id} 条记录处断开（{reason}），日志可能被篡改。",
        "audit_export": "导出审计日志（JSON Lines）",
        "audit_missing": "审计日志缺少第 {first}-{last} 条记录（现有 {n} 条）：锚点文件记录的条数多于日志，日志末尾的记录被删除了。",
        "audit_anchor": "最近的锚点（记录在数据库之外的 audit-anchors.jsonl）：{at}，共 {n} 条记录，链头哈希 {head}…",
        "organisations": "机构",
        "organisation": "所属机构",
        "org_name": "机构名称",
        "org_kind": "类型",
        "org_level": "层级",
        "org_parent": "上级机构",
        "org_create": "新建机构",
        "users": "用户",
        "display_name": "姓名",
        "roles": "角色",
        "save_roles": "保存角色",
        "account_status": "状态",
        "active": "正常",
        "inactive": "已停用",
        "locked_until": "已锁定至 {until}",
        "unlock": "解锁",
        "initial_password": "初始密码",
        "user_create": "新建用户",
        "admin_org_created": "已新建机构：{name}",
        "admin_user_created": "已新建用户：{username}",
        "admin_roles_changed": "已修改 {username} 的角色",
        "admin_unlocked": "已解锁 {username}",
        "disable_user": "停用",
        "enable_user": "启用",
        "admin_disabled": "已停用 {username}，其登录会话已全部结束。",
        "admin_enabled": "已启用 {username}。",
        "account_org_name": "请填写机构名称（不超过 200 个字）。",
        "account_name_nul": "名称不能含有空字符（NUL），请删除后再提交。",
        "account_display_name": "显示名称最多 200 个字（现有 {length} 个），请缩短。",
        "account_org_taken": "已有名为“{name}”的机构。",
        "account_org_kind": "机构类型只能是：{choices}。",
        "account_org_level": "该类型机构的层级只能是：{choices}。",
        "account_org_unknown": "没有名为“{name}”的机构。",
        "account_username": "用户名为 2 到 64 个字母、数字或 . _ - 字符。",
        "account_username_taken": "用户名 {username} 已被使用。",
        "account_user_unknown": "没有用户 {username}。",
        "account_password_short": "密码至少需要 {min} 个字符。",
        "account_roles": "请至少选择一个角色，可选：{choices}。",
        "account_last_admin": "{username} 是唯一的管理员：请先把管理员角色授予其他用户。",
    },
    "en": {
        "incidents": "Incidents",
        "nav_incidents": "Incidents & releases",
        "new_incident": "New incident",
        "incident_title": "Incident name",
        "incident_query": "Search query for its posts",
        "major_incident": "Major incident",
        "no_incidents": "No incidents yet.",
        "create": "Create",
        "incident_meta": "Started {since}",
        "incident_posts": "Its posts",
        "dashboard": "Dashboard",
        "fact_sheet": "Fact sheet",
        "fact_affected_areas": "Affected areas",
        "fact_households": "Households affected",
        "fact_cause": "Cause",
        "fact_restoration_estimate": "Restoration estimate",
        "fact_hotline": "Hotline",
        "fact_last_update": "Last update",
        "fact_owner": "({org}, updated {at})",
        "fact_unset": "not set",
        "set_fact": "Update fact",
        "fact_disputed": "disputed",
        "fact_dispute": "{org} says: {value} ({at})",
        "fact_disputed_saved": "{org} owns the {fact}: your value is recorded on the fact sheet as a dispute, to be settled with it.",
        "incident_orgs": "Organisations handling it",
        "incident_orgs_help": "The organisation that opened the incident and those listed here set its facts; a different value for a fact another of them owns is recorded as a dispute and shown on the fact sheet.",
        "name_orgs": "Add organisations",
        "rumor_clocks": "Rumors on the clock",
        'rumor_clocks_help': "After the State Council's rules on responding to public concerns: authoritative information within 5 hours of a major incident, a press conference within 24 hours, counted from a rumor's first post.",
        "rumor": "Rumor",
        "spreading_since": "Spreading since",
        "deadlines": "Deadlines",
        "answered_by": "Answered by",
        "volume_before_after": "Volume before / after",
        "hours_ago": "spreading for {n} h",
        "clock_authoritative_information": "Authoritative information",
        "clock_press_conference": "Press conference",
        "deadline_met": "met",
        "deadline_running": "running",
        "deadline_missed": "missed",
        "unanswered": "unanswered",
        "answer_rumor": "draft an answer",
        "retry_delivery": "Send again",
        "no_channels": "These organisations have no publishing channel and will not receive it: {orgs}",
        "before_after": "{before} in the {hours} h before, {after} after",
        "volume_pending": "shown {hours} h after publication",
        "no_rumors": "No rumor clusters.",
        "releases": "Releases",
        "no_releases": "No releases yet.",
        "new_release": "Draft a release",
        "release_title": "Title",
        "release_body": "Text",
        "channel": "Channel",
        "channel_weibo": "Weibo post",
        "channel_wechat": "WeChat article",
        "channel_website": "Website notice",
        "channel_press_conference": "Press conference",
        "required_orgs": "Organisations that must approve",
        "joint_release": "Joint government-enterprise release",
        "answers_clusters": "Rumor clusters it answers",
        "clusters_placeholder": "cluster ids from the search page, comma-separated",
        "save_draft": "Save draft",
        "state_draft": "Draft",
        "state_in_review": "In review",
        "state_approved": "Approved",
        "state_scheduled": "Scheduled",
        "state_published": "Published",
        "kind_release": "Release",
        "kind_correction": "Correction",
        "kind_withdrawal": "Withdrawal",
        "drafted_by": "Drafted by {org}",
        "corrects": "corrects",
        "scheduled_for": "scheduled for {at}",
        "published_at": "published {at}",
        "checks": "Pre-publication checks",
        "checks_pass": "Checks pass: agrees with the fact sheet and the other side, no prohibited terms, within length.",
        "approvals": "Approvals",
        "approved_by": "approved ({user}, version {version})",
        "awaiting_approval": "awaiting approval",
        "actions": "Actions",
        "save_version": "Save as a new version",
        "do_submit": "Submit for review",
        "do_approve": "Approve",
        "do_unschedule": "Unschedule",
        "do_schedule": "Schedule",
        "schedule_at": "Publish at (China time; empty: now)",
        "do_request_changes": "Request changes",
        "changes_wanted": "Changes wanted",
        "do_correct": "Publish a correction",
        "do_withdraw": "Withdraw",
        "do_comment": "Comment",
        "do_edit": "Edit",
        "comments": "Comments",
        "changes_requested": "changes requested",
        "versions": "Versions",
        "version_by": "Version {number}, {user}, {at}",
        "diff_previous": "compare with the previous",
        "diff_title": "Version {a} against version {b}",
        "compare": "Compare",
        "deliveries": "Delivery",
        "status": "Status",
        "attempts": "Attempts",
        "last_error": "Last error",
        "delivery_pending": "pending",
        "delivery_sending": "sending",
        "delivery_cancelled": "cancelled (unscheduled)",
        "delivery_delivered": "delivered",
        "delivery_failed": "failed",
        "delivery_held": "held",
        "release_held": "Publication is held: the release contradicts the fact sheet as it is now (see the checks). It goes out at the next run once the two agree again; or unschedule it, edit it and have it approved again.",
        "dashboard_meta": "{n} posts",
        "chart_volume": "Volume by platform",
        "chart_sentiment": "Sentiment over time",
        "chart_emotion": "Emotion over time",
        "chart_topics": "Topic shares",
        "chart_places": "Posts by place",
        "top_rumor_clusters": "Top rumor clusters",
        "top_posts": "Top posts by engagement",
        "product": "舆情监测 · crisiswatch",
        "search": "Search",
        "search_placeholder": "Keywords, e.g. 停电 恢复供电",
        "search_help": "Words separated by spaces must all appear; \"…\" exact phrase; A OR B either one; NOT word or -word excludes.",
        "since": "From",
        "until": "To",
        "sort": "Sort",
        "sort_relevance": "Relevance",
        "sort_newest": "Newest",
        "sort_engagement": "Most engagement",
        "rumor_only": "Likely rumors only",
        "more_filters": "More filters (platform, verified, polarity, sentiment, emotion, topic, rumor probability)",
        "any": "Any",
        "rumor_min": "Rumor probability at least",
        "rumor_max": "Rumor probability at most",
        "apply": "Apply",
        "clear_filters": "Clear all filters",
        "facet_platform": "Platform",
        "facet_verified": "Verified author",
        "facet_polarity": "Polarity",
        "facet_sentiment": "Sentiment",
        "facet_emotion": "Emotion",
        "facet_topics": "Topic",
        "facet_places": "Place",
        "facet_cluster": "Repeated texts",
        "facet_rumor": "Rumor",
        "cluster_label": "Near-duplicates #{hash}",
        "cluster_id": "cluster id {id} (for \"Rumor clusters it answers\" in a release)",
        "active_filters": "Active filters",
        "remove_filter": "Remove this filter",
        "histogram_day": "Posts per day (China time)",
        "histogram_hour": "Posts per hour (China time)",
        "interval_day": "By day",
        "interval_hour": "By hour",
        "results_count": "{total} results",
        "no_results": "No posts match. Try fewer keywords or wider filters.",
        "index_unavailable": "The search index cannot be used right now; please tell the administrator. Details: {detail}",
        "no_more": "No more results.",
        "prev": "Previous",
        "next": "Next",
        "next_page": "Next page",
        "first_page": "First page",
        "pager": "Pages",
        "page_of": "Page {page} of {pages}",
        "page_reach": "page {page}; pages go to {last} (sort by newest, or narrow the search, for the rest)",
        "rumor_prob": "Rumor {pct}%",
        "untagged": "Not tagged yet",
        "details": "Details",
        "original": "Original",
        "query_error": "The query cannot be run: {message}",
        "back_to_search": "Back to search",
        "post": "Post",
        "meta": "Details",
        "field_platform": "Platform",
        "field_kind": "Kind",
        "field_author": "Author",
        "author_user": "user {id}",
        "verified": "verified",
        "field_created": "Posted",
        "field_stored": "Stored",
        "field_counts": "Reposts / comments / likes",
        "field_source": "Source",
        "field_platform_id": "Platform id",
        "field_parent": "Reply to / repost of",
        "field_url": "Original URL",
        "url_not_link": "(not an http/https link, not clickable)",
        "tags": "Tags",
        "field_rumor": "Rumor probability",
        "field_sentiment": "Sentiment",
        "field_sentiment_score": "Sentiment score",
        "field_emotion": "Emotion",
        "field_emotion_scores": "Emotion scores",
        "field_polarity": "Polarity",
        "field_organisations": "Organisations",
        "nav_search": "Search",
        "stories": "Emerging stories",
        "stories_help": "Words used far more in this window than in the day before, with the posts that use them. Click the words to search all such posts of the window.",
        "last_hours": "Last {n} hours",
        "stories_window": "Window: {since} to {until} (up to the newest post)",
        "stories_bad_window": "The window is one of {windows} hours.",
        "story_meta": "{n} posts · first {first} · latest {last} · {burst} times the day before",
        "no_stories": "Nothing new stands out in this window.",
        "field_locations": "Other places",
        "corrections": "Corrections",
        "corrections_help": "If a tag is wrong, choose the right value and save; the next model training (crisiswatch train) learns from corrections.",
        "correct_rumor": "Rumor",
        "correct_sentiment": "Sentiment",
        "correct_emotion": "Emotion",
        "correct_topics": "Topics (any number)",
        "topics_corrected": "Topics corrected by an analyst",
        "save_correction": "Save",
        "corrected_as": "Corrected to: {value}",
        "correction_saved": "Your correction of “{task}” is saved.",
        "correction_unchanged": "“{task}” is as tagged already: no correction recorded.",
        "choose": "choose",
        "field_topics": "Topics",
        "field_places": "Places",
        "field_cluster": "Repeated text",
        "field_model": "Model version",
        "truncated": "The text was too long and has been cut.",
        "capture": "Raw response (evidence)",
        "capture_help": "The page as captured, kept as evidence when the original is deleted; download it, it is not opened here.",
        "capture_download": "Download ({status}, {fetched}, SHA-256 {sha}…)",
        "replies": "Replies and reposts",
        "no_replies": "No replies or reposts.",
        "not_found_title": "Not found",
        "not_found": "This post or page does not exist. It may have been removed, or the link is wrong.",
        "error_title": "Error",
        "bad_request": "The request is not valid.",
        "too_large": "What was sent is too large (over 1 MB): shorten it and try again.",
        "csrf_failed": "The form has expired (its security token is missing or out of date): go back, reload the page and send it again.",
        "forbidden": "Your role does not allow this page or action.",
        "server_error": "Internal error; try again shortly, and tell the administrator if it persists.",
        "language": "中文",
        "none": "—",
        "sep": ": ",
        "time_note": "All times are China time (UTC+8)",
        "login": "Log in",
        "logout": "Log out",
        "username": "Username",
        "password": "Password",
        "login_help": "Accounts are created by the administrator, who can also reset a forgotten password.",
        "login_failed": "Wrong username or password.",
        "login_locked": "Too many failed logins: the account is locked. Try again in {minutes} minutes, or ask the administrator to unlock it.",
        "login_address_limited": "Too many failed logins from this address. Try again in {minutes} minutes.",
        "nav_admin": "Administration",
        "admin": "Administration",
        "audit_log": "Audit log",
        "audit_ok": "The hash chain verifies: {n} entries.",
        "audit_broken": "The hash chain breaks at entry {id} ({reason}): the log may have been tampered with.",
        "audit_export": "Export the audit log (JSON Lines)",
        "audit_missing": "Entries {first}-{last} of the audit log are missing (it has {n}): the anchors record more entries than the log holds, so its last entries were deleted.",
        "audit_anchor": "Latest anchor (kept outside the database, in audit-anchors.jsonl): {at}, {n} entries, head hash {head}…",
        "organisations": "Organisations",
        "organisation": "Organisation",
        "org_name": "Name",
        "org_kind": "Kind",
        "org_level": "Level",
        "org_parent": "Parent",
        "org_create": "Create organisation",
        "users": "Users",
        "display_name": "Name",
        "roles": "Roles",
        "save_roles": "Save roles",
        "account_status": "Status",
        "active": "Active",
        "inactive": "Disabled",
        "locked_until": "Locked until {until}",
        "unlock": "Unlock",
        "initial_password": "Initial password",
        "user_create": "Create user",
        "admin_org_created": "Organisation created: {name}",
        "admin_user_created": "User created: {username}",
        "admin_roles_changed": "Roles of {username} changed",
        "admin_unlocked": "{username} unlocked",
        "disable_user": "Disable",
        "enable_user": "Enable",
        "admin_disabled": "{username} disabled: their sessions have ended.",
        "admin_enabled": "{username} enabled.",
        "account_org_name": "An organisation needs a name (at most 200 characters).",
        "account_name_nul": "A name cannot contain a NUL character: remove it.",
        "account_display_name": "A display name has at most 200 characters (it has {length}).",
        "account_org_taken": "There is already an organisation called {name}.",
        "account_org_kind": "The kind must be one of: {choices}.",
        "account_org_level": "The level of this kind of organisation must be one of: {choices}.",
        "account_org_unknown": "There is no organisation called {name}.",
        "account_username": "A username is 2 to 64 letters, digits, '.', '_' or '-'.",
        "account_username_taken": "The username {username} is taken.",
        "account_user_unknown": "There is no user {username}.",
        "account_password_short": "A password needs at least {min} characters.",
        "account_roles": "Choose at least one role of: {choices}.",
        "account_last_admin": "{username} is the last administrator: give another user the admin role first.",
    },
}

# Labels of tag values: kind -> value -> (zh, en). Topics come from the taxonomy.
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "platform": {
        "weibo": ("微博", "Weibo"),
        "wechat": ("微信公众号", "WeChat"),
        "tieba": ("贴吧", "Tieba"),
        "news": ("新闻网站", "News"),
        "gov": ("官方发布", "Official releases"),
    },
    "polarity": {
        "negative": ("负面", "Negative"),
        "neutral": ("中性", "Neutral"),
        "positive": ("正面", "Positive"),
    },
    "sentiment": {
        "positive": ("正面", "Positive"),
        "weak_negative": ("轻度负面", "Mildly negative"),
        "anger": ("愤怒", "Anger"),
        "anxiety": ("焦虑", "Anxiety"),
    },
    "verified": {
        "yes": ("已认证", "Verified"),
        "no": ("未认证", "Not verified"),
    },
    "emotion": {
        "fear": ("恐惧", "Fear"),
        "anger": ("愤怒", "Anger"),
        "sadness": ("悲伤", "Sadness"),
        "disgust": ("厌恶", "Disgust"),
        "optimism": ("乐观", "Optimism"),
        "surprise": ("惊讶", "Surprise"),
        "gratitude": ("感激", "Gratitude"),
    },
    "rumor": {
        "likely": ("疑似谣言", "Likely rumor"),
        "unlikely": ("不像谣言", "Unlikely rumor"),
        "rumor": ("谣言", "Rumor"),  # the rumor model's own classes, for corrections
        "non-rumor": ("非谣言", "Not a rumor"),
    },
    "role": {
        "analyst": ("舆情分析员", "Analyst"),
        "drafter": ("起草人", "Drafter"),
        "approver": ("审核人", "Approver"),
        "publisher": ("发布人", "Publisher"),
        "admin": ("管理员", "Administrator"),
    },
    "org_kind": {
        "government": ("政府机关", "Government body"),
        "enterprise": ("企业", "Enterprise"),
    },
    "org_level": {
        "province": ("省级", "Province"),
        "city": ("市级", "City"),
        "county": ("县（区）级", "County"),
        "department": ("部门", "Department"),
        "company": ("公司", "Company"),
        "branch": ("分支机构", "Branch"),
    },
    "kind": {
        "post": ("帖子", "Post"),
        "repost": ("转发", "Repost"),
        "comment": ("评论", "Comment"),
        "article": ("文章", "Article"),
        "release": ("官方发布", "Release"),
    },
}

# QueryError messages are English; these patterns give them in Chinese.
_ERRORS_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"the query is longer than (\d+) characters"), "查询词超过 {0} 个字，请缩短。"),
    (re.compile(r"unknown platform '([^']*)'"), "未知平台“{0}”，可选：微博、微信公众号、贴吧、新闻网站、官方发布。"),
    (re.compile(r"^unknown (?P<filter>polarity|sentiment|emotion|topic) '(?P<value>[^']*)'; use one of (?P<labels>.*)"),
     "未知的{filter}“{value}”，可选：{labels}。"),
    (re.compile(r"unknown sort '([^']*)'"), "未知排序方式“{0}”，可选：相关度、最新、互动最多。"),
    (re.compile(r"unknown interval '([^']*)'"), "未知的时间粒度“{0}”，可选：按日（day）、按小时（hour）。"),
    (re.compile(r"^page must be between 1 and (\d+)"), "页码必须在 1 到 {0} 之间。"),
    (re.compile(r"^per_page must be between 1 and (\d+)"), "每页条数必须在 1 到 {0} 之间。"),
    (re.compile(r"start of the time range is after its end"), "开始日期晚于结束日期，请调整时间范围。"),
    (re.compile(r"no searchable word"), "查询词中没有可搜索的字词（只有标点或符号）。"),
    (re.compile(r"^(.*) is not a date"), "{0} 不是有效日期，请写成 2024-07-31 或 2024-07-31T18:00。"),
    (re.compile(r"^(\S+) is out of range: dates go from (\S+) to (\S+)"), "{0} 超出可查询的日期范围（{1} 至 {2}）。"),
    (re.compile(r"^(\w+) must be a whole number"), "参数 {0} 必须是整数。"),
    (re.compile(r"^too many values for (\w+)"), "参数 {0} 的取值过多。"),
    (re.compile(r"^a value of (\w+) is too long"), "参数 {0} 的取值过长。"),
    (re.compile(r"^too many or too long values for (\w+)"), "筛选条件 {0} 的取值过多或过长（最多 20 个，每个不超过 64 个字符）。"),
    (re.compile(r"quotation mark \(\"\) is not closed"), "双引号没有成对，请补上另一个双引号。"),
    (re.compile(r"^OR needs a word on each side"), "OR 的两边都需要有关键词。"),
    (re.compile(r"^NOT cannot be combined with OR"), "NOT 不能与 OR 连用；请把要排除的词单独写出。"),
    (re.compile(r"^the query ends with OR or NOT"), "查询以 OR 或 NOT 结尾，请在后面补上它所指的词。"),
    (re.compile(r"^brackets are not supported"), "不支持括号；请用 OR 和 NOT 组合关键词。"),
    (re.compile(r"^the query has more than (\d+) words"), "查询词超过 {0} 个，请减少。"),
    (re.compile(r"^results by relevance go (\d+) deep"), "按相关度排序最多只能查看前 {0} 条结果；如需继续翻页，请改为按最新排序。"),
    (re.compile(r"^a page cursor goes with the newest or engagement sort"), "翻页位置（after）只能与“最新”或“互动最多”排序一起使用。"),
    (re.compile(r"^after is not a valid page cursor"), "翻页位置（after）无效，请回到第一页重新翻页。"),
    (re.compile(r"^rumor probabilities are between 0 and 1"), "谣言概率必须在 0 到 1 之间。"),
    (re.compile(r"^(\w+) must be a percentage from 0 to 100"), "参数 {0} 是百分数，须在 0 到 100 之间，如 60。"),
    (re.compile(r"^(\w+) must be a number"), "参数 {0} 必须是 0 到 1 之间的数，如 0.5。"),
    (re.compile(r"^verified must be yes or no"), "参数 verified 只能是 yes（已认证）或 no（未认证）。"),
]

# Workflow refusals (``desk`` raises them in English). A named group is a
# code shown by its Chinese name: action (do_*), state (state_*), role, fact (fact_*), or
# a query's own error.
_WORKFLOW_ZH: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^only a drafter creates a release"), "只有起草人可以新建发布稿。"),
    (re.compile(r"^only analysts, drafters and approvers handle incidents"), "只有舆情分析员、起草人和审核人可以处理事件。"),
    (re.compile(r"^only the system publishes"), "发布由系统在排期时间到达时自动完成。"),
    (re.compile(r"^(?P<action>\w+) needs the (?P<role>\w+) role"), "“{action}”需要{role}角色。"),
    (re.compile(r"^only the drafting organisation may (?P<action>\w+)"), "只有起草单位可以{action}。"),
    (re.compile(r"^only a required organisation may (?P<action>\w+)"), "只有需要会签的单位可以{action}。"),
    (re.compile(r"^your organisation has already approved this text"), "本单位已经批准过这一文本。"),
    (re.compile(r"^no one approves their own edit"), "不能批准自己修改过的文本，请由本单位其他审核人批准。"),
    (re.compile(r"^the text has changed since you read it: version (\d+) is current"),
     "您阅读之后文本已被修改，当前为版本 {0}：请阅读新文本后再批准。"),
    (re.compile(r"^requesting changes needs a comment"), "退回修改时请写明修改意见。"),
    (re.compile(r"^a release cannot be scheduled in the past"), "排期时间不能早于现在。"),
    (re.compile(r"^cannot (?P<action>\w+) a release in state published"), "稿件已发布，不能{action}；如需改正，请发布更正或撤回。"),
    (re.compile(r"^cannot (?P<action>\w+) a release in state (?P<state>\w+)"), "状态为“{state}”的稿件不能{action}。"),
    (re.compile(r"^a withdrawal cannot itself be corrected or withdrawn"), "撤回声明本身不能再更正或撤回。"),
    (re.compile(r"^unknown organisations"), "所选单位不存在，请刷新页面后重新选择。"),
    (re.compile(r"^a joint release needs a government and an enterprise organisation"),
     "联合发布需要至少一个政府机关和一个企业共同会签。"),
    (re.compile(r"^this account is disabled"), "该账号已停用，请联系管理员。"),
    (re.compile(r"^unknown fact (?P<fact>\S+)"), "未知的事实项“{fact}”。"),
    (re.compile(r"^only the incident's organisations set its facts"), "只有事件的处理单位（开启事件的单位和列出的单位）可以填写事实表。"),
    (re.compile(r"^only the organisation that opened an incident names its organisations"), "只有开启事件的单位可以添加处理单位。"),
    (re.compile(r"^the owner of a fact is one of the incident's organisations"), "事实项的负责单位必须是事件的处理单位之一。"),
    (re.compile(r"^the owner of a fact is set when it is first recorded"), "事实项的负责单位在首次填写时确定，不能更改。"),
    (re.compile(r"^unknown organisation (\d+)"), "单位 {0} 不存在。"),
    (re.compile(r"^affected areas need at least one area"), "停电区域至少要填写一个地区。"),
    (re.compile(r"^households needs a number"), "停电户数需要一个数字，如 12000 或 约1.2万。"),
    (re.compile(r"^the restoration estimate needs a time"), "预计恢复时间需要写明时间，如 7月26日18:00。"),
    (re.compile(r"^(?P<fact>\w+) needs a value"), "请填写{fact}。"),
    (re.compile(r"^an incident needs a title"), "请填写事件名称。"),
    (re.compile(r"^the incident's search query: (?P<query>.*)"), "事件的舆情检索式有误：{query}"),
    (re.compile(r"^a comment needs text"), "请填写意见内容。"),
    (re.compile(r"^some channels have this release already"), "已有渠道收到此稿件，不能取消排期；发布完成后可发布更正或撤回。"),
    (re.compile(r"^a channel is being sent this release right now"), "此稿件正在发往某个渠道，请一分钟后再查看。"),
    (re.compile(r"^unknown channel (\S+)"), "未知的发布渠道“{0}”。"),
    (re.compile(r"^a release needs a title and a body"), "稿件需要标题和正文。"),
    (re.compile(r"^the (?P<field>.+?) has at most (\d+) characters \(it has (\d+)\)"), "{field}最多 {1} 个字（现有 {2} 个），请缩短。"),
    (re.compile(r"^the (?P<field>.+?) contains a NUL character"), "{field}含有空字符（NUL），请删除后再提交。"),
    (re.compile(r"^a release is scheduled at most a year ahead"), "排期时间最多在一年之后。"),
    (re.compile(r"^no organisation of this release has a publishing channel in (.*): add them"),
     "本稿件的各单位都没有配置发布渠道，请先在 {0} 中添加。"),
    (re.compile(r"^only a publisher of the drafting organisation or an admin retries a delivery"),
     "只有起草单位的发布人或管理员可以重新发送。"),
    (re.compile(r"^delivery (\d+) is not a failed delivery"), "第 {0} 号投递没有失败，无需重新发送。"),
]


def current_lang() -> str:
    """The language of this request, else the default. A request refused before
    ``select_lang`` ran (the CSRF check runs first) still gets its language."""
    if has_request_context():
        if "lang" not in g:
            select_lang()
        return g.lang
    return DEFAULT_LANG


def select_lang() -> None:
    """Before each request: ``?lang=`` wins, then the cookie, then Chinese."""
    asked = request.args.get("lang")
    if asked in LANGS:
        g.lang = asked
    else:
        cookie = request.cookies.get(COOKIE)
        g.lang = cookie if cookie in LANGS else DEFAULT_LANG


def remember_lang(response):
    """After each request: keep an explicit ``?lang=`` choice in a cookie."""
    asked = request.args.get("lang")
    if asked in LANGS and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
    response.vary.add("Cookie")
    return response


def gettext(key: str, **values) -> str:
    """The UI string ``key`` in the current language, formatted with ``values``."""
    lang = current_lang()
    text = STRINGS[lang].get(key) or STRINGS[DEFAULT_LANG].get(key) or key
    return text.format(**values) if values else text


def label(kind: str, value) -> str:
    """Display name of a tag or facet value; unknown values as they are."""
    if value is None:
        return gettext("none")
    if kind == "cluster":
        return cluster_name(str(value))
    if kind in ("places", "place"):  # administrative codes: the gazetteer's (Chinese) names
        return places.gazetteer().name(str(value))
    if kind in ("topics", "topic"):
        names = services().topic_labels.get(value)
    else:
        names = LABELS.get(kind, {}).get(value)
    if not names:
        return str(value)
    return names[0] if current_lang() == "zh" else names[1]


CLUSTER_NAME_CHARS = 30


def cluster_name(cluster: str) -> str:
    """A near-duplicate cluster named by its text: the first characters of its earliest
    post (the id is a hash no one can read); the hash's start where no post has it."""
    return cluster_names([cluster])[cluster]


def cluster_names(clusters) -> dict[str, str]:
    """The names of these clusters (see ``cluster_name``), each looked up once per request,
    and those not named yet in one query: a page that lists clusters (the search page's
    facet and chips) names them all first, instead of a query per cluster."""
    names = g.setdefault("cluster_names", {}) if has_request_context() else {}
    missing = [cluster for cluster in dict.fromkeys(clusters) if cluster not in names]
    if missing:
        texts = services().store.cluster_texts(missing)
        for cluster in missing:
            text = " ".join((texts.get(cluster) or "").split())
            names[cluster] = (text[:CLUSTER_NAME_CHARS] + ("…" if len(text) > CLUSTER_NAME_CHARS else "")
                              if text else gettext("cluster_label", hash=cluster[:6]))
    return names


def known_values(kind: str) -> list[str]:
    """Every value of a facet the UI knows about, in display order."""
    if kind in ("topics", "topic"):
        return list(services().topic_labels)
    return list(LABELS.get(kind, {}))


def error_message(message: str) -> str:
    """A ``QueryError`` message or a workflow refusal in the current language."""
    if current_lang() == "en":
        return message
    for pattern, zh in _WORKFLOW_ZH + _ERRORS_ZH:  # a refusal may quote a query error
        match = pattern.search(message)
        if match:
            return zh.format(*match.groups(), **{kind: _zh_name(kind, code) for kind, code in match.groupdict().items()})
    return message


def _zh_name(kind: str, code: str) -> str:
    """The Chinese name of a workflow code in a refusal (approve -> 批准, households -> 停电户数)."""
    if kind == "role":
        return LABELS["role"].get(code, (code,))[0]
    if kind == "query":
        return error_message(code)
    if kind == "field":
        return limits.zh_name(code)
    if kind == "value":
        return code
    if kind == "filter":
        return STRINGS["zh"]["facet_topics" if code == "topic" else f"facet_{code}"]
    if kind == "labels":  # a tagger's labels as 中文（code）: the code is what a filter takes
        names = {**{c: n[0] for k in ("polarity", "sentiment", "emotion") for c, n in LABELS[k].items()},
                 **{c: n[0] for c, n in services().topic_labels.items()}}
        return "、".join(f"{names.get(c, c)}（{c}）" for c in code.split(", "))
    prefix = {"action": "do_", "state": "state_", "fact": "fact_"}[kind]
    return STRINGS["zh"].get(prefix + code, code)


def switch_lang_url() -> str:
    """This page in the other language (the search page when there is no endpoint, e.g. a 404)."""
    other = "en" if current_lang() == "zh" else "zh"
    if request.url_rule and "GET" in request.url_rule.methods and request.endpoint != "static":  # a link is a GET
        return url_for(request.endpoint, **{**link_args(args_with(request.args, lang=other)), **(request.view_args or {})})
    return url_for("search.index", lang=other)


def init_app(app) -> None:
    app.before_request(select_lang)
    app.after_request(remember_lang)
    app.jinja_env.globals.update(
        _=gettext,
        label=label,
        current_lang=current_lang,
        html_lang=lambda: HTML_LANG[current_lang()],
        switch_lang_url=switch_lang_url,
        known_values=known_values,
    )
