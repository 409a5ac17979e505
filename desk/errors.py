"""What the desk refuses, each refusal named by a code with its English message here; the
web UI has each code in its catalogs (``workflow_<code>``) in Chinese and English."""

from __future__ import annotations

from core.errors import CodedError

MESSAGES = {
    # who may do what (rules)
    "drafter_creates": "only a drafter creates a release",
    "handles_incidents": "only analysts, drafters and approvers handle incidents",
    "system_publishes": "only the system publishes, when a scheduled release is due",
    "needs_role": "{action} needs the {role} role",
    "drafting_org_only": "only the drafting organisation may {action}",
    "required_org_only": "only a required organisation may {action}",
    "already_approved": "your organisation has already approved this text",
    "own_edit": "no one approves their own edit",
    "account_disabled": "this account is disabled",
    "retry_forbidden": "only a publisher of the drafting organisation or an admin retries a delivery",
    # what a release's state allows
    "state": "cannot {action} a release in state {state}",
    "state_published": "cannot {action} a release in state {state}; correct or withdraw it with a new release",
    "withdrawal_final": "a withdrawal cannot itself be corrected or withdrawn",
    "stale_version": "the text has changed since you read it: version {version} is current, read it and approve again",
    "already_sent": "some channels have this release already: correct or withdraw it once it is published",
    "sending_now": "a channel is being sent this release right now: look again in a minute",
    "not_failed": "delivery {delivery} is not a failed delivery",
    # requests that are wrong in themselves
    "changes_need_comment": "requesting changes needs a comment",
    "schedule_past": "a release cannot be scheduled in the past",
    "schedule_far": "a release is scheduled at most a year ahead",
    "schedule_time": "{error}",
    "unknown_orgs": "unknown organisations {orgs}",
    "joint_release": "a joint release needs a government and an enterprise organisation",
    "incident_title": "an incident needs a title",
    "incident_query": "the incident's search query: {error}",
    "comment_empty": "a comment needs text",
    "unknown_channel": "unknown channel {channel}",
    "title_body": "a release needs a title and a body",
    "channels_file": "{error}",
    "no_channel": "no organisation of this release has a publishing channel in {path}: add them there first",
    "text_nul": "the {name} contains a NUL character",
    "text_long": "the {name} has at most {limit} characters (it has {length})",
    # the fact sheet
    "names_orgs": "only the organisation that opened an incident names its organisations",
    "unknown_org": "unknown organisation {org}",
    "sets_facts": "only the incident's organisations set its facts",
    "unknown_fact": "unknown fact {fact}",
    "owner_fixed": "the owner of a fact is set when it is first recorded",
    "owner_not_handling": "the owner of a fact is one of the incident's organisations, not {org}",
    "areas_empty": "affected areas need at least one area",
    "fact_empty": "{fact} needs a value",
    "households_number": "households needs a number",
    "restoration_time": "the restoration estimate needs a time, e.g. 7月26日18:00",
    # a scenario played in a home (desk.replay)
    "replay_state": "cannot {change} a replay that is {now}",
    "replay_going": "a replay of {scenario} is going on in this home: end it first",
    "replay_speed": "a replay's speed is a number above 0, not {speed}",
    "no_inject": "the scenario has no inject {inject}",
    "no_side_user": "{org} has no active {role}: seed the scenario's organisations first",
    # not found (or not to be seen)
    "no_incident": "no such incident",
    "no_release": "no such release",
    "no_version": "no version {version}",
    # the pre-publication checks
    "blocked": "{count} blocking problems",
    # monitoring schemes, alert rules and alerts
    "scheme_name": "a monitoring scheme needs a name of at most {limit} characters",
    "scheme_name_line": "a monitoring scheme's name is one line, without control characters",
    "escalation_toml": "{path} is not valid TOML: {error}",
    "escalation_table": "{path}: only an [hours] table, e.g. IV = 4 in it",
    "escalation_value": "{path}: [hours] {key} = {value!r}: each of IV, III, II and I takes hours above 0, "
                        "at most {limit}",
    "scheme_exists": "a monitoring scheme named {name} exists already",
    "no_scheme": "no monitoring scheme named {name}",
    "scheme_query": "the scheme's query: {error}",
    "rule_kind": "unknown alert rule kind {kind}; use one of {kinds}",
    "rule_option": "a {kind} rule takes no {option}",
    "rule_number": "{name} must be a number above 0, not {value}",
    "rule_levels": "levels III, II and I need three thresholds, each above the one before and above {lowest}",
    "rule_words": "a keyword rule needs at least one word",
    "no_alert": "no alert {alert}",
    "alert_not_handled": "you do not handle alert {alert}",
    "incident_not_seen": "incident {incident} is not one your organisation opened or is named on",
    "alert_state": "cannot {step} an alert in state {state}",
    "assign_whom": "an alert is assigned to a person or to an organisation",
    "unknown_user": "unknown user {user}",
    "rule_duration": "{name} is a duration such as 15m, 12h or 1d, not {value}",
    "rule_has_alerts": "a rule that has opened alerts stays, as their record: remove its scheme to stop it",
    "account_platform": "unknown platform {platform}; use one of {platforms}",
    "account_id": "a watched account needs an id, and an id and a name of at most {limit} characters",
    "account_watched": "{org} watches {platform} account {account} already",
    "no_watched_account": "{org} watches no {platform} account {account}",
    "no_recipient": "{scheme} sends no alerts to {org} / {channel} with these options",
    "rule_share": "{name} is a share above 0 and at most 1, not {value}",
    "rule_duration_max": "{name} is at most {limit}, not {value}",
    "rule_word_long": "a keyword has at most {limit} characters",
    "account_id_long": "a watched account's id has at most {limit} characters",
    "quiet_hours_equal": "quiet hours end at another time than they start, not {hours}",
    "recipient_channel": "{org} has no channel {channel} that takes alert notices in the channels file: add it first",
    "recipient_user": "{user} is not a person of {org}",
    "rule_sentiment": "unknown sentiment {sentiment}; use one of {sentiments}",
    "recipient_needs_channel": "a recipient names one of its organisation's channels (only a department copied on "
                               "escalation may take all of them)",
    # kept reports
    "no_report": "no report {report}",
    "report_no_channel": "{org} has no channel that takes notices in the channels file: add one there first",
    "report_option": "{option} goes with {kinds} reports",
    "report_incident": "a special report needs an incident",
}


class WorkflowError(CodedError):
    """Anything the workflow refuses."""

    PREFIX = "workflow_"
    MESSAGES = MESSAGES

    @property
    def reason(self) -> str:
        """The English message, for logs, the audit log and tests."""
        return str(self)


class Forbidden(WorkflowError):
    """This user may not do this (role or organisation)."""


class InvalidTransition(WorkflowError):
    """The release's state does not allow this."""


class Invalid(WorkflowError):
    """The request itself is wrong: an empty comment, a time in the past, an unknown org."""


class NotFound(WorkflowError):
    """No such object, or one the user may not see."""
