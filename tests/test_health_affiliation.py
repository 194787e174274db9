"""Organization identity with literal data: company normalisation, cncf/gitdm affiliation
files, and which source wins (docs/metrics.md, "Organizations and affiliations")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from healthexporter.health.affiliation import (
    AffiliationEntry,
    Affiliations,
    AffiliationsFileError,
    display_company,
    normalize_company,
    parse_gitdm_affiliations,
)

NORMALIZED = [
    # (raw profile or file text, key)
    ("Acme", "acme"),
    ("@Acme", "acme"),
    ("Acme Inc.", "acme"),
    ("ACME, Inc", "acme"),
    ("acme inc", "acme"),
    (" Acme ", "acme"),
    ("Acme Corp.", "acme"),
    ("Acme Corporation", "acme"),
    ("Acme, LLC", "acme"),
    ("Acme L.L.C.", "acme"),
    ("Acme GmbH", "acme"),
    ("Acme AG", "acme"),
    ("Acme S.A.", "acme"),
    ("Acme B.V.", "acme"),
    ("Acme Limited", "acme"),
    ("Acme Ltd", "acme"),
    ("ACME Co., Ltd.", "acme"),
    ("@acme @kubernetes", "acme"),  # several mentions: the first
    ("Red  Hat,\tInc.", "red hat"),
    ("Red-Hat", "red hat"),
    ("Samsung Electronics Co. Ltd.", "samsung electronics"),
    ("AT&T", "at&t"),
    ("Alibaba.com", "alibaba com"),
    ("Inc", "inc"),  # a legal form alone is kept: it is all there is
    ("Co.", "co"),
    ("Independent", "independent"),
    ("self-employed", "independent"),
    ("Self", "independent"),
    ("Freelancer", "independent"),
    ("myself", "independent"),
    (None, None),
    ("", None),
    ("   ", None),
    ("-", None),
    ("n/a", None),
    ("N/A", None),
    ("none", None),
    ("NotFound", None),  # gitdm's "could not place"
    ("(Unknown)", None),
    ("@", None),
]


@pytest.mark.parametrize(("raw", "key"), NORMALIZED)
def test_normalize_company(raw: str | None, key: str | None) -> None:
    assert normalize_company(raw) == key


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("@Acme", "Acme"),
        ("ACME, Inc.", "ACME"),
        ("Samsung Electronics Co. Ltd.", "Samsung Electronics"),
        ("  Red   Hat Inc ", "Red Hat"),
        ("Alibaba.com", "Alibaba.com"),
        ("self-employed", "Independent"),
        ("n/a", None),
        (None, None),
    ],
)
def test_display_company(raw: str | None, shown: str | None) -> None:
    assert display_company(raw) == shown


GITDM = """\
# This is the main developers affiliations file.
007: 007!users.noreply.github.com, ryan!espressive.com
\tEspressive
00R2: 00r2!users.noreply.github.com
\tPerkinElmer Inc. until 2014-08-01
\tIndependent from 2014-08-01 until 2015-10-01
\tSimplebet Inc. from 2015-10-01

carol: Globex Corporation
dave: Initech until 2020-01-01
"""


def test_parse_gitdm_affiliations() -> None:
    assert parse_gitdm_affiliations(GITDM) == [
        AffiliationEntry("007", "Espressive"),
        AffiliationEntry("00r2", "PerkinElmer Inc.", until=date(2014, 8, 1)),
        AffiliationEntry("00r2", "Independent", until=date(2015, 10, 1), since=date(2014, 8, 1)),
        AffiliationEntry("00r2", "Simplebet Inc.", since=date(2015, 10, 1)),
        AffiliationEntry("carol", "Globex Corporation"),
        AffiliationEntry("dave", "Initech", until=date(2020, 1, 1)),
    ]


def test_every_bad_line_is_reported_with_its_number() -> None:
    text = """\
\tOrphan Corp
alice: alice!example.com
\tAcme until 2019-13-01
bob: bob!example.com
carol: carol!example.com
\tGlobex from 2020-01-01 until 2019-01-01
just some words
\tInitech until 2019-01-01 or so
"""
    with pytest.raises(AffiliationsFileError) as raised:
        parse_gitdm_affiliations(text)
    assert raised.value.problems == [
        "line 1: indented company line outside a login block",
        "line 3: until date '2019-13-01' is not YYYY-MM-DD",
        "line 4: 'bob' has no company lines",
        "line 6: from 2020-01-01 is not before until 2019-01-01",
        "line 7: expected 'login: e-mails' or 'login: company'",
        "line 8: indented company line outside a login block",
    ]
    assert isinstance(raised.value, ValueError)


def test_a_period_that_cannot_be_read_is_not_taken_for_a_company_name() -> None:
    with pytest.raises(AffiliationsFileError, match=r"line 2: cannot read the period"):
        parse_gitdm_affiliations("alice: alice!example.com\n\tAcme until 2019-01-01 or so\n")


AFFILIATIONS = Affiliations(
    [
        *parse_gitdm_affiliations(GITDM),
        AffiliationEntry("erin", "NotFound"),
        AffiliationEntry("frank", "Acme", until=date(2020, 1, 1)),
        AffiliationEntry("frank", "Globex"),
        AffiliationEntry("frank", "Initech"),  # a second current one: the last wins
    ],
    overrides={"Carol": "Umbrella", "dave": "-"},
    profiles={
        "007": "@google",
        "carol": "Hooli",
        "dave": "Hooli",
        "erin": "@hooli",
        "gina": "ACME, Inc.",
        "hal": "n/a",
    },
)


@pytest.mark.parametrize(
    ("login", "at", "expected"),
    [
        ("007", datetime(2026, 1, 1, tzinfo=UTC), "espressive"),  # gitdm before profile
        ("00R2", datetime(2014, 7, 31, 23, 59, tzinfo=UTC), "perkinelmer"),
        ("00r2", datetime(2014, 8, 1, tzinfo=UTC), "independent"),  # until is exclusive
        ("00r2", datetime(2015, 9, 30, tzinfo=UTC), "independent"),
        ("00r2", datetime(2015, 10, 1, tzinfo=UTC), "simplebet"),
        ("00r2", datetime(2030, 1, 1, tzinfo=UTC), "simplebet"),
        ("carol", datetime(2026, 1, 1, tzinfo=UTC), "umbrella"),  # override before everything
        ("dave", datetime(2019, 1, 1, tzinfo=UTC), None),  # an override that names nobody
        ("erin", datetime(2026, 1, 1, tzinfo=UTC), "hooli"),  # gitdm NotFound: the profile
        ("frank", datetime(2019, 12, 31, tzinfo=UTC), "acme"),
        ("frank", datetime(2020, 1, 1, tzinfo=UTC), "initech"),
        ("gina", datetime(2026, 1, 1, tzinfo=UTC), "acme"),  # profile only
        ("hal", datetime(2026, 1, 1, tzinfo=UTC), None),  # a profile that says nothing
        ("ivan", datetime(2026, 1, 1, tzinfo=UTC), None),  # nobody knows
    ],
)
def test_precedence(login: str, at: datetime, expected: str | None) -> None:
    assert AFFILIATIONS.organization(login, at) == expected


def test_after_the_last_period_gitdm_says_nothing_and_the_profile_answers() -> None:
    affiliations = Affiliations(
        [AffiliationEntry("dave", "Initech", until=date(2020, 1, 1))], profiles={"dave": "Hooli"}
    )
    assert affiliations.organization("dave", datetime(2019, 6, 1, tzinfo=UTC)) == "initech"
    assert affiliations.organization("dave", datetime(2021, 6, 1, tzinfo=UTC)) == "hooli"
