SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET default_tablespace = '';
SET default_table_access_method = heap;
CREATE TABLE public.approvals (
    id integer NOT NULL,
    release_id integer NOT NULL,
    org_id integer NOT NULL,
    user_id integer NOT NULL,
    version_number integer NOT NULL,
    created_at timestamp without time zone NOT NULL,
    cleared_at timestamp without time zone
);
CREATE SEQUENCE public.approvals_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.approvals_id_seq OWNED BY public.approvals.id;
CREATE TABLE public.audit_log (
    id integer NOT NULL,
    at timestamp without time zone NOT NULL,
    actor character varying(64) NOT NULL,
    org_id integer,
    action character varying(64) NOT NULL,
    target character varying(100) NOT NULL,
    detail json NOT NULL,
    prev_hash character varying(64) NOT NULL,
    hash character varying(64) NOT NULL
);
CREATE SEQUENCE public.audit_log_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.audit_log_id_seq OWNED BY public.audit_log.id;
CREATE TABLE public.captures (
    sha256 character varying(64) NOT NULL,
    url text NOT NULL,
    status integer NOT NULL,
    headers json NOT NULL,
    body_gzip bytea NOT NULL,
    fetched_at timestamp without time zone NOT NULL
);
CREATE TABLE public.cluster_bands (
    band_key bigint NOT NULL,
    cluster character varying(32) NOT NULL
);
CREATE TABLE public.cluster_signatures (
    cluster character varying(32) NOT NULL,
    signature bytea NOT NULL
);
CREATE TABLE public.corrections (
    id integer NOT NULL,
    post_id bigint NOT NULL,
    task character varying(16) NOT NULL,
    label character varying(500) NOT NULL,
    analyst character varying(200),
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.corrections_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.corrections_id_seq OWNED BY public.corrections.id;
CREATE TABLE public.crawl_checkpoints (
    job character varying(200) NOT NULL,
    source character varying(64) NOT NULL,
    key character varying(200) NOT NULL,
    value text NOT NULL,
    updated_at timestamp without time zone NOT NULL
);
CREATE TABLE public.crawl_runs (
    id integer NOT NULL,
    job character varying(200) NOT NULL,
    spider character varying(64) NOT NULL,
    started_at timestamp without time zone NOT NULL,
    finished_at timestamp without time zone,
    status character varying(32) NOT NULL,
    pages integer NOT NULL,
    stored integer NOT NULL,
    duplicates integer NOT NULL,
    rejected integer NOT NULL,
    message text NOT NULL
);
CREATE SEQUENCE public.crawl_runs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.crawl_runs_id_seq OWNED BY public.crawl_runs.id;
CREATE TABLE public.fact_proposals (
    id integer NOT NULL,
    incident_id integer NOT NULL,
    key character varying(32) NOT NULL,
    value json NOT NULL,
    org_id integer NOT NULL,
    proposed_by integer NOT NULL,
    proposed_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.fact_proposals_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.fact_proposals_id_seq OWNED BY public.fact_proposals.id;
CREATE TABLE public.facts (
    id integer NOT NULL,
    incident_id integer NOT NULL,
    key character varying(32) NOT NULL,
    value json NOT NULL,
    owner_org_id integer NOT NULL,
    updated_by integer NOT NULL,
    updated_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.facts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.facts_id_seq OWNED BY public.facts.id;
CREATE TABLE public.incident_organisations (
    id integer NOT NULL,
    incident_id integer NOT NULL,
    org_id integer NOT NULL
);
CREATE SEQUENCE public.incident_organisations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.incident_organisations_id_seq OWNED BY public.incident_organisations.id;
CREATE TABLE public.incidents (
    id integer NOT NULL,
    title character varying(200) NOT NULL,
    query character varying(500) NOT NULL,
    major boolean NOT NULL,
    started_at timestamp without time zone NOT NULL,
    created_by integer NOT NULL
);
CREATE SEQUENCE public.incidents_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.incidents_id_seq OWNED BY public.incidents.id;
CREATE TABLE public.login_sessions (
    id character varying(64) NOT NULL,
    user_id integer NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE TABLE public.organisations (
    id integer NOT NULL,
    name character varying(200) NOT NULL,
    kind character varying(16) NOT NULL,
    level character varying(16) NOT NULL,
    parent_id integer
);
CREATE SEQUENCE public.organisations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.organisations_id_seq OWNED BY public.organisations.id;
CREATE TABLE public.outbox (
    id integer NOT NULL,
    release_id integer NOT NULL,
    org_id integer NOT NULL,
    channel character varying(100) NOT NULL,
    due_at timestamp without time zone NOT NULL,
    status character varying(16) NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at timestamp without time zone,
    last_error text NOT NULL,
    delivered_at timestamp without time zone
);
CREATE SEQUENCE public.outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;
CREATE TABLE public.posts (
    id bigint NOT NULL,
    platform character varying(16) NOT NULL,
    platform_id character varying(200) NOT NULL,
    kind character varying(16) NOT NULL,
    parent_id character varying(200),
    title character varying(500),
    text text NOT NULL,
    truncated boolean NOT NULL,
    content_hash character varying(32) NOT NULL,
    cluster character varying(32),
    url text,
    author_id character varying(200),
    author_name character varying(200),
    author_verified boolean,
    created_at timestamp without time zone,
    reposts_count bigint NOT NULL,
    comments_count bigint NOT NULL,
    likes_count bigint NOT NULL,
    source character varying(200) NOT NULL,
    capture_sha character varying(64),
    stored_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    rev integer NOT NULL,
    indexed_rev integer
);
CREATE SEQUENCE public.posts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.posts_id_seq OWNED BY public.posts.id;
CREATE TABLE public.release_comments (
    id integer NOT NULL,
    release_id integer NOT NULL,
    user_id integer NOT NULL,
    body text NOT NULL,
    changes_requested boolean NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.release_comments_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.release_comments_id_seq OWNED BY public.release_comments.id;
CREATE TABLE public.release_versions (
    id integer NOT NULL,
    release_id integer NOT NULL,
    number integer NOT NULL,
    title character varying(200) NOT NULL,
    body text NOT NULL,
    author_id integer NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.release_versions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.release_versions_id_seq OWNED BY public.release_versions.id;
CREATE TABLE public.releases (
    id integer NOT NULL,
    incident_id integer NOT NULL,
    drafting_org_id integer NOT NULL,
    required_org_ids json NOT NULL,
    channel character varying(16) NOT NULL,
    kind character varying(16) NOT NULL,
    corrects_id integer,
    state character varying(16) NOT NULL,
    scheduled_at timestamp without time zone,
    published_at timestamp without time zone,
    rumor_clusters json NOT NULL,
    created_by integer NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.releases_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.releases_id_seq OWNED BY public.releases.id;
CREATE TABLE public.tags (
    post_id bigint NOT NULL,
    rumor_prob double precision NOT NULL,
    sentiment character varying(32) NOT NULL,
    sentiment_score double precision NOT NULL,
    topics json NOT NULL,
    emotion character varying(32),
    emotion_score double precision,
    topic_scores json,
    places json NOT NULL,
    organisations json,
    locations json,
    model_version character varying(200) NOT NULL,
    emotion_scores json,
    polarity character varying(16),
    polarity_score double precision,
    tagged_at timestamp without time zone NOT NULL
);
CREATE TABLE public.users (
    id integer NOT NULL,
    username character varying(64) NOT NULL,
    display_name character varying(200) NOT NULL,
    password_hash character varying(300) NOT NULL,
    org_id integer NOT NULL,
    roles json NOT NULL,
    active boolean NOT NULL,
    failed_logins integer NOT NULL,
    locked_until timestamp without time zone
);
CREATE SEQUENCE public.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;
CREATE TABLE public.workflow_lock (
    id integer NOT NULL,
    taken integer NOT NULL
);
CREATE SEQUENCE public.workflow_lock_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.workflow_lock_id_seq OWNED BY public.workflow_lock.id;
ALTER TABLE ONLY public.approvals ALTER COLUMN id SET DEFAULT nextval('public.approvals_id_seq'::regclass);
ALTER TABLE ONLY public.audit_log ALTER COLUMN id SET DEFAULT nextval('public.audit_log_id_seq'::regclass);
ALTER TABLE ONLY public.corrections ALTER COLUMN id SET DEFAULT nextval('public.corrections_id_seq'::regclass);
ALTER TABLE ONLY public.crawl_runs ALTER COLUMN id SET DEFAULT nextval('public.crawl_runs_id_seq'::regclass);
ALTER TABLE ONLY public.fact_proposals ALTER COLUMN id SET DEFAULT nextval('public.fact_proposals_id_seq'::regclass);
ALTER TABLE ONLY public.facts ALTER COLUMN id SET DEFAULT nextval('public.facts_id_seq'::regclass);
ALTER TABLE ONLY public.incident_organisations ALTER COLUMN id SET DEFAULT nextval('public.incident_organisations_id_seq'::regclass);
ALTER TABLE ONLY public.incidents ALTER COLUMN id SET DEFAULT nextval('public.incidents_id_seq'::regclass);
ALTER TABLE ONLY public.organisations ALTER COLUMN id SET DEFAULT nextval('public.organisations_id_seq'::regclass);
ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);
ALTER TABLE ONLY public.posts ALTER COLUMN id SET DEFAULT nextval('public.posts_id_seq'::regclass);
ALTER TABLE ONLY public.release_comments ALTER COLUMN id SET DEFAULT nextval('public.release_comments_id_seq'::regclass);
ALTER TABLE ONLY public.release_versions ALTER COLUMN id SET DEFAULT nextval('public.release_versions_id_seq'::regclass);
ALTER TABLE ONLY public.releases ALTER COLUMN id SET DEFAULT nextval('public.releases_id_seq'::regclass);
ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);
ALTER TABLE ONLY public.workflow_lock ALTER COLUMN id SET DEFAULT nextval('public.workflow_lock_id_seq'::regclass);
INSERT INTO public.approvals VALUES (1, 1, 1, 3, 1, '2026-12-04 22:31:48.826477', NULL);
INSERT INTO public.audit_log VALUES (1, '2026-12-04 22:31:41.317988', 'cli', NULL, 'org_created', 'org:1', '{"name": "\u6ee8\u6d77\u5e02\u4eba\u6c11\u653f\u5e9c\u65b0\u95fb\u529e\u516c\u5ba4", "kind": "government", "level": "city", "parent": null}', '0000000000000000000000000000000000000000000000000000000000000000', 'e524b3b39ca80247b36228c9a471ca63c8445e41d48c179ea5e99a40913f622b');
INSERT INTO public.audit_log VALUES (2, '2026-12-04 22:31:42.405597', 'cli', NULL, 'org_created', 'org:2', '{"name": "\u6ee8\u6d77\u4f9b\u7535\u5c40", "kind": "enterprise", "level": "company", "parent": null}', 'e524b3b39ca80247b36228c9a471ca63c8445e41d48c179ea5e99a40913f622b', '12e3acee335613377bb15f0282e2fcd26c273721eae42a9a595708476fb41da8');
INSERT INTO public.audit_log VALUES (3, '2026-12-04 22:31:43.727097', 'cli', 1, 'user_created', 'user:1', '{"username": "admin", "org": "\u6ee8\u6d77\u5e02\u4eba\u6c11\u653f\u5e9c\u65b0\u95fb\u529e\u516c\u5ba4", "roles": ["admin"]}', '12e3acee335613377bb15f0282e2fcd26c273721eae42a9a595708476fb41da8', '24a7c1a56f0be50b464900ce58bdcb3600aab554a36e412a36781fa5853f993a');
INSERT INTO public.audit_log VALUES (4, '2026-12-04 22:31:44.987167', 'cli', 1, 'user_created', 'user:2', '{"username": "gov", "org": "\u6ee8\u6d77\u5e02\u4eba\u6c11\u653f\u5e9c\u65b0\u95fb\u529e\u516c\u5ba4", "roles": ["drafter"]}', '24a7c1a56f0be50b464900ce58bdcb3600aab554a36e412a36781fa5853f993a', '6c406fbe689d51869be1cb9d0906180ced4b541c02c8a201086cd7eec6b35b36');
INSERT INTO public.audit_log VALUES (5, '2026-12-04 22:31:46.231506', 'cli', 1, 'user_created', 'user:3', '{"username": "chief", "org": "\u6ee8\u6d77\u5e02\u4eba\u6c11\u653f\u5e9c\u65b0\u95fb\u529e\u516c\u5ba4", "roles": ["approver", "publisher"]}', '6c406fbe689d51869be1cb9d0906180ced4b541c02c8a201086cd7eec6b35b36', '1fc6cb42f856ea0d90e8f96dcbf7ad70fc4781433f47e95456360aa7ecca24fa');
INSERT INTO public.audit_log VALUES (6, '2026-12-04 22:31:47.450949', 'cli', 2, 'user_created', 'user:4', '{"username": "grid", "org": "\u6ee8\u6d77\u4f9b\u7535\u5c40", "roles": ["drafter", "approver"]}', '1fc6cb42f856ea0d90e8f96dcbf7ad70fc4781433f47e95456360aa7ecca24fa', '59c5cf2ea92c92927808c68e919b8e65133d8c17818e3f8f709ead8fa38811cb');
INSERT INTO public.audit_log VALUES (7, '2026-12-04 22:31:48.786337', 'gov', 1, 'incident.create', 'incident:1', '{"title": "7\u00b725 \u6ee8\u6d77\u505c\u7535"}', '59c5cf2ea92c92927808c68e919b8e65133d8c17818e3f8f709ead8fa38811cb', 'd1b182c4e469b5ad85598ffe317675f5e78a14c63fb0c6130f396eeaad70c2ab');
INSERT INTO public.audit_log VALUES (8, '2026-12-04 22:31:48.793496', 'gov', 1, 'incident.organisations', 'incident:1', '{"added": [2]}', 'd1b182c4e469b5ad85598ffe317675f5e78a14c63fb0c6130f396eeaad70c2ab', '0f016adb01ebdbcb596c39bc933bc9f45b971dd5817f54e1bc6eb4078f36bd0f');
INSERT INTO public.audit_log VALUES (9, '2026-12-04 22:31:48.798164', 'gov', 1, 'fact.set', 'incident:1', '{"key": "affected_areas", "value": ["\u9f99\u534e\u533a", "\u7f8e\u5170\u533a"], "previous": null, "owner_org_id": 1}', '0f016adb01ebdbcb596c39bc933bc9f45b971dd5817f54e1bc6eb4078f36bd0f', 'ee720cc000ae3fedd1e6e21092103b2624e6b1766391e7e603075f78c818c3b3');
INSERT INTO public.audit_log VALUES (10, '2026-12-04 22:31:48.800931', 'gov', 1, 'fact.set', 'incident:1', '{"key": "households", "value": "12000", "previous": null, "owner_org_id": 1}', 'ee720cc000ae3fedd1e6e21092103b2624e6b1766391e7e603075f78c818c3b3', '32a95df0051a09831a4d1a4c4b20baef38f49ff0f646376b7f930c5564f8b7ed');
INSERT INTO public.audit_log VALUES (11, '2026-12-04 22:31:48.803427', 'gov', 1, 'fact.set', 'incident:1', '{"key": "restoration_estimate", "value": "7\u670825\u65e522:00", "previous": null, "owner_org_id": 1}', '32a95df0051a09831a4d1a4c4b20baef38f49ff0f646376b7f930c5564f8b7ed', '78688a4e89d0667f21faa80f6cb74575e8b0c59ee3d2923727400ab61eb7f43c');
INSERT INTO public.audit_log VALUES (12, '2026-12-04 22:31:48.805789', 'gov', 1, 'fact.set', 'incident:1', '{"key": "hotline", "value": "95598", "previous": null, "owner_org_id": 1}', '78688a4e89d0667f21faa80f6cb74575e8b0c59ee3d2923727400ab61eb7f43c', 'ac8bfaae68ac3094dd6c00d590bc44d690920fe29406826ac1f5e2698f981c65');
INSERT INTO public.audit_log VALUES (13, '2026-12-04 22:31:48.808045', 'gov', 1, 'fact.set', 'incident:1', '{"key": "cause", "value": "\u5f3a\u964d\u96e8", "previous": null, "owner_org_id": 1}', 'ac8bfaae68ac3094dd6c00d590bc44d690920fe29406826ac1f5e2698f981c65', 'e87a539719f47cc272de2ec634a4d971ba8360a20e5afee50d931161dfa97251');
INSERT INTO public.audit_log VALUES (14, '2026-12-04 22:31:48.812441', 'grid', 2, 'fact.dispute', 'incident:1', '{"key": "households", "value": "13000", "current": "12000", "owner_org_id": 1}', 'e87a539719f47cc272de2ec634a4d971ba8360a20e5afee50d931161dfa97251', 'd4a9921f5ae4377bf9258dff69d5094fa0c53ec0c14f26b836b659bec1c5c380');
INSERT INTO public.audit_log VALUES (15, '2026-12-04 22:31:48.818655', 'gov', 1, 'release.create', 'release:1', '{"incident": 1, "channel": "website", "required": [1], "joint": false}', 'd4a9921f5ae4377bf9258dff69d5094fa0c53ec0c14f26b836b659bec1c5c380', '10f518b015f386f7392c9fedc5e4bc1dfb3a349821891b37004e1e585d372cd9');
INSERT INTO public.audit_log VALUES (16, '2026-12-04 22:31:48.820641', 'gov', 1, 'release.submit', 'release:1', '{"from": "draft", "to": "in_review"}', '10f518b015f386f7392c9fedc5e4bc1dfb3a349821891b37004e1e585d372cd9', '9e7e8b2ea3942a7598af788752a7800c1f5f423214954f5fc885b13a8c500b10');
INSERT INTO public.audit_log VALUES (17, '2026-12-04 22:31:48.828906', 'chief', 1, 'release.approve', 'release:1', '{"version": 1, "state": "approved"}', '9e7e8b2ea3942a7598af788752a7800c1f5f423214954f5fc885b13a8c500b10', 'ab056d61cb5cfe69f8c6f2014d0ddfb7b2a3b43799f9c245aea50b7801c76d72');
INSERT INTO public.audit_log VALUES (18, '2026-12-04 22:31:48.835967', 'chief', 1, 'release.schedule', 'release:1', '{"at": "2026-12-04T22:31:48.829711"}', 'ab056d61cb5cfe69f8c6f2014d0ddfb7b2a3b43799f9c245aea50b7801c76d72', '6c2ffb60109b555b27d46f7010c7146fdd928ec00f0b727c3acfde7a7a8a89b4');
INSERT INTO public.audit_log VALUES (19, '2026-12-04 22:31:48.838751', 'gov', 1, 'release.create', 'release:2', '{"incident": 1, "channel": "weibo", "required": [1, 2], "joint": true}', '6c2ffb60109b555b27d46f7010c7146fdd928ec00f0b727c3acfde7a7a8a89b4', '120f41fbd996b7045986a160fe94010eb81e4cf797903214457ec78cb2a200d9');
INSERT INTO public.audit_log VALUES (20, '2026-12-04 22:31:48.840993', 'gov', 1, 'release.edit', 'release:2', '{"version": 2, "cleared": [], "state": "draft"}', '120f41fbd996b7045986a160fe94010eb81e4cf797903214457ec78cb2a200d9', 'a74826d949e348e4bc5cd9074434c8d901cd275126e2ea7ffabbe8df9f483780');
INSERT INTO public.audit_log VALUES (21, '2026-12-04 22:31:48.842397', 'gov', 1, 'release.submit', 'release:2', '{"from": "draft", "to": "in_review"}', 'a74826d949e348e4bc5cd9074434c8d901cd275126e2ea7ffabbe8df9f483780', '673aba7a80f781c6c9cbad4655b61012554b7b68f9b78c79681cdc983e47990e');
INSERT INTO public.audit_log VALUES (22, '2026-12-04 22:31:48.845559', 'grid', 2, 'release.request_changes', 'release:2', '{"comment": 1, "state": "draft"}', '673aba7a80f781c6c9cbad4655b61012554b7b68f9b78c79681cdc983e47990e', '5ccb38dc431155a09570fd26c8b4a89ea66b970c8b691254bdf2da308fa1a6bd');
INSERT INTO public.audit_log VALUES (23, '2026-12-04 22:31:48.847033', 'gov', 1, 'release.comment', 'release:2', '{"comment": 2}', '5ccb38dc431155a09570fd26c8b4a89ea66b970c8b691254bdf2da308fa1a6bd', 'eb44c52950cec9644f5384c7e4e5c0589c62ec2fc53ab112a17f4340de13c1d8');
INSERT INTO public.audit_log VALUES (24, '2026-12-04 22:31:48.874453', 'system', 1, 'deliver', 'release:1', '{"delivery": 1, "org": "\u6ee8\u6d77\u5e02\u4eba\u6c11\u653f\u5e9c\u65b0\u95fb\u529e\u516c\u5ba4", "channel": "archive", "attempt": 1}', 'eb44c52950cec9644f5384c7e4e5c0589c62ec2fc53ab112a17f4340de13c1d8', '15948b625ea9812f58a78c6a78e862ef2a0a222486fb1332845819a6673f168c');
INSERT INTO public.audit_log VALUES (25, '2026-12-04 22:31:48.878759', 'system', 1, 'release.publish', 'release:1', '{"at": "2026-12-04T22:31:48.852722"}', '15948b625ea9812f58a78c6a78e862ef2a0a222486fb1332845819a6673f168c', '935fe01b23cf0747e372211edad3c4fcea0bc178f7df769a00e94a510e6d7e27');
INSERT INTO public.cluster_bands VALUES (-4644346416813655124, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (-5327022767944273728, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (3416475587201168669, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (6242879543205502698, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (7519173105300590636, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (-8563736049947712723, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (5098346446712986842, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (-7421280645043667736, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (7534415753037316446, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (-7388676089426630252, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (1890078686594791880, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (8056286603316654477, '1b0b8c92ca1c52d74f7c9234');
INSERT INTO public.cluster_bands VALUES (-8272115405631423833, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (1506944640031203982, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-8698263612274563074, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (7241069254567609364, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-62265992919925703, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-7632218929761069275, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-3956686942610288180, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (151583169503514834, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-4021579085014339178, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-7919110904728064959, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-5621945727346840401, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-6789778306144576961, '292172122bf1444ce82c704b');
INSERT INTO public.cluster_bands VALUES (-2253627413914510431, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-6907329685479929829, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (2682720066989769628, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (634779557660675874, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (5484236597070243372, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (1798644313810798627, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-4786059822665114589, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-3883337670283708852, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (2760104096127611029, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (7370415752636073556, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-7702440876349065707, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-8059545302290767051, 'cef004f305869f174c348100');
INSERT INTO public.cluster_bands VALUES (-7619772672714571489, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (4513059060245228144, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-6963621021608595240, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-5799107715152783978, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-5903334187919249151, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-4445111839979182660, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-5381416875277052445, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (245584161076361089, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (1627046359770154964, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (-1105337647987776869, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (6834496814231749807, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_bands VALUES (7552859755970456892, 'cac7f2958b8db81cf2531065');
INSERT INTO public.cluster_signatures VALUES ('1b0b8c92ca1c52d74f7c9234', '\xa9f65513eaa7a103ad828607e2177708af915f0108caec1aa6689b007c229a071da14200f6ef050615b377056967651a8f1adb03e20d3501d8dc7a0f06c3990072ee1d01fd147b06eba3c115a63810045bdef60457a54f074e8b830735866f0ce0825a06f95a480808f66203042cc809cb105100458f920807028a0782140e031eee7e00cd0e250d15a7e01ade57092527829d0f18d740051cc31f00965d3b13fae9ea0c52fc9409df65dc06d676d316c6b2f10e77b5c01002c4e6125b14532b1343aa03041a43205558680611b58105d6d80f014ee9111e1c610907c811a2101859540a08992e0d21797400d05fef02');
INSERT INTO public.cluster_signatures VALUES ('292172122bf1444ce82c704b', '\x1fb9290a368cce1c5defdc0b5377590de0a2760138309a0ec97f3e0f818162060946f60e24165b0edbe9d9012846243c280b4e0231df100464773f0244f86d14c063f701c187e1011c89b80798183e11bbf61b04cf7afa11edfd940548a2ed02b267180454edf901ae76f80e54a47c0112dc640454446708553e21149749ab054a695f04b20504064cfa4f00a317c40640b696057df353099447410179d01802c5a5150e4756120208fa4e0c9fd4cf0bcc85df0462d974079b2d3d03dd5aa50dcbf05401487bf81327248b0371dfb40158ef82015399b21990ae220182fc1121ec294d005857172194493b12accbd00a');
INSERT INTO public.cluster_signatures VALUES ('cef004f305869f174c348100', '\x138eaf0b4d81c9125bc0ef02d93b4a0d2071f509d4d45403e86a460f673a4505b3ca201f66883102b5f46d127821d90b1ec4130d79de1b02f546690826554700fa7fda00241762065f8c8a15ca1d0627fc25490728989201f69cc903322d2308dc5d090fd5a9e6002b5e1e0df4f2db09a5763b07108b8a134a75f90a6cb1d4127e8b0a002489d90370a8870244505a166ee7d91dfd29b301dbf9570971c68d0375df58148095160299236908ea7fa40ce32af909989c970394d4041444e93701c7c87c014228b80342c0180f58a8b5035383a9117bf56a03596f3409a28c6101ebbdb203fe0de62642a50706fe3f6c13');
INSERT INTO public.cluster_signatures VALUES ('cac7f2958b8db81cf2531065', '\x4f9f4305738a3d0ba617a4029ab3890c20a91f0feb99e904064dd800315e7a086738a6145cf4500db786ef04f3fd470ff314e51173e7810ac9692c13ece0e81413993c00453c9c0b52e7340b3c4b5a06dce28817bfc9e500ef3c3c063d6fba05f5d1ae15144abe00888bfa0ca7d226087046c00bbe0ccf01b5cb3205722f2f0fef179d02c0f0c201daf62d0249fa52116a9a74087400a2008d6fc02369b0de158435250feff1c4114607f809963398184f507d00b10e001211f4b305dc6d1301ea546601357d7d0a2d6a740855e34112333c0f2947f98400f934b002bc999f0acb2bb90891785d130fb2390adab64d02');
INSERT INTO public.fact_proposals VALUES (1, 1, 'households', '"13000"', 2, 4, '2026-12-04 22:31:48.809114');
INSERT INTO public.facts VALUES (1, 1, 'affected_areas', '["\u9f99\u534e\u533a", "\u7f8e\u5170\u533a"]', 1, 2, '2026-12-04 22:31:48.79592');
INSERT INTO public.facts VALUES (2, 1, 'households', '"12000"', 1, 2, '2026-12-04 22:31:48.799583');
INSERT INTO public.facts VALUES (3, 1, 'restoration_estimate', '"7\u670825\u65e522:00"', 1, 2, '2026-12-04 22:31:48.802223');
INSERT INTO public.facts VALUES (4, 1, 'hotline', '"95598"', 1, 2, '2026-12-04 22:31:48.80457');
INSERT INTO public.facts VALUES (5, 1, 'cause', '"\u5f3a\u964d\u96e8"', 1, 2, '2026-12-04 22:31:48.806991');
INSERT INTO public.incident_organisations VALUES (1, 1, 2);
INSERT INTO public.incidents VALUES (1, '7·25 滨海停电', '停电', true, '2026-12-04 22:31:48.779914', 2);
INSERT INTO public.login_sessions VALUES ('2183c13f8eb70686828541955b9719f610b02ea9aeed8dbb6c72a05daf7ac327', 2, '2026-12-04 22:31:48.847452');
INSERT INTO public.organisations VALUES (1, '滨海市人民政府新闻办公室', 'government', 'city', NULL);
INSERT INTO public.organisations VALUES (2, '滨海供电局', 'enterprise', 'company', NULL);
INSERT INTO public.outbox VALUES (1, 1, 1, 'archive', '2026-12-04 22:31:48.829711', 'delivered', 1, NULL, '', '2026-12-04 22:31:48.852722');
INSERT INTO public.posts VALUES (1, 'weibo', 'p1', 'post', NULL, NULL, '滨海市龙华区大面积停电，已经三个小时了还没来电 #停电#', false, '1b0b8c92ca1c52d74f7c9234', '1b0b8c92ca1c52d74f7c9234', NULL, NULL, '市民甲', false, '2024-07-25 07:10:00', 12, 3, 40, 'posts.jsonl', NULL, '2026-12-04 22:31:34.960783', '2026-12-04 22:31:38.379436', 2, 2);
INSERT INTO public.posts VALUES (2, 'weibo', 'p2', 'post', NULL, NULL, '供电局：抢修人员已全部到位，预计今晚22时前恢复供电，热线95598', false, '292172122bf1444ce82c704b', '292172122bf1444ce82c704b', NULL, NULL, '滨海供电局', true, '2024-07-25 08:00:00', 0, 0, 0, 'posts.jsonl', NULL, '2026-12-04 22:31:34.960783', '2026-12-04 22:31:38.379436', 2, 2);
INSERT INTO public.posts VALUES (3, 'weibo', 'p3', 'post', NULL, NULL, '美兰区也停电了，冰箱里的东西都坏了，太气人了😡', false, 'cef004f305869f174c348100', 'cef004f305869f174c348100', NULL, NULL, NULL, NULL, '2024-07-25 09:20:00', 0, 0, 0, 'posts.jsonl', NULL, '2026-12-04 22:31:34.960783', '2026-12-04 22:31:38.379436', 2, 2);
INSERT INTO public.posts VALUES (4, 'weibo', 'p4', 'post', NULL, NULL, '<script>alert(1)</script> 停电 谣言说全市停电一周', false, 'cac7f2958b8db81cf2531065', 'cac7f2958b8db81cf2531065', NULL, NULL, NULL, NULL, '2024-07-26 00:00:00', 0, 0, 0, 'posts.jsonl', NULL, '2026-12-04 22:31:34.960783', '2026-12-04 22:31:38.379436', 2, 2);
INSERT INTO public.posts VALUES (5, 'weibo', 'p5', 'post', NULL, NULL, '来电了！感谢抢修师傅们的辛苦付出', false, '8ba72b65831c619f5b401dd5', '8ba72b65831c619f5b401dd5', NULL, NULL, NULL, NULL, '2024-07-26 01:00:00', 0, 0, 0, 'posts.jsonl', NULL, '2026-12-04 22:31:34.960783', '2026-12-04 22:31:38.379436', 2, 2);
INSERT INTO public.release_comments VALUES (1, 2, 4, '户数请核对', true, '2026-12-04 22:31:48.843118');
INSERT INTO public.release_comments VALUES (2, 2, 2, '已核对', false, '2026-12-04 22:31:48.846009');
INSERT INTO public.release_versions VALUES (1, 1, 1, '关于龙华区、美兰区停电情况的通报', '7月25日15时许，受强降雨影响，龙华区、美兰区部分线路故障，约1.2万户居民用电受到影响。预计7月25日22:00前全部恢复供电。如有疑问请拨打95598。', 2, '2026-12-04 22:31:48.816444');
INSERT INTO public.release_versions VALUES (2, 2, 1, '第二次通报（草稿）', '7月25日15时许，受强降雨影响，龙华区、美兰区部分线路故障，约1.2万户居民用电受到影响。预计7月25日22:00前全部恢复供电。如有疑问请拨打95598。抢修进展良好。', 2, '2026-12-04 22:31:48.837572');
INSERT INTO public.release_versions VALUES (3, 2, 2, '第二次通报', '7月25日15时许，受强降雨影响，龙华区、美兰区部分线路故障，约1.2万户居民用电受到影响。预计7月25日22:00前全部恢复供电。如有疑问请拨打95598。抢修进展顺利。', 2, '2026-12-04 22:31:48.83961');
INSERT INTO public.releases VALUES (2, 1, 1, '[1, 2]', 'weibo', 'release', NULL, 'draft', NULL, NULL, '[]', 2, '2026-12-04 22:31:48.836739');
INSERT INTO public.releases VALUES (1, 1, 1, '[1]', 'website', 'release', NULL, 'published', '2026-12-04 22:31:48.829711', '2026-12-04 22:31:48.852722', '[]', 2, '2026-12-04 22:31:48.813558');
INSERT INTO public.tags VALUES (1, 0.5, 'weak_negative', 0.5, '["outage_report"]', 'optimism', 0.5, '{"outage_report": 0.75}', '[]', '[]', '[]', 'fallback-lexicon-1|fallback-lexicon-1|fallback-lexicon-1|topics-rules-1|places-cpca-1|ner-none', '{"anger": 0.0833, "disgust": 0.0833, "fear": 0.0833, "gratitude": 0.0833, "optimism": 0.5, "sadness": 0.0833, "surprise": 0.0833}', 'neutral', 0.792, '2026-12-04 22:31:38.379436');
INSERT INTO public.tags VALUES (2, 0.5, 'weak_negative', 0.5, '["enterprise_response", "restoration"]', 'optimism', 0.5, '{"restoration": 0.75, "enterprise_response": 0.75}', '[]', '[]', '[]', 'fallback-lexicon-1|fallback-lexicon-1|fallback-lexicon-1|topics-rules-1|places-cpca-1|ner-none', '{"anger": 0.0833, "disgust": 0.0833, "fear": 0.0833, "gratitude": 0.0833, "optimism": 0.5, "sadness": 0.0833, "surprise": 0.0833}', 'neutral', 0.792, '2026-12-04 22:31:38.379436');
INSERT INTO public.tags VALUES (3, 0.5, 'weak_negative', 0.5, '["outage_report"]', 'optimism', 0.5, '{"outage_report": 0.5}', '["460000", "460100", "460108"]', '[]', '[]', 'fallback-lexicon-1|fallback-lexicon-1|fallback-lexicon-1|topics-rules-1|places-cpca-1|ner-none', '{"anger": 0.0833, "disgust": 0.0833, "fear": 0.0833, "gratitude": 0.0833, "optimism": 0.5, "sadness": 0.0833, "surprise": 0.0833}', 'neutral', 0.792, '2026-12-04 22:31:38.379436');
INSERT INTO public.tags VALUES (4, 0.5, 'weak_negative', 0.5, '["outage_report", "rumor_rebuttal"]', 'optimism', 0.5, '{"outage_report": 0.5, "rumor_rebuttal": 0.5}', '[]', '[]', '[]', 'fallback-lexicon-1|fallback-lexicon-1|fallback-lexicon-1|topics-rules-1|places-cpca-1|ner-none', '{"anger": 0.0833, "disgust": 0.0833, "fear": 0.0833, "gratitude": 0.0833, "optimism": 0.5, "sadness": 0.0833, "surprise": 0.0833}', 'neutral', 0.792, '2026-12-04 22:31:38.379436');
INSERT INTO public.tags VALUES (5, 0.5, 'positive', 0.875, '["restoration"]', 'gratitude', 0.875, '{"restoration": 0.75}', '[]', '[]', '[]', 'fallback-lexicon-1|fallback-lexicon-1|fallback-lexicon-1|topics-rules-1|places-cpca-1|ner-none', '{"anger": 0.0208, "disgust": 0.0208, "fear": 0.0208, "gratitude": 0.875, "optimism": 0.0208, "sadness": 0.0208, "surprise": 0.0208}', 'positive', 0.885, '2026-12-04 22:31:38.379436');
INSERT INTO public.users VALUES (1, 'admin', 'admin', 'scrypt:32768:8:1$pc43l60LbHbsvjY1$7ad3b729af9035e67c07c7657737f51baf83ef736cc455ba3200ae9ee713465fac42cf2dc1025eb37b0d3d872c804756649738f2d81a1256dbe2235950a8afdd', 1, '["admin"]', true, 0, NULL);
INSERT INTO public.users VALUES (2, 'gov', 'gov', 'scrypt:32768:8:1$zC3ajMu0ClikEmxl$21e5ed7a9034709c9dae994c14c4eb4c4ad09e84a6b2e8fa31525be3a66b76b9d409d78bebf1ff856bb1ebfded770b411b2e5f26920577432c19b77d65fd85b3', 1, '["drafter"]', true, 0, NULL);
INSERT INTO public.users VALUES (3, 'chief', 'chief', 'scrypt:32768:8:1$7dPpQdLlJKrLBX7s$811cd69fcd26e960e1b648aed922b6e19fcc3ba9bd852db66d775f7a0134e59908e9d0e42fc6cd8bca8a1d810d40aeaf1ccb8e785c07d347861f546fc8e6e6a8', 1, '["approver", "publisher"]', true, 0, NULL);
INSERT INTO public.users VALUES (4, 'grid', 'grid', 'scrypt:32768:8:1$4aSVW1wiPFQs8wHH$a4bdbac5439932ec987128270b762f0501ad17a281f2e83c4c979d5cbaf4b66a180ab3e1a84994d015f13edab89bf79a85471430242b59ad8731b813deb5e660', 2, '["drafter", "approver"]', true, 0, NULL);
INSERT INTO public.workflow_lock VALUES (1, 29);
SELECT pg_catalog.setval('public.approvals_id_seq', 1, true);
SELECT pg_catalog.setval('public.audit_log_id_seq', 25, true);
SELECT pg_catalog.setval('public.corrections_id_seq', 1, false);
SELECT pg_catalog.setval('public.crawl_runs_id_seq', 1, false);
SELECT pg_catalog.setval('public.fact_proposals_id_seq', 1, true);
SELECT pg_catalog.setval('public.facts_id_seq', 5, true);
SELECT pg_catalog.setval('public.incident_organisations_id_seq', 1, true);
SELECT pg_catalog.setval('public.incidents_id_seq', 1, true);
SELECT pg_catalog.setval('public.organisations_id_seq', 2, true);
SELECT pg_catalog.setval('public.outbox_id_seq', 1, true);
SELECT pg_catalog.setval('public.posts_id_seq', 5, true);
SELECT pg_catalog.setval('public.release_comments_id_seq', 2, true);
SELECT pg_catalog.setval('public.release_versions_id_seq', 3, true);
SELECT pg_catalog.setval('public.releases_id_seq', 2, true);
SELECT pg_catalog.setval('public.users_id_seq', 4, true);
SELECT pg_catalog.setval('public.workflow_lock_id_seq', 1, false);
ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_hash_key UNIQUE (hash);
ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.captures
    ADD CONSTRAINT captures_pkey PRIMARY KEY (sha256);
ALTER TABLE ONLY public.cluster_bands
    ADD CONSTRAINT cluster_bands_pkey PRIMARY KEY (band_key, cluster);
ALTER TABLE ONLY public.cluster_signatures
    ADD CONSTRAINT cluster_signatures_pkey PRIMARY KEY (cluster);
ALTER TABLE ONLY public.corrections
    ADD CONSTRAINT corrections_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.crawl_checkpoints
    ADD CONSTRAINT crawl_checkpoints_pkey PRIMARY KEY (job, source, key);
ALTER TABLE ONLY public.crawl_runs
    ADD CONSTRAINT crawl_runs_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.fact_proposals
    ADD CONSTRAINT fact_proposals_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.facts
    ADD CONSTRAINT facts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.incident_organisations
    ADD CONSTRAINT incident_organisations_incident_id_org_id_key UNIQUE (incident_id, org_id);
ALTER TABLE ONLY public.incident_organisations
    ADD CONSTRAINT incident_organisations_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.login_sessions
    ADD CONSTRAINT login_sessions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT organisations_name_key UNIQUE (name);
ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT organisations_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.release_comments
    ADD CONSTRAINT release_comments_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.release_versions
    ADD CONSTRAINT release_versions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.release_versions
    ADD CONSTRAINT release_versions_release_id_number_key UNIQUE (release_id, number);
ALTER TABLE ONLY public.releases
    ADD CONSTRAINT releases_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.tags
    ADD CONSTRAINT tags_pkey PRIMARY KEY (post_id);
ALTER TABLE ONLY public.posts
    ADD CONSTRAINT uq_posts_platform_id UNIQUE (platform, platform_id);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_username_key UNIQUE (username);
ALTER TABLE ONLY public.workflow_lock
    ADD CONSTRAINT workflow_lock_pkey PRIMARY KEY (id);
CREATE INDEX ix_approvals_release_id ON public.approvals USING btree (release_id);
CREATE INDEX ix_corrections_post_id ON public.corrections USING btree (post_id);
CREATE INDEX ix_crawl_runs_job ON public.crawl_runs USING btree (job);
CREATE INDEX ix_fact_proposals_incident_id ON public.fact_proposals USING btree (incident_id);
CREATE INDEX ix_facts_incident_id ON public.facts USING btree (incident_id);
CREATE INDEX ix_incident_organisations_incident_id ON public.incident_organisations USING btree (incident_id);
CREATE INDEX ix_login_sessions_created_at ON public.login_sessions USING btree (created_at);
CREATE INDEX ix_login_sessions_user_id ON public.login_sessions USING btree (user_id);
CREATE INDEX ix_outbox_due_at ON public.outbox USING btree (due_at);
CREATE INDEX ix_outbox_release_id ON public.outbox USING btree (release_id);
CREATE INDEX ix_posts_cluster ON public.posts USING btree (cluster);
CREATE INDEX ix_posts_content_hash ON public.posts USING btree (content_hash);
CREATE INDEX ix_posts_index_pending ON public.posts USING btree (id) WHERE (indexed_rev IS DISTINCT FROM rev);
CREATE INDEX ix_posts_parent ON public.posts USING btree (platform, parent_id);
CREATE INDEX ix_release_comments_release_id ON public.release_comments USING btree (release_id);
CREATE INDEX ix_release_versions_release_id ON public.release_versions USING btree (release_id);
CREATE INDEX ix_releases_incident_id ON public.releases USING btree (incident_id);
ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_release_id_fkey FOREIGN KEY (release_id) REFERENCES public.releases(id);
ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);
ALTER TABLE ONLY public.corrections
    ADD CONSTRAINT corrections_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.fact_proposals
    ADD CONSTRAINT fact_proposals_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES public.incidents(id);
ALTER TABLE ONLY public.fact_proposals
    ADD CONSTRAINT fact_proposals_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.fact_proposals
    ADD CONSTRAINT fact_proposals_proposed_by_fkey FOREIGN KEY (proposed_by) REFERENCES public.users(id);
ALTER TABLE ONLY public.facts
    ADD CONSTRAINT facts_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES public.incidents(id);
ALTER TABLE ONLY public.facts
    ADD CONSTRAINT facts_owner_org_id_fkey FOREIGN KEY (owner_org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.facts
    ADD CONSTRAINT facts_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES public.users(id);
ALTER TABLE ONLY public.incident_organisations
    ADD CONSTRAINT incident_organisations_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES public.incidents(id);
ALTER TABLE ONLY public.incident_organisations
    ADD CONSTRAINT incident_organisations_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.incidents
    ADD CONSTRAINT incidents_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);
ALTER TABLE ONLY public.login_sessions
    ADD CONSTRAINT login_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);
ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT organisations_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_release_id_fkey FOREIGN KEY (release_id) REFERENCES public.releases(id);
ALTER TABLE ONLY public.release_comments
    ADD CONSTRAINT release_comments_release_id_fkey FOREIGN KEY (release_id) REFERENCES public.releases(id);
ALTER TABLE ONLY public.release_comments
    ADD CONSTRAINT release_comments_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);
ALTER TABLE ONLY public.release_versions
    ADD CONSTRAINT release_versions_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id);
ALTER TABLE ONLY public.release_versions
    ADD CONSTRAINT release_versions_release_id_fkey FOREIGN KEY (release_id) REFERENCES public.releases(id);
ALTER TABLE ONLY public.releases
    ADD CONSTRAINT releases_corrects_id_fkey FOREIGN KEY (corrects_id) REFERENCES public.releases(id);
ALTER TABLE ONLY public.releases
    ADD CONSTRAINT releases_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id);
ALTER TABLE ONLY public.releases
    ADD CONSTRAINT releases_drafting_org_id_fkey FOREIGN KEY (drafting_org_id) REFERENCES public.organisations(id);
ALTER TABLE ONLY public.releases
    ADD CONSTRAINT releases_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES public.incidents(id);
ALTER TABLE ONLY public.tags
    ADD CONSTRAINT tags_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);
