"""Seeded, reproducible GitHub worlds for the simulator.

The exporter's hard cases live in the data, not in its code: first responses hidden behind bot
comments and the author's own comments, draft periods that do not count, pending reviews,
timelines longer than one page, deleted and mannequin authors, user-kind bot accounts, messy
company strings. ``generate`` builds such a world from a SPEC; ``simulator.evolve`` moves it
forward in time.

SPEC grammar::

    spec  := part ("+" part)*
    part  := name [":" param ("," param)*]
    param := key "=" integer | integer          (a bare integer is ``org``'s repository count)

``small``
    ``acme/widgets``: 30 scripted items (independent of the seed) whose first responses are
    known by construction; 5 releases, a tag-only tag, ~40 commits. For fast, exact tests.
``kube-rs``
    ``kube-rs/kube``: ~1,300 pull requests and ~700 issues over 7 years, ~200 contributors,
    ~110 releases, ~2,500 default-branch commits. Keys: ``items``, ``contributors``,
    ``releases``, ``commits``, ``years``.
``kubernetes``
    ``kubernetes/kubernetes``: 140,000 items over 10 years (~4 timeline entries each),
    ``k8s-ci-robot`` (a user-kind bot) greets every pull request and merges them. Same keys.
``org:N``
    ``example-org`` with N small repositories of 5–40 items; ~10% archived, ~10% forks, a few
    empty. Keys: ``repos`` (= N), ``items`` (the most items per repository).

``now`` (default 2026-11-01T00:00:00Z) is where activity ends. The same seed and spec give the
same dataset; a login's profile (company) depends only on the seed, so ``kube-rs`` and
``kube-rs+org:5`` hold the same ``kube-rs/kube``. ``docs/simulator.md`` lists the edge cases.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import itemgetter

from healthexporter.simulator.dataset import (
    Dataset,
    SimCommit,
    SimItem,
    SimRelease,
    SimRepository,
    SimTag,
    SimTimelineEntry,
    SimUser,
    node_id,
)

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)

MINUTE = 60
HOUR = 3600
DAY = 86400
YEAR = 365 * DAY

DEPENDABOT = "dependabot[bot]"
GITHUB_ACTIONS = "github-actions[bot]"
CODECOV = "codecov[bot]"
COPILOT_AGENT = "copilot-swe-agent[bot]"
K8S_CI_ROBOT = "k8s-ci-robot"
K8S_TRIAGE_ROBOT = "k8s-triage-robot"
MANNEQUIN = "imported-reporter"

# Automation accounts and their GitHub kind: the k8s robots are plain "User" accounts, so only a
# configured bot list (not __typename) tells them from people; they are org members, so their
# association is MEMBER.
BOT_ACCOUNTS: dict[str, str] = {
    DEPENDABOT: "Bot",
    GITHUB_ACTIONS: "Bot",
    CODECOV: "Bot",
    COPILOT_AGENT: "Bot",
    K8S_CI_ROBOT: "User",
    K8S_TRIAGE_ROBOT: "User",
}
_BOT_ASSOCIATION = {K8S_CI_ROBOT: "MEMBER", K8S_TRIAGE_ROBOT: "MEMBER"}
MAINTAINER_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

COMMENT = "IssueComment"
REVIEW = "PullRequestReview"
READY = "ReadyForReviewEvent"
TO_DRAFT = "ConvertToDraftEvent"
CLOSED = "ClosedEvent"
MERGED = "MergedEvent"
REOPENED = "ReopenedEvent"
_ID_PREFIX = {
    COMMENT: "IC",
    REVIEW: "PRR",
    READY: "RFRE",
    TO_DRAFT: "CTDE",
    CLOSED: "CE",
    MERGED: "ME",
    REOPENED: "REE",
}

# (created, type, actor, association, review state, submitted) in epoch seconds
_Event = tuple[int, str, str | None, str | None, str | None, int | None]

_GIVEN = (
    "ada", "bo", "cyd", "dana", "eli", "fay", "gus", "hana", "ines", "jo", "kai", "lea", "milo",
    "nia", "otto", "pia", "quin", "rui", "sol", "tess", "uma", "vik", "wen", "xia", "yuri", "zoe",
    "arun", "bea", "cato", "dev", "emre", "finn", "gia", "hugo", "ivo", "jun", "kira", "luca",
    "mei", "noor",
)  # fmt: skip
_FAMILY = (
    "park", "okafor", "silva", "nguyen", "kowal", "haas", "ito", "moreau", "reyes", "berg",
    "costa", "dubois", "ek", "fern", "gallo", "horvat", "ivanov", "jensen", "khan", "lund", "mora",
    "nakai", "olsen", "pires", "quast", "rossi", "sato", "tan", "ueda", "vogel", "wolf", "xu",
    "yilmaz", "zim", "abe", "brun", "chen", "diaz", "ekici", "frey",
)  # fmt: skip
# One employer, many spellings: what people type into their GitHub profile.
_COMPANY_SPELLINGS = (
    ("@Acme", "Acme Inc.", "acme", "ACME", "Acme, Inc.", " Acme "),
    ("Red Hat", "Red Hat, Inc.", "@redhat", "RedHat", "red hat"),
    ("Microsoft", "@microsoft", "Microsoft Corporation"),
    ("Google", "@google", "Google LLC"),
    ("Amazon Web Services", "@aws", "AWS"),
    ("SUSE", "@SUSE", "SUSE LLC"),
    ("Freelance", "self-employed", "Independent"),
)
_COMPANY_CUM = list(itertools.accumulate((8, 6, 4, 4, 3, 2, 3)))


def _login(index: int) -> str:
    given, family = _GIVEN[index % 40], _FAMILY[(index // 40) % 40]
    round_ = index // 1600
    return f"{given}-{family}{round_ if round_ else ''}"


def _zipf(n: int, exponent: float = 1.0) -> list[float]:
    """Cumulative weights where a few people do most of the work."""
    return list(itertools.accumulate(1.0 / (i + 1) ** exponent for i in range(max(n, 1))))


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class _People:
    """Everyone who can appear, made on first use; a profile depends only on seed and index."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self.users: dict[str, SimUser] = {}
        self.newcomers: set[str] = set()  # first contribution on GitHub at all: FIRST_TIMER

    def human(self, index: int) -> str:
        login = _login(index)
        if login not in self.users:
            rng = random.Random(self._seed * 1_000_003 + index)
            company = None
            if rng.random() < 0.55:
                group = rng.choices(_COMPANY_SPELLINGS, cum_weights=_COMPANY_CUM)[0]
                company = rng.choice(group)
            self.users[login] = SimUser(login=login, kind="User", company=company)
            if rng.random() < 0.05:
                self.newcomers.add(login)
        return login

    def account(self, login: str, kind: str, company: str | None = None) -> str:
        if login not in self.users:
            self.users[login] = SimUser(login=login, kind=kind, company=company)
        return login


@dataclass(frozen=True)
class _Profile:
    """What one generated repository looks like; people are indexes into ``_People``."""

    owner: str
    name: str
    years: float
    pull_requests: int
    issues: int
    maintainer_ids: tuple[int, ...]
    contributor_base: int
    contributors: int
    reporter_base: int
    reporters: int
    releases: int
    commits: int
    tag_prefix: str = ""
    first_version: tuple[int, int, int] = (0, 1, 0)
    major_share: float = 0.04  # of minor bumps that are major bumps instead
    ci_bots: tuple[tuple[str, float], ...] = ()  # (login, share of PRs) commenting in seconds
    triage_bot: str | None = None  # comments on new issues within seconds
    stale_bot: str | None = None  # marks idle issues stale, then closes them
    merge_bot: str | None = None  # merges approved pull requests (Prow's tide)
    dependabot_share: float = 0.0
    agent_share: float = 0.0
    maintainer_share: float = 0.3
    response_median: int = 5 * HOUR
    rounds: float = 1.2  # mean review rounds after the first response
    long_chains: int = 0  # items with 100+ bot/author entries before the first response
    plant_edge_cases: bool = False
    pr_labels: tuple[str, ...] = ("enhancement", "bug", "documentation")
    issue_labels: tuple[str, ...] = ("bug", "enhancement", "question")
    backport_patches: bool = False
    draft_releases: int = 0
    extra_tags: tuple[str, ...] = ()
    archived_at: int | None = None
    is_fork: bool = False


_KUBE_RS = _Profile(
    owner="kube-rs", name="kube", years=7, pull_requests=1300, issues=700,
    maintainer_ids=tuple(range(10)), contributor_base=10, contributors=190,
    reporter_base=100, reporters=600, releases=110, commits=2500,
    ci_bots=((CODECOV, 0.7), (GITHUB_ACTIONS, 0.1), (K8S_CI_ROBOT, 0.08)),
    triage_bot=GITHUB_ACTIONS, stale_bot=GITHUB_ACTIONS, dependabot_share=0.1, agent_share=0.02,
    long_chains=6, plant_edge_cases=True, draft_releases=2,
    pr_labels=("changelog-add", "changelog-fix", "changelog-exclude", "runtime", "client"),
    issue_labels=("bug", "question", "runtime", "client", "derive"),
    extra_tags=("0.0.1-test", "pre-workspace-split", "experiment-async"),
)  # fmt: skip
_KUBERNETES = _Profile(
    owner="kubernetes", name="kubernetes", years=10, pull_requests=84_000, issues=56_000,
    maintainer_ids=tuple(range(20_000, 20_150)), contributor_base=20_150, contributors=3_800,
    reporter_base=22_000, reporters=25_000, releases=600, commits=60_000, tag_prefix="v",
    first_version=(1, 0, 0), major_share=0.0, ci_bots=((K8S_CI_ROBOT, 0.97),),
    triage_bot=K8S_CI_ROBOT,
    stale_bot=K8S_TRIAGE_ROBOT, merge_bot=K8S_CI_ROBOT, agent_share=0.005, maintainer_share=0.25,
    response_median=8 * HOUR, rounds=0.35, long_chains=20, plant_edge_cases=True,
    backport_patches=True, draft_releases=1,
    pr_labels=("kind/bug", "kind/feature", "sig/node", "sig/api-machinery", "size/M", "lgtm"),
    issue_labels=("kind/bug", "kind/feature", "sig/node", "sig/network", "needs-triage"),
)  # fmt: skip


class _RepoBuilder:
    """Builds one repository's items, commits, releases and tags from a profile."""

    def __init__(self, profile: _Profile, rng: random.Random, people: _People, now: int) -> None:
        self.p = profile
        self.rng = rng
        self.people = people
        self.full_name = f"{profile.owner}/{profile.name}"
        self.end = profile.archived_at or now  # activity stops when a repository is archived
        self.start = now - int(profile.years * YEAR)
        self.roles: dict[str, str] = {}
        for k, index in enumerate(profile.maintainer_ids):
            login = people.human(index)
            self.roles[login] = "OWNER" if k == 0 else ("MEMBER" if k % 3 else "COLLABORATOR")
        self.maintainers = list(self.roles)
        self.maintainer_cum = _zipf(len(self.maintainers), 0.8)
        self.contributor_cum = _zipf(profile.contributors, 0.9)
        self.reporter_cum = _zipf(profile.reporters, 0.6)
        self.first_merge: dict[str, int] = {}  # login -> when their first PR was merged here
        bots: list[str | None] = [bot for bot, _ in profile.ci_bots]
        bots += [profile.triage_bot, profile.stale_bot, profile.merge_bot]
        for login in filter(None, bots):
            people.account(login, BOT_ACCOUNTS[login])

    # --- people ---------------------------------------------------------------------------
    def maintainer(self, other_than: str | None = None) -> str | None:
        for _ in range(4):
            pick = self.rng.choices(self.maintainers, cum_weights=self.maintainer_cum)[0]
            if pick != other_than:
                return pick
        others = [m for m in self.maintainers if m != other_than]
        return others[0] if others else None

    def contributor(self) -> str:
        k = self.rng.choices(range(self.p.contributors), cum_weights=self.contributor_cum)[0]
        return self.people.human(self.p.contributor_base + k)

    def reporter(self) -> str:
        k = self.rng.choices(range(self.p.reporters), cum_weights=self.reporter_cum)[0]
        return self.people.human(self.p.reporter_base + k)

    def association(self, login: str | None, at: int, pull_request: bool) -> str:
        """GitHub's authorAssociation at ``at``: CONTRIBUTOR once a PR was merged here."""
        if login is None:
            return "NONE"
        if login in self.roles:
            return self.roles[login]
        if login in _BOT_ASSOCIATION:
            return _BOT_ASSOCIATION[login]
        if login == MANNEQUIN:
            return "MANNEQUIN"
        if self.first_merge.get(login, at) < at:
            return "CONTRIBUTOR"
        if not pull_request:
            return "NONE"
        return "FIRST_TIMER" if login in self.people.newcomers else "FIRST_TIME_CONTRIBUTOR"

    def community_commenter(self) -> str | None:
        if self.rng.random() < 0.1:
            return None  # a deleted account ("ghost")
        return self.contributor() if self.rng.random() < 0.5 else self.reporter()

    # --- time -----------------------------------------------------------------------------
    def lag(self, median: float, sigma: float = 1.2) -> int:
        return max(1, int(self.rng.lognormvariate(math.log(median), sigma)))

    def response_delay(self) -> int:
        return min(90 * DAY, max(45, self.lag(self.p.response_median, 2.0)))

    # --- items ----------------------------------------------------------------------------
    def build_items(self) -> list[SimItem]:
        rng, p = self.rng, self.p
        first = self.start + 3 * DAY
        span = max(DAY, self.end - first)
        seeds: list[tuple[int, str, str]] = []  # (created, kind, story)
        for kind, count in (("pull_request", p.pull_requests), ("issue", p.issues)):
            for _ in range(count):
                seeds.append((first + int(span * rng.random() ** 0.8), kind, ""))
        if p.plant_edge_cases:
            seeds.extend(self._planted())
        seeds.sort(key=itemgetter(0))
        community = list(range(p.contributors))
        community_count = int(p.pull_requests * (1 - p.dependabot_share - p.maintainer_share))
        if community_count > len(community):
            extra = community_count - len(community)
            community += rng.choices(
                range(p.contributors), cum_weights=self.contributor_cum, k=extra
            )
        rng.shuffle(community)
        items = []
        for number, (created, kind, story) in enumerate(seeds, start=1):
            if kind == "pull_request":
                author = self._pr_author(community, forced_human=bool(story))
                events, draft = self.pull_request(created, author, story)
            else:
                author = self._issue_author(forced_human=bool(story))
                events, draft = self.issue(created, author, story), False
            items.append(self.finish(number, kind, author, created, events, draft))
        return items

    def _planted(self) -> list[tuple[int, str, str]]:
        """Items whose presence tests rely on, at fixed ages before the end."""
        planted = []
        for hours in (3, 20, 4 * 24, 12 * 24, 40 * 24, 95 * 24, 200 * 24):
            planted.append((self.end - hours * HOUR, "pull_request", "unanswered"))
            planted.append((self.end - (hours + 1) * HOUR, "issue", "unanswered"))
        for days in (8, 25, 70):
            planted.append((self.end - days * DAY, "pull_request", "draft_forever"))
        for k in range(self.p.long_chains):
            kind = "pull_request" if k % 2 == 0 else "issue"
            planted.append((self.end - (30 + 60 * k) * DAY, kind, "long_chain"))
        for k in range(6):
            planted.append((self.end - (50 + 45 * k) * DAY, "pull_request", "redraft"))
            planted.append((self.end - (52 + 45 * k) * DAY, "issue", "author_closed"))
        return [seed for seed in planted if seed[0] > self.start + DAY]

    def _pr_author(self, community: list[int], forced_human: bool) -> str | None:
        rng, p = self.rng, self.p
        r = 1.0 if forced_human else rng.random()
        if r < p.dependabot_share:
            return self.people.account(DEPENDABOT, "Bot")
        r -= p.dependabot_share
        if r < p.agent_share:
            return self.people.account(COPILOT_AGENT, "Bot")
        r -= p.agent_share
        if r < p.maintainer_share:
            return self.maintainer()
        r -= p.maintainer_share
        if r < 0.005:
            return None
        if r < 0.008:
            return self.people.account(MANNEQUIN, "Mannequin")
        if community:
            return self.people.human(self.p.contributor_base + community.pop())
        return self.contributor()

    def _issue_author(self, forced_human: bool) -> str | None:
        r = 1.0 if forced_human else self.rng.random()
        if r < 0.12:
            return self.maintainer()
        if r < 0.25:
            return self.contributor()
        if r < 0.27:
            return None
        if r < 0.275:
            return self.people.account(MANNEQUIN, "Mannequin")
        return self.reporter()

    def pull_request(
        self, created: int, author: str | None, story: str
    ) -> tuple[list[_Event], bool]:
        rng, p = self.rng, self.p
        events: list[_Event] = []

        def comment(at: int, actor: str | None) -> None:
            # the author's comments on their own pull request carry its association
            association = self.association(actor, at, actor is not None and actor == author)
            events.append((at, COMMENT, actor, association, None, None))

        def review(at: int, actor: str | None, state: str) -> None:
            started = max(created, at - rng.randint(0, 300))
            events.append((started, REVIEW, actor, self.association(actor, at, False), state, at))

        def event(at: int, kind: str, actor: str | None) -> None:
            events.append((at, kind, actor, None, None, None))

        for bot, share in p.ci_bots:
            if rng.random() < share:
                comment(created + rng.randint(2, 240), bot)
        if not story:
            r = rng.random()
            if author == DEPENDABOT:
                story = "bot_closed" if r < 0.25 else ""
            elif r < 0.08:
                story = "draft"
            elif r < 0.11:
                story = "redraft"
            elif r < 0.14:
                story = "author_closed"
            elif r < 0.16:
                story = "unanswered"
        ready = created
        if story in ("draft", "draft_forever"):
            ready = created + self.lag(2 * DAY)
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                comment(rng.randint(created, ready), author)
            if rng.random() < 0.5:  # a maintainer peeks at the draft: not a response yet
                comment(rng.randint(created, ready), self.maintainer(author))
            if story == "draft_forever":
                return events, True
            event(ready, READY, author)
        if story == "long_chain":
            noisy = p.ci_bots[0][0] if p.ci_bots else GITHUB_ACTIONS
            for k in range(rng.randint(105, 140)):
                ready += rng.randint(MINUTE, 3 * HOUR)
                comment(ready, author if k % 3 == 0 else noisy)
        if story == "bot_closed":  # superseded by a newer version bump
            event(created + self.lag(10 * DAY), CLOSED, author)
            return events, False
        if story in ("unanswered", "author_closed"):
            if rng.random() < 0.5:
                comment(ready + self.lag(3 * DAY), author)  # "any news?"
            if story == "author_closed":
                event(ready + self.lag(6 * DAY), CLOSED, author)
            return events, story == "draft"
        first_at = ready + self.response_delay()
        if rng.random() < 0.25:  # the author answers themselves first
            for _ in range(rng.choice((1, 1, 2, 3))):
                comment(rng.randint(ready, first_at), author)
        if rng.random() < 0.08:
            comment(rng.randint(ready, first_at), self.community_commenter())
        if rng.random() < 0.04:  # started, never submitted: invisible to others
            pending, owner = rng.randint(ready, first_at), self.maintainer(author)
            if owner is not None:
                association = self.association(owner, pending, False)
                events.append((pending, REVIEW, owner, association, "PENDING", None))
        reviewer = self.maintainer(author)
        if reviewer is None:  # a lone maintainer merges their own work
            event(first_at, MERGED, author)
            return events, False
        state = rng.choices(
            ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "comment"), (3, 2, 2, 4)
        )[0]
        if state == "comment":
            comment(first_at, reviewer)
        else:
            review(first_at, reviewer, state)
        approved = state == "APPROVED"
        at = first_at
        if story == "redraft" or (not approved and rng.random() < 0.03):
            at += self.lag(HOUR)
            event(at, TO_DRAFT, author)
            at += self.lag(DAY)
            event(at, READY, author)
        rounds = int(rng.expovariate(1 / p.rounds)) if p.rounds > 0 else 0
        for _ in range(rounds):
            at += self.lag(DAY)
            comment(at, author)
            at += self.lag(p.response_median)
            state = rng.choices(
                ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"), (4, 2, 3, 1)
            )[0]
            review(at, self.maintainer(author) or reviewer, state)
            approved = approved or state == "APPROVED"
        outcome = rng.random()
        if outcome < 0.72:
            if not approved:
                at += self.lag(p.response_median)
                review(at, reviewer, "APPROVED")
            at += self.lag(HOUR)
            event(at, MERGED, p.merge_bot or self.maintainer() or reviewer)
            if rng.random() < 0.08:
                comment(at + self.lag(HOUR), author)  # "thanks!"
        elif outcome < 0.84:
            event(at + self.lag(3 * DAY), CLOSED, reviewer)
        elif outcome < 0.88:
            event(at + self.lag(3 * DAY), CLOSED, author)
        return events, False

    def issue(self, created: int, author: str | None, story: str) -> list[_Event]:
        rng, p = self.rng, self.p
        events: list[_Event] = []

        def comment(at: int, actor: str | None) -> None:
            events.append((at, COMMENT, actor, self.association(actor, at, False), None, None))

        def event(at: int, kind: str, actor: str | None) -> None:
            events.append((at, kind, actor, None, None, None))

        if p.triage_bot and rng.random() < (0.8 if p.triage_bot == K8S_CI_ROBOT else 0.1):
            comment(created + rng.randint(2, 60), p.triage_bot)
        if not story:
            r = rng.random()
            if r < 0.06:
                story = "author_closed"
            elif r < 0.14 and p.stale_bot:
                story = "stale"
            elif r < 0.17:
                story = "reopened"
            elif r < 0.21:
                story = "unanswered"
        at = created
        if story == "long_chain":
            for k in range(rng.randint(105, 140)):
                at += rng.randint(MINUTE, 3 * HOUR)
                comment(at, author if k % 2 == 0 else (p.triage_bot or GITHUB_ACTIONS))
        if story in ("unanswered", "author_closed", "stale"):
            if rng.random() < 0.4:
                comment(at + self.lag(2 * DAY), author)
            if story == "author_closed":
                event(at + self.lag(4 * DAY), CLOSED, author)
            elif story == "stale" and p.stale_bot:
                at += 90 * DAY + rng.randint(0, DAY)
                comment(at, p.stale_bot)  # /lifecycle stale
                if p.stale_bot == K8S_TRIAGE_ROBOT:
                    at += 30 * DAY
                    comment(at, p.stale_bot)  # /lifecycle rotten
                at += 30 * DAY
                comment(at, p.stale_bot)
                event(at, CLOSED, p.stale_bot)
            return events
        first_at = at + self.response_delay()
        if rng.random() < 0.2:
            comment(rng.randint(at, first_at), author)
        if rng.random() < 0.1:
            comment(rng.randint(at, first_at), self.community_commenter())
        responder = self.maintainer(author) or author
        comment(first_at, responder)
        at = first_at
        for _ in range(int(rng.expovariate(1 / p.rounds)) if p.rounds > 0 else 0):
            at += self.lag(DAY)
            comment(at, author)
            at += self.lag(p.response_median)
            comment(at, self.maintainer(author) or responder)
        outcome = rng.random()
        if outcome < 0.65 or story == "reopened":
            at += self.lag(5 * DAY)
            event(at, CLOSED, responder)
            if story == "reopened":
                at += self.lag(10 * DAY)
                event(at, REOPENED, author)
                comment(at + 5, author)
                at += self.lag(p.response_median)
                comment(at, responder)
                if rng.random() < 0.6:
                    event(at + self.lag(DAY), CLOSED, responder)
        elif outcome < 0.78:
            event(at + self.lag(2 * DAY), CLOSED, author)
        return events

    def finish(
        self,
        number: int,
        kind: str,
        author: str | None,
        created: int,
        events: list[_Event],
        draft: bool,
    ) -> SimItem:
        """Turn a story into an item: cut at the end of time, order, replay state like GitHub."""
        pull_request = kind == "pull_request"
        assoc = self.association(author, created, pull_request)
        kept = [e for e in events if max(e[0], e[5] or 0) <= self.end]
        kept.sort(key=itemgetter(0))
        prefix = "PR" if pull_request else "I"
        item = SimItem(
            number=number,
            kind=kind,
            author=author,
            author_association=assoc,
            created_at=_dt(created),
            updated_at=_dt(created),
            is_draft=draft,
            labels=self.labels(author, pull_request),
            node_id=node_id(prefix, self.full_name, number),
        )
        updated = created
        for k, (at, typ, actor, association, state, submitted) in enumerate(kept):
            entry = SimTimelineEntry(
                id=node_id(_ID_PREFIX[typ], self.full_name, number, k),
                type=typ,
                actor=actor,
                created_at=_dt(at),
                author_association=association,
                review_state=state,
                submitted_at=None if submitted is None else _dt(submitted),
            )
            item.timeline.append(entry)
            updated = max(updated, submitted or at)
            if typ == CLOSED:
                item.state, item.closed_at = "CLOSED", entry.created_at
            elif typ == MERGED:
                item.state, item.merged_at, item.merged_by = "MERGED", entry.created_at, actor
                item.closed_at = entry.created_at
                if author is not None:
                    self.first_merge[author] = min(at, self.first_merge.get(author, at))
            elif typ == REOPENED:
                item.state, item.closed_at = "OPEN", None
            elif typ == READY:
                item.is_draft = False
            elif typ == TO_DRAFT:
                item.is_draft = True
        item.updated_at = _dt(updated)
        if not pull_request and item.state == "OPEN":
            if self.rng.random() < 0.12:
                item.labels.append("good first issue")
            if self.rng.random() < 0.12:
                item.labels.append("help wanted")
        return item

    def labels(self, author: str | None, pull_request: bool) -> list[str]:
        if author == DEPENDABOT:
            return ["dependencies"]
        pool = self.p.pr_labels if pull_request else self.p.issue_labels
        return self.rng.sample(pool, self.rng.choice((0, 1, 1, 2))) if pool else []

    # --- history --------------------------------------------------------------------------
    def build_commits(self, items: list[SimItem]) -> list[SimCommit]:
        """Rebase-merged pull requests plus direct pushes, newest first."""
        rng = self.rng
        merged = [i for i in items if i.merged_at is not None]
        extra = max(0, self.p.commits - len(merged))
        per_pr = [1] * len(merged)
        for _ in range(int(extra * 0.6) if merged else 0):
            per_pr[rng.randrange(len(merged))] += 1
        direct = extra - (int(extra * 0.6) if merged else 0)
        raw: list[tuple[int, int, str | None]] = []  # (committed, authored, author)
        for item, count in zip(merged, per_pr, strict=True):
            assert item.merged_at is not None
            merged_ts, created_ts = _ts(item.merged_at), _ts(item.created_at)
            for _ in range(count):
                raw.append((merged_ts, rng.randint(created_ts, merged_ts), item.author))
        for _ in range(direct if self.maintainers else 0):
            at = rng.randint(self.start + HOUR, self.end)
            raw.append((at, at - rng.randint(0, DAY), self.maintainer()))
        commits = []
        for seq, (committed, authored, login) in enumerate(raw):
            oid = hashlib.sha1(f"{self.full_name}:{seq}".encode()).hexdigest()
            commits.append(_commit(oid, committed, max(self.start, authored), login, rng))
        commits.sort(key=lambda c: c.committed_date, reverse=True)
        return commits

    def build_releases(self, commits: list[SimCommit]) -> tuple[list[SimRelease], list[SimTag]]:
        p, rng = self.p, self.rng
        if not commits or p.releases <= 0:
            return [], []
        ascending = commits[::-1]
        commit_times = [_ts(c.committed_date) for c in ascending]

        def commit_at(at: int) -> SimCommit:
            return ascending[max(0, bisect.bisect_right(commit_times, at) - 1)]

        first = max(self.start + 7 * DAY, commit_times[0])
        step = (self.end - 2 * DAY - first) / p.releases
        releases, tags = [], []
        versions = _versions(rng, p.releases, p.first_version, p.major_share, p.backport_patches)
        for k, version in enumerate(versions):
            at = int(first + step * (k + 0.5 + rng.uniform(-0.35, 0.35)))
            commit = commit_at(at)
            name = p.tag_prefix + version
            published = min(self.end, at + rng.randint(MINUTE, 6 * HOUR))
            author = GITHUB_ACTIONS if rng.random() < 0.3 else self.maintainer()
            releases.append(
                SimRelease(name, _dt(at), _dt(published), "-" in version, False, author)
            )
            annotated = rng.random() < 0.5
            tagged = _dt(at) if annotated else commit.committed_date
            tags.append(SimTag(name, commit.oid, tagged, annotated))
        if GITHUB_ACTIONS in {r.author for r in releases}:
            self.people.account(GITHUB_ACTIONS, "Bot")
        major, minor = (int(n) for n in versions[-1].split(".")[:2])
        for k in range(p.draft_releases):  # drafts: no tag yet, not published
            at = self.end - rng.randint(HOUR, 20 * DAY)
            name = f"{p.tag_prefix}{major}.{minor + 1 + k}.0"
            releases.append(SimRelease(name, _dt(at), None, False, True, self.maintainer()))
        for name in p.extra_tags:
            commit = commit_at(rng.randint(commit_times[0], commit_times[-1]))
            tags.append(SimTag(name, commit.oid, commit.committed_date, False))
        releases.sort(key=lambda r: r.created_at)
        return releases, tags

    def build(self) -> SimRepository:
        items = self.build_items()
        commits = self.build_commits(items)
        releases, tags = self.build_releases(commits)
        activity = [i.updated_at for i in items] + [_dt(self.start)]
        pushes = [c.committed_date for c in commits[:1]] + [t.tagged_at for t in tags]
        return SimRepository(
            owner=self.p.owner,
            name=self.p.name,
            created_at=_dt(self.start),
            pushed_at=max(pushes) if pushes else None,
            updated_at=max(activity),
            is_archived=self.p.archived_at is not None,
            is_fork=self.p.is_fork,
            items=items,
            releases=releases,
            tags=tags,
            commits=commits,
        )


def _commit(
    oid: str, committed: int, authored: int, login: str | None, rng: random.Random
) -> SimCommit:
    if login is None or login == MANNEQUIN:
        login, name, email = None, "Former Contributor", f"former-{oid[:6]}@example.invalid"
    elif login == DEPENDABOT:
        name, email = login, "49699333+dependabot[bot]@users.noreply.github.com"
    else:
        name = login.replace("-", " ").title()
        email = f"{login}@users.noreply.github.com"
        if rng.random() < 0.05:  # committed from an e-mail GitHub cannot link to the account
            email, login = f"{login.split('-')[0]}@laptop.example", None
    return SimCommit(oid, _dt(committed), _dt(authored), login, name, email)


def _versions(
    rng: random.Random,
    count: int,
    first: tuple[int, int, int],
    major_share: float,
    backports: bool,
) -> list[str]:
    """Semver tags in release order: patches, minors, rare majors, prereleases before some."""
    major, minor, patch = first
    previous: tuple[int, int, int] | None = None  # latest release of the previous minor
    out = [f"{major}.{minor}.{patch}"]
    while len(out) < count:
        r = rng.random()
        if backports and previous is not None and r < 0.3:
            previous = (previous[0], previous[1], previous[2] + 1)
            out.append("{}.{}.{}".format(*previous))
            continue
        if r < 0.55:
            patch += 1
        else:
            previous = (major, minor, patch)
            if rng.random() < major_share:
                major, minor, patch = major + 1, 0, 0
            else:
                minor, patch = minor + 1, 0
            if rng.random() < 0.3:
                out.append(f"{major}.{minor}.{patch}-{rng.choice(('rc.1', 'alpha.1', 'beta.1'))}")
        out.append(f"{major}.{minor}.{patch}")
    return out[:count]


# --- small: scripted, seed-independent --------------------------------------------------------

_SMALL_PEOPLE: tuple[tuple[str, str | None, str | None], ...] = (
    # (login, company, role)
    ("alice", "Acme, Inc.", "OWNER"),
    ("bob", "ACME", "MEMBER"),
    ("carol", None, "COLLABORATOR"),
    ("dave", "@Acme", None),
    ("erin", "Acme Inc.", None),
    ("frank", "acme", None),
    ("grace", "Red Hat, Inc.", None),
    ("heidi", None, None),
    ("ivan", "Red Hat", None),
    ("judy", None, None),  # her first pull request is her first on GitHub: FIRST_TIMER
)
_Script = tuple[tuple[float, str, str | None], ...]  # (hours after creation, what, actor)
# (days before now, kind, author, created as draft, labels, script), in creation order.
# fmt: off
_SMALL_ITEMS: tuple[tuple[float, str, str | None, bool, tuple[str, ...], _Script], ...] = (
    # imported from another tracker: mannequin author, answered after 72 h
    (380, "issue", MANNEQUIN, False, (), ((72, "comment", "bob"), (73, "close", "bob"))),
    # plain: codecov in 36 s, approved after 5 h, merged
    (300, "pr", "dave", False, ("enhancement",),
     ((0.01, "comment", CODECOV), (5, "APPROVED", "alice"), (6, "merge", "alice"))),
    # issue answered in 2 h, closed
    (290, "issue", "heidi", False, ("bug",), ((2, "comment", "bob"), (30, "close", "bob"))),
    # dependabot bump approved and merged
    (280, "pr", DEPENDABOT, False, ("dependencies",),
     ((0.02, "comment", CODECOV), (20, "APPROVED", "alice"), (20.5, "merge", "alice"))),
    # user-kind bot in 7 s and the author's own comment before the first review at 48 h
    (270, "pr", "erin", False, (),
     ((0.002, "comment", K8S_CI_ROBOT), (0.5, "comment", "erin"),
      (48, "CHANGES_REQUESTED", "carol"), (50, "comment", "erin"), (72, "APPROVED", "carol"),
      (73, "merge", "carol"))),
    # deleted author, answered in 3 h
    (260, "issue", None, False, (), ((3, "comment", "alice"), (4, "close", "alice"))),
    # draft: bob's comment at 2 h is before ready (24 h) so the response is his review at 26 h
    (250, "pr", "dave", True, (),
     ((1, "comment", "dave"), (2, "comment", "bob"), (24, "ready", "dave"),
      (26, "APPROVED", "bob"), (27, "merge", "bob"))),
    # closed by its author, nobody else answered
    (240, "issue", "grace", False, ("question",), ((5, "close", "grace"),)),
    # a PENDING review at 1 h (never submitted), then a real review at 10 h
    (230, "pr", "frank", False, (),
     ((1, "PENDING", "bob"), (10, "COMMENTED", "alice"), (29, "APPROVED", "alice"),
      (30, "merge", "alice"))),
    # AI agent's pull request; github-actions in 3 min, maintainer at 4 h
    (220, "pr", COPILOT_AGENT, False, (),
     ((0.05, "comment", GITHUB_ACTIONS), (4, "comment", "alice"), (5, "merge", "alice"))),
    # answered at 1 h, converted to draft by its author, ready again, merged
    (200, "pr", "grace", False, (),
     ((0.02, "comment", CODECOV), (1, "COMMENTED", "alice"), (2, "draft", "grace"),
      (48, "ready", "grace"), (50, "APPROVED", "alice"), (51, "merge", "alice"))),
    # only the stale bot ever answered, and it closed the issue
    (180, "issue", "ivan", False, (),
     ((0.01, "comment", GITHUB_ACTIONS), (1440, "comment", GITHUB_ACTIONS),
      (1608, "close", GITHUB_ACTIONS))),
    # changes requested at 2 h, closed unmerged by a maintainer
    (170, "pr", "ivan", False, (), ((2, "CHANGES_REQUESTED", "alice"), (100, "close", "alice"))),
    # closed, reopened by the reporter, answered again, closed again
    (160, "issue", "judy", False, ("bug",),
     ((6, "comment", "carol"), (8, "close", "carol"), (200, "reopen", "judy"),
      (201, "comment", "judy"), (210, "comment", "carol"), (212, "close", "carol"))),
    # first-timer; a deleted user's comment at 3 h comes before the maintainer at 8 h
    (150, "pr", "judy", False, (),
     ((0.01, "comment", CODECOV), (3, "comment", None), (8, "APPROVED", "carol"),
      (9, "merge", "carol"))),
    # superseded dependabot bump: closed by dependabot, no human ever
    (140, "pr", DEPENDABOT, False, ("dependencies",),
     ((0.02, "comment", CODECOV), (168, "close", DEPENDABOT))),
    # 110 author/bot comments (more than a page) before the first maintainer comment at 40 h
    (120, "pr", "heidi", False, (),
     ((0, "chain", "heidi"), (40, "comment", "bob"), (60, "APPROVED", "bob"),
      (61, "merge", "bob"))),
    # contributor's issue answered in 1 h, still open
    (100, "issue", "erin", False, ("bug",), ((1, "comment", "carol"),)),
    # a maintainer's own pull request reviewed by another maintainer
    (90, "pr", "bob", False, (), ((3, "APPROVED", "alice"), (4, "merge", "bob"))),
    # unanswered good first issue, two months old
    (60, "issue", "dave", False, ("good first issue",), ()),
    # a review later dismissed, then an approval
    (45, "pr", "carol", False, (),
     ((2, "DISMISSED", "alice"), (5, "APPROVED", "alice"), (6, "merge", "carol"))),
    # unanswered help-wanted issue with its author's own ping
    (30, "issue", "heidi", False, ("help wanted",), ((24, "comment", "heidi"),)),
    # still a draft after 20 days; alice commented on the draft
    (20, "pr", "frank", True, (), ((2, "comment", "frank"), (30, "comment", "alice"))),
    # a maintainer's issue answered by another maintainer, open
    (15, "issue", "alice", False, (), ((1, "comment", "bob"),)),
    # open pull request, only codecov so far
    (10, "pr", "erin", False, (), ((0.01, "comment", CODECOV),)),
    # greeted by the user-kind bot within 5 s, otherwise unanswered
    (5, "issue", "grace", False, (), ((0.0014, "comment", K8S_CI_ROBOT),)),
    # dependabot bump waiting for 3 days
    (3, "pr", DEPENDABOT, False, ("dependencies",), ((0.02, "comment", CODECOV),)),
    # unanswered for a day
    (1, "issue", "ivan", False, (), ()),
    # a returning contributor's pull request, 6 hours old
    (0.25, "pr", "judy", False, (), ()),
    # a deleted user's issue, 2 hours old
    (2 / 24, "issue", None, False, (), ()),
)
# fmt: on
_SMALL_RELEASES = (  # (tag, days before now, prerelease, draft)
    ("v0.1.0", 299, False, False),
    ("v0.2.0-rc.1", 200, True, False),
    ("v0.2.0", 195, False, False),
    ("v0.2.1", 100, False, False),
    ("v0.3.0", 1, False, True),
)
_SMALL_WHAT = {
    "comment": COMMENT, "ready": READY, "draft": TO_DRAFT, "close": CLOSED, "merge": MERGED,
    "reopen": REOPENED,
}  # fmt: skip


def _small(people: _People, now: int) -> SimRepository:
    profile = _Profile(
        owner="acme", name="widgets", years=400 / 365, pull_requests=0, issues=0,
        maintainer_ids=(), contributor_base=0, contributors=0, reporter_base=0, reporters=0,
        releases=0, commits=30,
    )  # fmt: skip
    builder = _RepoBuilder(profile, random.Random("small"), people, now)
    for login, company, role in _SMALL_PEOPLE:
        people.account(login, "User", company)
        if role is not None:
            builder.roles[login] = role
    people.newcomers.add("judy")
    builder.maintainers = list(builder.roles)
    builder.maintainer_cum = _zipf(len(builder.maintainers))
    items = []
    for number, (days, kind, author, draft, labels, script) in enumerate(_SMALL_ITEMS, start=1):
        created = now - int(days * DAY)
        pull_request = kind == "pr"
        if author in BOT_ACCOUNTS:
            people.account(author, BOT_ACCOUNTS[author])
        elif author == MANNEQUIN:
            people.account(author, "Mannequin")
        events: list[_Event] = []
        for hours, what, actor in script:
            at = created + int(hours * HOUR)
            own = pull_request and actor is not None and actor == author
            if actor in BOT_ACCOUNTS:
                people.account(actor, BOT_ACCOUNTS[actor])
            if what == "chain":  # 110 comments, 20 min apart, every third by the author
                for k in range(110):
                    who = actor if k % 3 == 0 else GITHUB_ACTIONS
                    at += 20 * MINUTE
                    association = builder.association(who, at, pull_request and who == author)
                    events.append((at, COMMENT, who, association, None, None))
            elif what in _SMALL_WHAT:
                typ = _SMALL_WHAT[what]
                said = builder.association(actor, at, own) if typ == COMMENT else None
                events.append((at, typ, actor, said, None, None))
            elif what == "PENDING":
                events.append(
                    (at, REVIEW, actor, builder.association(actor, at, False), what, None)
                )
            else:
                events.append((at, REVIEW, actor, builder.association(actor, at, False), what, at))
        item = builder.finish(number, "pull_request" if pull_request else "issue", author, created,
                              events, draft)  # fmt: skip
        item.labels = list(labels)
        items.append(item)
    commits = builder.build_commits(items)
    ascending = commits[::-1]
    releases, tags = [], []
    for name, days, prerelease, draft in _SMALL_RELEASES:
        at = now - days * DAY
        if draft:
            releases.append(SimRelease(name, _dt(at), None, False, True, "alice"))
            continue
        commit = [c for c in ascending if _ts(c.committed_date) <= at][-1]
        releases.append(
            SimRelease(name, _dt(at), _dt(at + 10 * MINUTE), prerelease, False, "alice")
        )
        tags.append(SimTag(name, commit.oid, commit.committed_date, False))
    tags.append(SimTag("v0.0.1-test", ascending[0].oid, ascending[0].committed_date, True))
    return SimRepository(
        owner="acme",
        name="widgets",
        created_at=_dt(builder.start),
        pushed_at=max([commits[0].committed_date] + [t.tagged_at for t in tags]),
        updated_at=max(i.updated_at for i in items),
        items=items,
        releases=releases,
        tags=tags,
        commits=commits,
    )


# --- org:N ------------------------------------------------------------------------------------

_ORG = "example-org"
_ORG_FIRST = ("api", "web", "data", "auth", "cli", "docs", "infra", "ml", "mobile", "search",
              "billing", "deploy", "metrics", "notify", "gateway", "sdk")  # fmt: skip
_ORG_SECOND = ("service", "client", "tools", "worker", "ui", "core", "lib", "bot", "proxy",
               "schema", "store", "tests")  # fmt: skip


def _org(count: int, max_items: int, seed: int, people: _People, now: int) -> list[SimRepository]:
    members = tuple(range(5000, 5020))
    combos = len(_ORG_FIRST) * len(_ORG_SECOND)
    repos = []
    for i in range(count):
        rng = random.Random(f"{seed}/org/{i}")
        name = f"{_ORG_FIRST[i % 16]}-{_ORG_SECOND[(i // 16) % 12]}"
        name += f"-{i // combos + 1}" if i >= combos else ""
        years = rng.uniform(0.5, 8)
        items = rng.randint(min(5, max_items), max_items)
        empty = rng.random() < 0.03
        prs = 0 if empty else round(items * rng.uniform(0.4, 0.8))
        archived_at = None
        if rng.random() < 0.1:
            archived_at = now - rng.randint(30 * DAY, int(years * YEAR * 0.6))
        profile = _Profile(
            owner=_ORG, name=name, years=years, pull_requests=prs, issues=items - prs,
            maintainer_ids=tuple(rng.sample(members, rng.randint(1, 3))),
            contributor_base=6000 + rng.randrange(2000), contributors=max(2, items // 3),
            reporter_base=7000 + rng.randrange(3000), reporters=max(3, items // 2),
            releases=0 if empty else rng.choice((0, 0, 1, 2, 3, 5, 8, 12)),
            commits=0 if empty else rng.randint(items, items * 6), tag_prefix="v",
            ci_bots=((GITHUB_ACTIONS, 0.3),), dependabot_share=0.15, rounds=0.6,
            response_median=12 * HOUR, archived_at=archived_at, is_fork=rng.random() < 0.1,
            pr_labels=("enhancement", "bug"), issue_labels=("bug", "question"),
        )  # fmt: skip
        repos.append(_RepoBuilder(profile, rng, people, now).build())
    return repos


# --- SPEC -------------------------------------------------------------------------------------

_SCALE_KEYS = ("items", "contributors", "releases", "commits", "years")
_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "small": (),
    "kube-rs": _SCALE_KEYS,
    "kubernetes": _SCALE_KEYS,
    "org": ("repos", "items"),
}


def parse_spec(spec: str) -> list[tuple[str, dict[str, int]]]:
    """``"kube-rs:items=500+org:3"`` → ``[("kube-rs", {"items": 500}), ("org", {"repos": 3})]``."""
    parts = []
    for raw in spec.split("+"):
        name, _, params = raw.strip().partition(":")
        if name not in _SPEC_KEYS:
            known = ", ".join(_SPEC_KEYS)
            raise ValueError(f"unknown dataset {name!r} in SPEC {spec!r} (known: {known})")
        values: dict[str, int] = {}
        for param in filter(None, (p.strip() for p in params.split(","))):
            key, eq, value = param.partition("=")
            if not eq:
                key, value = ("repos" if name == "org" else "", key)
            if key not in _SPEC_KEYS[name]:
                raise ValueError(f"{name!r} takes no parameter {param!r} in SPEC {spec!r}")
            if not re.fullmatch(r"[0-9]+", value.strip()):
                raise ValueError(f"{param!r} in SPEC {spec!r} is not a whole number")
            values[key] = int(value)
        if name == "org" and "repos" not in values:
            raise ValueError(f"org needs a repository count (org:N) in SPEC {spec!r}")
        parts.append((name, values))
    return parts


def _scaled(profile: _Profile, values: dict[str, int]) -> _Profile:
    if "items" in values:
        total = profile.pull_requests + profile.issues
        prs = round(values["items"] * profile.pull_requests / total)
        profile = replace(profile, pull_requests=prs, issues=values["items"] - prs)
    if "contributors" in values:
        profile = replace(profile, contributors=max(1, values["contributors"]))
    if "releases" in values:
        profile = replace(profile, releases=values["releases"])
    if "commits" in values:
        profile = replace(profile, commits=values["commits"])
    if "years" in values:
        profile = replace(profile, years=max(1, values["years"]))
    return profile


def generate(spec: str, *, seed: int = 1, now: datetime | None = None) -> Dataset:
    """A reproducible dataset for SPEC (grammar in the module docstring) ending at ``now``."""
    now = DEFAULT_NOW if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_ts = _ts(now)
    people = _People(seed)
    repos: list[SimRepository] = []
    for name, values in parse_spec(spec):
        if name == "small":
            repos.append(_small(people, now_ts))
        elif name == "org":
            repos.extend(
                _org(values["repos"], max(1, values.get("items", 40)), seed, people, now_ts)
            )
        else:
            profile = _scaled(_KUBE_RS if name == "kube-rs" else _KUBERNETES, values)
            rng = random.Random(f"{seed}/{name}")
            repos.append(_RepoBuilder(profile, rng, people, now_ts).build())
    names = [r.full_name.lower() for r in repos]
    if len(set(names)) != len(names):
        raise ValueError(f"SPEC {spec!r} names a repository twice")
    return Dataset(now=_dt(now_ts), users=list(people.users.values()), repositories=repos)
