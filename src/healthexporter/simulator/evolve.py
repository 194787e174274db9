"""How a simulated GitHub world changes over time, so incremental sync can be tested.

``evolve`` moves a ``Dataset`` forward: comments, reviews, first responses, closes, merges,
reopens, new items, commits and releases, all stamped after the old ``now`` and all made through
``Dataset``'s mutation methods, so versions and ``updated_at`` move as on GitHub. People come
from each repository's own history, plus some newcomers.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from healthexporter.simulator.generate import (
    _BOT_ASSOCIATION,
    _COMPANY_SPELLINGS,
    _ID_PREFIX,
    BOT_ACCOUNTS,
    CLOSED,
    COMMENT,
    HOUR,
    MAINTAINER_ASSOCIATIONS,
    MERGED,
    MINUTE,
    READY,
    REOPENED,
    REVIEW,
    _commit,
    _dt,
    _login,
    _ts,
)


@dataclass(frozen=True)
class EvolveSummary:
    """What one ``evolve`` step changed. Items are ``owner/repo#N``, releases ``owner/repo@tag``."""

    previous_now: datetime
    now: datetime
    changed_items: tuple[str, ...]  # existing items that got new timeline entries
    new_items: tuple[str, ...]
    timeline_entries: int  # entries added, on existing and new items
    first_responses: int  # open items that got their first maintainer response
    closed: int
    merged: int
    reopened: int
    new_releases: tuple[str, ...]
    new_commits: int
    new_users: tuple[str, ...]

    @property
    def touched_items(self) -> tuple[str, ...]:
        return self.changed_items + self.new_items


def evolve(
    dataset: Dataset,
    *,
    seed: int,
    advance: timedelta = timedelta(hours=1),
    changed_fraction: float = 0.01,
    new_items: int = 0,
    new_releases: int = 0,
    new_commits: int = 0,
    repositories: list[str] | None = None,
) -> EvolveSummary:
    """Move ``dataset.now`` forward by ``advance`` and add activity stamped after the old ``now``.

    About ``changed_fraction`` of existing items (70% of them open ones) get comments, reviews,
    first responses, closes, merges or reopens; ``new_items``, ``new_releases`` (with tags) and
    ``new_commits`` are spread over the repositories. Only ``repositories`` ("owner/name") change
    if given; archived ones never do. Every change goes through ``Dataset``'s mutation methods,
    so versions and ``updated_at``/``pushed_at`` move as on GitHub. The same dataset and seed
    give the same changes.
    """
    if advance < timedelta(seconds=1):
        raise ValueError("advance must be at least one second")
    if not 0.0 <= changed_fraction <= 1.0:
        raise ValueError("changed_fraction must be between 0 and 1")
    if min(new_items, new_releases, new_commits) < 0:
        raise ValueError("new_items, new_releases and new_commits must not be negative")
    with dataset.lock:
        step = _Evolution(dataset, seed, dataset.now, dataset.now + advance)
        repos = step.select(repositories)
        dataset.now = step.new
        step.touch_items(repos, changed_fraction)
        step.add_items(repos, new_items)
        step.add_commits(repos, new_commits)
        step.add_releases(repos, new_releases)
        return step.summary()


_SEMVER = re.compile(r"^(v?)(\d+)\.(\d+)\.(\d+)$")


class _Evolution:
    """One ``evolve`` step: picks people from each repository's own history."""

    def __init__(self, dataset: Dataset, seed: int, old: datetime, new: datetime) -> None:
        self.dataset = dataset
        self.old, self.new = old, new
        self.first, self.last = _ts(old) + 1, _ts(new)  # stamps fall in (old, new]
        self.rng = random.Random(f"evolve/{seed}/{_ts(old)}/{_ts(new)}")
        self.seed = seed
        self._cast: dict[str, tuple[dict[str, str], list[str]]] = {}
        self.changed: set[tuple[str, int]] = set()
        self.created: list[str] = []
        self.entries = self.first_responses = self.closed = self.merged = self.reopened = 0
        self.releases: list[str] = []
        self.commits = 0
        self.users: list[str] = []

    def select(self, names: list[str] | None) -> list[SimRepository]:
        if names is None:
            repos = list(self.dataset.repositories.values())
        else:
            repos = []
            for full_name in names:
                owner, _, name = full_name.partition("/")
                repo = self.dataset.repository(owner, name)
                if repo is None:
                    raise ValueError(f"no repository {full_name!r} in the dataset")
                repos.append(repo)
        return sorted((r for r in repos if not r.is_archived), key=lambda r: r.full_name.lower())

    def times(self, count: int) -> list[int]:
        return sorted(self.rng.randint(self.first, self.last) for _ in range(count))

    # --- who ------------------------------------------------------------------------------
    def is_bot(self, login: str | None) -> bool:
        if login is None:
            return False
        user = self.dataset.user(login)
        kind = user.kind if user is not None else "User"
        return kind != "User" or login in BOT_ACCOUNTS or login.endswith("[bot]")

    def cast(self, repo: SimRepository) -> tuple[dict[str, str], list[str]]:
        """(maintainers with their association, other human authors) seen lately in ``repo``."""
        key = repo.full_name.lower()
        if key not in self._cast:
            roles: dict[str, str] = {}
            authors: dict[str, None] = {}
            for item in repo.items[-300:]:
                if item.author is not None and not self.is_bot(item.author):
                    if item.author_association in MAINTAINER_ASSOCIATIONS:
                        roles.setdefault(item.author, item.author_association)
                    else:
                        authors[item.author] = None
                for entry in item.timeline:
                    association = entry.author_association
                    if association in MAINTAINER_ASSOCIATIONS and not self.is_bot(entry.actor):
                        assert association is not None and entry.actor is not None
                        roles.setdefault(entry.actor, association)
            if not roles:
                login = f"{repo.owner}-maintainer"
                if self.dataset.user(login) is None:
                    self.dataset.add_user(SimUser(login=login))
                    self.users.append(login)
                roles[login] = "MEMBER"
            self._cast[key] = (roles, [a for a in authors if a not in roles])
        return self._cast[key]

    def maintainer(self, repo: SimRepository, other_than: str | None = None) -> tuple[str, str]:
        roles = self.cast(repo)[0]
        choices = [m for m in roles if m != other_than] or list(roles)
        login = self.rng.choice(choices)
        return login, roles[login]

    def newcomer(self) -> str:
        index = 1_000_000 + len(self.dataset.users)
        while self.dataset.user(_login(index)) is not None:
            index += 1
        login = _login(index)
        rng = random.Random(f"{self.seed}/{login}")
        company = rng.choice(rng.choice(_COMPANY_SPELLINGS)) if rng.random() < 0.5 else None
        self.dataset.add_user(SimUser(login=login, company=company))
        self.users.append(login)
        return login

    # --- changes --------------------------------------------------------------------------
    def add(
        self,
        repo: SimRepository,
        item: SimItem,
        at: int,
        typ: str,
        actor: str | None,
        association: str | None = None,
        state: str | None = None,
    ) -> None:
        entry = SimTimelineEntry(
            id=node_id(_ID_PREFIX[typ], repo.full_name, item.number, len(item.timeline)),
            type=typ,
            actor=actor,
            created_at=_dt(at),
            author_association=association,
            review_state=state,
            submitted_at=_dt(at) if typ == REVIEW and state != "PENDING" else None,
        )
        self.dataset.add_timeline_entry(repo, item, entry)
        self.entries += 1
        self.closed += typ == CLOSED
        self.merged += typ == MERGED
        self.reopened += typ == REOPENED

    def responded(self, item: SimItem) -> bool:
        return any(
            e.type in (COMMENT, REVIEW)
            and e.review_state != "PENDING"
            and e.actor != item.author
            and not self.is_bot(e.actor)
            for e in item.timeline
        )

    def respond(self, repo: SimRepository, item: SimItem, at: int) -> None:
        login, role = self.maintainer(repo, item.author)
        if item.kind == "pull_request" and self.rng.random() < 0.6:
            state = self.rng.choice(("APPROVED", "CHANGES_REQUESTED", "COMMENTED"))
            self.add(repo, item, at, REVIEW, login, role, state)
        else:
            self.add(repo, item, at, COMMENT, login, role)

    def resolve(self, repo: SimRepository, item: SimItem, at: int) -> None:
        login, role = self.maintainer(repo, item.author)
        if item.kind == "pull_request" and self.rng.random() < 0.85:
            self.add(repo, item, at, REVIEW, login, role, "APPROVED")
            self.add(repo, item, at, MERGED, login)
        elif item.author is not None and self.rng.random() < 0.15:
            self.add(repo, item, at, CLOSED, item.author)
        else:
            self.add(repo, item, at, CLOSED, login)

    def touch_items(self, repos: list[SimRepository], fraction: float) -> None:
        rng = self.rng
        everything = [(repo, item) for repo in repos for item in repo.items]
        wanted = fraction * len(everything)
        count = int(wanted) + (rng.random() < wanted - int(wanted))
        open_ones = [pair for pair in everything if pair[1].state == "OPEN"]
        chosen = rng.sample(open_ones, min(len(open_ones), round(count * 0.7)))
        seen = {id(item) for _, item in chosen}
        for pair in rng.sample(everything, min(len(everything), 2 * count)):
            if len(chosen) >= count:
                break
            if id(pair[1]) not in seen:
                seen.add(id(pair[1]))
                chosen.append(pair)
        chosen.sort(key=lambda pair: (pair[0].full_name.lower(), pair[1].number))
        for repo, item in chosen:
            self.touch(repo, item)
            self.changed.add((repo.full_name, item.number))

    def touch(self, repo: SimRepository, item: SimItem) -> None:
        rng = self.rng
        first, second = self.times(2)
        author_association = item.author_association
        if item.state != "OPEN":
            if item.state == "CLOSED" and rng.random() < 0.2:
                self.add(repo, item, first, REOPENED, item.author or self.maintainer(repo)[0])
            elif item.author is not None and rng.random() < 0.5:
                self.add(repo, item, first, COMMENT, item.author, author_association)
            else:
                self.respond(repo, item, first)
        elif item.is_draft:
            if item.author is not None and rng.random() < 0.5:
                self.add(repo, item, first, READY, item.author)
            else:
                self.add(repo, item, first, COMMENT, item.author, author_association)
        elif not self.responded(item):
            self.respond(repo, item, first)
            self.first_responses += 1
            if rng.random() < 0.3:
                self.resolve(repo, item, second)
        else:
            r = rng.random()
            if r < 0.3 and item.author is not None:
                self.add(repo, item, first, COMMENT, item.author, author_association)
            elif r < 0.6:
                self.respond(repo, item, first)
            else:
                self.resolve(repo, item, first)

    def add_items(self, repos: list[SimRepository], count: int) -> None:
        if not repos or count == 0:
            return
        rng = self.rng
        targets = rng.choices(range(len(repos)), [len(r.items) + 1 for r in repos], k=count)
        for index, repo in enumerate(repos):
            if index not in targets:
                continue
            roles, authors = self.cast(repo)
            merged_authors = {i.author for i in repo.items if i.merged_at is not None}
            ci_bot = self.ci_bot(repo)
            for at in self.times(targets.count(index)):
                pull_request = rng.random() < 0.6
                if rng.random() < 0.3 or not authors:
                    author = self.newcomer()
                else:
                    author = rng.choice(authors + list(roles))
                if author in roles:
                    association = roles[author]
                elif author in merged_authors:
                    association = "CONTRIBUTOR"
                else:
                    association = "FIRST_TIME_CONTRIBUTOR" if pull_request else "NONE"
                item = SimItem(
                    number=repo.next_number(),
                    kind="pull_request" if pull_request else "issue",
                    author=author,
                    author_association=association,
                    created_at=_dt(at),
                    updated_at=_dt(at),
                    is_draft=pull_request and rng.random() < 0.1,
                )
                self.dataset.add_item(repo, item)
                self.created.append(f"{repo.full_name}#{item.number}")
                greeted = at + rng.randint(2, 120)
                if pull_request and ci_bot is not None and greeted <= self.last:
                    association = _BOT_ASSOCIATION.get(ci_bot, "NONE")
                    self.add(repo, item, greeted, COMMENT, ci_bot, association)

    def ci_bot(self, repo: SimRepository) -> str | None:
        """The bot that usually comments first on this repository's pull requests."""
        counts: dict[str, int] = {}
        for item in repo.items[-100:]:
            if item.kind == "pull_request" and item.timeline:
                actor = item.timeline[0].actor
                if actor is not None and self.is_bot(actor):
                    counts[actor] = counts.get(actor, 0) + 1
        return max(sorted(counts), key=lambda login: counts[login]) if counts else None

    def add_commits(self, repos: list[SimRepository], count: int) -> None:
        if not repos or count == 0:
            return
        targets = self.rng.choices(range(len(repos)), [len(r.commits) + 1 for r in repos], k=count)
        for index, repo in enumerate(repos):
            for at in self.times(targets.count(index)):
                self.commit(repo, at)

    def commit(self, repo: SimRepository, at: int) -> SimCommit:
        roles, authors = self.cast(repo)
        login = self.rng.choice(list(roles) + authors)
        oid = hashlib.sha1(f"{repo.full_name}:{self.seed}:{at}:{self.commits}".encode()).hexdigest()
        commit = _commit(oid, at, at - self.rng.randint(0, HOUR), login, self.rng)
        self.dataset.add_commit(repo, commit)
        self.commits += 1
        return commit

    def add_releases(self, repos: list[SimRepository], count: int) -> None:
        if not repos or count == 0:
            return
        weights = [5 if r.releases else 1 for r in repos]
        targets = self.rng.choices(range(len(repos)), weights, k=count)
        for index, repo in enumerate(repos):
            for at in self.times(targets.count(index)):
                self.release(repo, at)

    def release(self, repo: SimRepository, at: int) -> None:
        prefix, version = "v", (0, 1, 0)
        stable = [m for r in repo.releases if not r.is_draft and (m := _SEMVER.match(r.tag_name))]
        if stable:
            latest = max(stable, key=lambda m: tuple(int(n) for n in m.groups()[1:]))
            prefix = latest.group(1)
            version = (int(latest.group(2)), int(latest.group(3)), int(latest.group(4)) + 1)
        taken = {r.tag_name for r in repo.releases} | {t.name for t in repo.tags}
        while (name := prefix + "{}.{}.{}".format(*version)) in taken:
            version = (version[0], version[1], version[2] + 1)
        commit = next((c for c in repo.commits if _ts(c.committed_date) <= at), None)
        if commit is None:
            commit = self.commit(repo, at)
        published = min(self.last, at + self.rng.randint(MINUTE, 10 * MINUTE))
        author = self.maintainer(repo)[0]
        release = SimRelease(name, _dt(at), _dt(published), False, False, author)
        self.dataset.add_release(repo, release)
        self.dataset.add_tag(repo, SimTag(name, commit.oid, _dt(at), True))
        self.releases.append(f"{repo.full_name}@{name}")

    def summary(self) -> EvolveSummary:
        changed = sorted(self.changed, key=lambda ref: (ref[0].lower(), ref[1]))
        return EvolveSummary(
            previous_now=self.old,
            now=self.new,
            changed_items=tuple(f"{name}#{number}" for name, number in changed),
            new_items=tuple(self.created),
            timeline_entries=self.entries,
            first_responses=self.first_responses,
            closed=self.closed,
            merged=self.merged,
            reopened=self.reopened,
            new_releases=tuple(self.releases),
            new_commits=self.commits,
            new_users=tuple(self.users),
        )
