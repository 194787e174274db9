"""Organizations: which company a login worked for at a given time.

Three sources, first match wins (docs/metrics.md, "Organizations and affiliations"):

1. overrides from the configuration (``login: company``) — the operator knows best;
2. cncf/gitdm-style affiliation files, with dated periods (``Company until 2019-05-01``);
3. the company typed into the GitHub profile — current only, and free text.

Free text needs one identity per organization, or "@Acme", "Acme Inc." and "ACME, Inc" would
be three elephants: ``normalize_company`` gives the key every source is compared by.
Everything here is pure: reading the files is the caller's job, this module takes their text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = [
    "INDEPENDENT",
    "AffiliationEntry",
    "Affiliations",
    "AffiliationsFileError",
    "display_company",
    "normalize_company",
    "parse_gitdm_affiliations",
]

# gitdm files every self-employed person under "Independent"; profiles say it many ways.
INDEPENDENT = "independent"
_INDEPENDENT_WORDS = frozenset(
    {
        "independent",
        "self",
        "self employed",
        "selfemployed",
        "freelance",
        "freelancer",
        "freelancing",
        "myself",
        "individual",
    }
)
# Text that says nothing about an organization. gitdm writes "NotFound" and "(Unknown)" for
# people it could not place.
_NO_COMPANY = frozenset(
    {"", "-", "--", "n a", "na", "none", "no", "null", "nil", "unknown", "notfound", "not found"}
)
# Legal-form words dropped from the end of a name, repeatedly ("Co. Ltd."), matched on tokens
# (punctuation already removed: "S.A." is the tokens "s a").
_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("inc",),
    ("incorporated",),
    ("llc",),
    ("l", "l", "c"),
    ("ltd",),
    ("limited",),
    ("gmbh",),
    ("corp",),
    ("corporation",),
    ("co",),
    ("s", "a"),
    ("sa",),
    ("b", "v"),
    ("bv",),
    ("n", "v"),
    ("nv",),
    ("ag",),
    ("plc",),
    ("pty",),
)
_DISPLAY_SUFFIX = re.compile(
    r"(?:[\s,]+(?:inc|incorporated|llc|l\.l\.c|ltd|limited|gmbh|corp|corporation|co|s\.a|sa|"
    r"b\.v|bv|n\.v|nv|ag|plc|pty)\.?)+\s*$",
    re.IGNORECASE,
)
_TOKEN_SPLIT = re.compile(r"[^\w&+]+")
_MENTION = re.compile(r"@([\w.-]+)")


def _tokens(raw: str) -> list[str]:
    text = raw.strip()
    if text.startswith("@"):
        # "@kubernetes @google": GitHub renders each as an organization link; the first is the
        # one the person put first
        mention = _MENTION.match(text)
        text = mention.group(1) if mention else ""
    tokens = [t for t in _TOKEN_SPLIT.split(text.casefold()) if t]
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SUFFIXES:
            n = len(suffix)
            if len(tokens) > n and tuple(tokens[-n:]) == suffix:
                del tokens[-n:]
                stripped = True
                break
    return tokens


def normalize_company(raw: str | None) -> str | None:
    """The key an organization is known by: lower case, no leading "@", no legal form, words
    joined by single spaces. None when the text names no organization; ``"independent"`` for
    the self-employed, as gitdm files them (it is an affiliation, not an unknown).

    >>> [normalize_company(s) for s in ("@Acme", "ACME, Inc", " Acme Corp. ", "n/a", "Self")]
    ['acme', 'acme', 'acme', None, 'independent']
    """
    if raw is None:
        return None
    tokens = _tokens(raw)
    key = " ".join(tokens)
    if key in _NO_COMPANY:
        return None
    if key in _INDEPENDENT_WORDS:
        return INDEPENDENT
    return key


def display_company(raw: str | None) -> str | None:
    """The name as people write it, for showing: case and inner punctuation kept, leading "@"
    and a trailing legal form dropped ("Samsung Electronics Co. Ltd." → "Samsung Electronics").
    None exactly when ``normalize_company`` is None."""
    key = normalize_company(raw)
    if raw is None or key is None:
        return None
    if key == INDEPENDENT:
        return "Independent"
    text = " ".join(raw.split())
    if text.startswith("@"):
        mention = _MENTION.match(text)
        text = mention.group(1) if mention else text
    shorter = _DISPLAY_SUFFIX.sub("", text).rstrip(" ,")
    return shorter or text


# --- cncf/gitdm developers_affiliations files ----------------------------------------------
@dataclass(frozen=True, slots=True)
class AffiliationEntry:
    """One period of one login: ``company`` until ``until`` (exclusive), or from ``since`` on.

    ``until`` None is the current employer. ``company`` is the text as written in the file.
    """

    login: str  # lower-cased
    company: str
    until: date | None = None
    since: date | None = None


class AffiliationsFileError(ValueError):
    """An affiliations file has lines that cannot be read. ``problems`` lists every one,
    as ``"line N: …"``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# "Company", "Company until 2019-05-01", "Company from 2019-05-01 until 2020-01-01",
# "Company from 2020-01-01"; the dates are matched loosely so bad ones are reported, not
# swallowed into the company name
_COMPANY_LINE = re.compile(
    r"^(?P<company>.*?)(?:\s+from\s+(?P<since>\S+))?(?:\s+until\s+(?P<until>\S+))?$"
)
_STRAY_PERIOD = re.compile(r"\s(?:from|until)\s+\d", re.IGNORECASE)
_LOGIN_LINE = re.compile(r"^(?P<login>[^\s:#]+)\s*:\s*(?P<rest>.*)$")
_EMAIL = re.compile(r"^\S+[!@]\S+$")


def _date(text: str | None, what: str, problems: list[str], number: int) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"line {number}: {what} date {text!r} is not YYYY-MM-DD")
        return None


def _company(login: str, text: str, number: int, problems: list[str]) -> AffiliationEntry | None:
    match = _COMPANY_LINE.match(text)
    if match is None or not match["company"].strip():
        problems.append(f"line {number}: no company in {text!r}")
        return None
    if _STRAY_PERIOD.search(match["company"]):
        problems.append(f"line {number}: cannot read the period in {text!r}")
        return None
    before = len(problems)
    since = _date(match["since"], "from", problems, number)
    until = _date(match["until"], "until", problems, number)
    if len(problems) > before:
        return None
    if since is not None and until is not None and since >= until:
        problems.append(f"line {number}: from {since} is not before until {until}")
        return None
    return AffiliationEntry(login, match["company"].strip(), until, since)


def parse_gitdm_affiliations(text: str) -> list[AffiliationEntry]:
    """Read a cncf/gitdm ``developers_affiliations*.txt`` file, or simple ``login: company``
    lines, into entries in file order.

    gitdm's form: a line ``login: email1!domain, email2!domain`` (e-mails with "!" for "@"),
    then one indented line per period, ``Company [from YYYY-MM-DD] [until YYYY-MM-DD]``. The
    simple form puts the company after the colon instead of e-mails. Blank lines and lines
    starting with "#" are skipped. Raises ``AffiliationsFileError`` listing every bad line.
    """
    entries: list[AffiliationEntry] = []
    problems: list[str] = []
    login: str | None = None  # the block the indented lines belong to
    block_line = 0
    block_companies = 0

    def close_block() -> None:
        if login is not None and block_companies == 0:
            problems.append(f"line {block_line}: {login!r} has no company lines")

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            if login is None:
                problems.append(f"line {number}: indented company line outside a login block")
                continue
            entry = _company(login, stripped, number, problems)
            block_companies += 1
            if entry is not None:
                entries.append(entry)
            continue
        close_block()
        login = None
        match = _LOGIN_LINE.match(stripped)
        if match is None:
            problems.append(f"line {number}: expected 'login: e-mails' or 'login: company'")
            continue
        name, rest = match["login"].lower(), match["rest"].strip()
        addresses = [part.strip() for part in rest.split(",")]
        if not rest or all(_EMAIL.match(part) for part in addresses):
            login, block_line, block_companies = name, number, 0
            continue
        entry = _company(name, rest, number, problems)
        if entry is not None:
            entries.append(entry)
    close_block()
    if problems:
        raise AffiliationsFileError(problems)
    return entries


# --- who worked where, when ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Timeline:
    untils: tuple[date, ...]  # ascending
    companies: tuple[str | None, ...]  # normalised, one per until
    current: str | None  # after the last until (the undated entry)


class Affiliations:
    """Organization of a login at a time, from overrides, gitdm entries and profile companies.

    ``organization`` fits ``HealthSettings.affiliation``. Precedence:

    1. ``overrides[login]``, even when it names no organization (``"-"``: an operator saying
       "do not guess" hides a wrong profile company);
    2. the gitdm entry whose period covers the day of ``at``: the first (by date) with
       ``until`` after that day, else the undated one. When a login has several undated
       entries (gitdm sometimes lists a login twice), the last one in the input wins;
    3. when gitdm says nothing about ``at`` (no entry, every period ended before it, or
       "NotFound"/"(Unknown)"), the normalised profile company — a profile only says where
       someone is now, but it is the best guess left;
    4. None.

    Logins are compared lower-cased. Every result is a ``normalize_company`` key.
    """

    def __init__(
        self,
        entries: Iterable[AffiliationEntry] = (),
        overrides: Mapping[str, str | None] | None = None,
        profiles: Mapping[str, str | None] | None = None,
    ) -> None:
        self._overrides = {
            login.lower(): normalize_company(company)
            for login, company in (overrides or {}).items()
        }
        self._profiles = {
            login.lower(): key
            for login, company in (profiles or {}).items()
            if (key := normalize_company(company)) is not None
        }
        dated: dict[str, list[tuple[date, int, str | None]]] = {}
        current: dict[str, str | None] = {}
        for order, entry in enumerate(entries):
            login = entry.login.lower()
            company = normalize_company(entry.company)
            if entry.until is None:
                current[login] = company
            else:
                dated.setdefault(login, []).append((entry.until, order, company))
        self._timelines: dict[str, _Timeline] = {}
        for login in dated.keys() | current.keys():
            periods = sorted(dated.get(login, ()))
            self._timelines[login] = _Timeline(
                untils=tuple(until for until, _, _ in periods),
                companies=tuple(company for _, _, company in periods),
                current=current.get(login),
            )

    def organization(self, login: str, at: datetime) -> str | None:
        key = login.lower()
        if key in self._overrides:
            return self._overrides[key]
        timeline = self._timelines.get(key)
        if timeline is not None:
            day = at.astimezone(UTC).date() if at.tzinfo is not None else at.date()
            index = bisect.bisect_right(timeline.untils, day)  # first until after the day
            found = timeline.companies[index] if index < len(timeline.untils) else timeline.current
            if found is not None:
                return found
        return self._profiles.get(key)
