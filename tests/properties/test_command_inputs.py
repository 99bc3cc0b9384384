"""Every command under bad input: it saves, or stops with a CommandError naming the bad argument.

Arguments are passed as `--option=value`, the way a shell hands them over (so a value starting with
`-` stays a value); secrets arrive on standard input. A shell cannot pass a NUL character, so none
is generated. Each example runs in a savepoint that is rolled back. A command that saves then
checks the credential against the sandbox, one request per accepted example.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import assume, given
from hypothesis import strategies as st

from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite
from sandbox.scenarios import SCENARIOS
from tests import factories
from tests.properties import (
    ANY_CHARACTER,
    INTERVAL_RANGE,
    MERCHANT_ID,
    OBJECT_ID,
    credential_name_is_acceptable,
    examples,
    intervals,
    names,
    rolled_back,
    secrets,
    split_ids,
    visible_ascii,
    website_ids,
)

pytestmark = pytest.mark.django_db

NO_SECRET = "No secret given"  # read_secret's refusal: the secret is not an option, so it has no option name


def shell_text(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda value: value.replace("\x00", ""))


@contextmanager
def standard_input(text: str) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def run(command: str, *args: str, stdin: str = "") -> str:
    out = io.StringIO()
    with standard_input(stdin):
        call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


ARGUMENTS = {"name", "website-id", "account", "interval", "token", "key", "organisation-id", "level"}


def named_arguments(message: str) -> set[str]:
    """The arguments a refusal names: `name: …; website-id: …`, argparse's `argument --level: …`,
    or read_secret's refusal of an empty secret ("stdin")."""
    if message.startswith(NO_SECRET):
        return {"stdin"}
    if message.startswith("Error: argument --"):
        return {message.removeprefix("Error: argument --").split(":")[0].split("/")[0]}
    first, *others = message.split("; ")
    named = {part.partition(": ")[0] for part in (first, *others) if part.partition(": ")[0] in ARGUMENTS}
    assert first.partition(": ")[0] in ARGUMENTS, f"a refusal that does not start with an argument: {message!r}"
    return named


def expect_refusal_naming(faults: set[str], command: str, *args: str, stdin: str) -> None:
    with pytest.raises(CommandError) as refused:
        run(command, *args, stdin=stdin)
    named = named_arguments(str(refused.value))
    assert named and named <= faults, (str(refused.value), faults)


def first_line(text: str) -> str:
    return io.StringIO(text).readline().strip()


def interval_fault(value: str) -> bool:
    try:
        return int(value) not in INTERVAL_RANGE
    except ValueError:
        return True


INTERVAL_ARGUMENT = st.one_of(st.none(), shell_text(intervals()).filter(bool))
STDIN = st.one_of(
    secrets("dft_").map(lambda secret: secret + "\n"),
    secrets("cbs_").map(lambda secret: secret + "\n"),
    st.just(""),
    st.text(ANY_CHARACTER, max_size=30),
)


@pytest.fixture
def acme_store() -> DataFastSite:
    return factories.site()


@pytest.fixture
def northwind() -> ChargebackStopKey:
    return factories.key()


@pytest.mark.usefixtures("sandbox", "acme_store")
@examples(60)
@given(
    name=shell_text(names(100)),
    website_id=shell_text(website_ids()),
    interval=INTERVAL_ARGUMENT,
    account=st.one_of(st.just("DataFast"), st.just("Acme Holdings"), shell_text(names(100))),
    stdin=STDIN,
)
def test_add_datafast_site_saves_or_names_the_bad_argument(name, website_id, interval, account, stdin):
    args = [f"--name={name}", f"--website-id={website_id}", f"--account={account}"]
    if interval is not None:
        args.append(f"--interval={interval}")
    # The same rules as the credentials pages: the commands validate with their forms.
    faults = set()
    if interval is not None and interval_fault(interval):
        faults.add("interval")
    if not DataFastAccount.objects.filter(name__iexact=account.strip()).exists():  # a new account needs a token
        token = first_line(stdin)
        if not token:
            faults.add("stdin")
        elif not (token.startswith("dft_") and visible_ascii(token[4:]) and len(token) <= 500):
            faults.add("token")
        if not credential_name_is_acceptable(account, DataFastAccount):
            faults.add("account")
    if not credential_name_is_acceptable(name, DataFastSite):
        faults.add("name")
    normalised = website_id.strip().lower()
    if not OBJECT_ID.fullmatch(normalised) or DataFastSite.objects.filter(website_id=normalised).exists():
        faults.add("website-id")
    with rolled_back():
        if faults:
            expect_refusal_naming(faults, "add_datafast_site", *args, stdin=stdin)
        else:
            out = run("add_datafast_site", *args, stdin=stdin)
            site = DataFastSite.objects.get(website_id=normalised)
            assert (site.name, site.account.name.lower()) == (name.strip(), account.strip().lower())
            assert out.startswith(f"Saved website {name.strip()} ({normalised})")


@pytest.mark.usefixtures("sandbox", "northwind")
@examples(60)
@given(
    name=shell_text(names(100)),
    level=st.one_of(st.sampled_from(["organisation", "partner"]), shell_text(st.text(ANY_CHARACTER, max_size=12))),
    organisation_ids=st.lists(
        shell_text(
            st.one_of(st.from_regex(r"org_[a-z0-9_\-]{1,20}", fullmatch=True), st.text(ANY_CHARACTER, max_size=110))
        ),
        max_size=3,
    ),
    interval=INTERVAL_ARGUMENT,
    stdin=STDIN,
)
def test_add_chargebackstop_key_saves_or_names_the_bad_argument(name, level, organisation_ids, interval, stdin):
    args = [f"--name={name}", f"--level={level}", *(f"--organisation-id={value}" for value in organisation_ids)]
    if interval is not None:
        args.append(f"--interval={interval}")
    faults = set()
    if level not in ("organisation", "partner"):
        faults.add("level")
    if interval is not None and interval_fault(interval):
        faults.add("interval")
    # As in the key form: each option may hold several IDs separated by commas or spaces.
    ids = list(dict.fromkeys(item for value in organisation_ids for item in split_ids(value)))
    if not all(MERCHANT_ID.fullmatch(value) for value in ids) or (level == "organisation" and len(ids) > 1):
        faults.add("organisation-id")
    api_key = first_line(stdin)
    if not api_key:
        faults.add("stdin")
    elif not (visible_ascii(api_key) and len(api_key) <= 500):
        faults.add("key")
    if not credential_name_is_acceptable(name, ChargebackStopKey):
        faults.add("name")
    with rolled_back():
        if faults:
            expect_refusal_naming(faults, "add_chargebackstop_key", *args, stdin=stdin)
        else:
            out = run("add_chargebackstop_key", *args, stdin=stdin)
            key = ChargebackStopKey.objects.get(name=name.strip())
            assert key.secret.reveal() == api_key
            assert set(key.organisations.values_list("organisation_id", flat=True)) == set(ids)
            assert out.startswith(f"Saved {level}-level key {name.strip()}")


@pytest.fixture
def sandbox_logger() -> Iterator[None]:
    """The sandbox command sets its request logger's level; put it back."""
    logger = logging.getLogger("sandbox")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


BAD_PORTS = st.one_of(st.integers(max_value=-1), st.integers(min_value=65_536))
BAD_LATENCIES = st.one_of(st.floats(max_value=-1e-9), st.sampled_from([float("nan"), float("inf"), float("-inf")])).map(
    repr
)


@examples(25)
@given(
    port=st.one_of(BAD_PORTS.map(str), st.just("0")),
    latency=st.one_of(BAD_LATENCIES, st.just("0.0")),
    scenario=st.one_of(st.just("demo"), shell_text(st.text(ANY_CHARACTER, max_size=10))),
)
def test_the_sandbox_command_refuses_what_it_cannot_serve_naming_the_argument(sandbox_logger, port, latency, scenario):
    """Only refusals are tried here (a valid combination would serve until stopped; the sandbox
    command's own tests start it for real)."""
    faults = {"port"} if port != "0" else set()
    if latency != "0.0":
        faults.add("latency")
    if scenario not in SCENARIOS:
        faults.add("scenario")
    assume(faults)
    with pytest.raises(CommandError) as refused:
        call_command("sandbox", f"--port={port}", f"--latency={latency}", f"--scenario={scenario}", verbosity=0)
    message = str(refused.value)
    assert any(f"--{argument}" in message for argument in faults), (message, faults)


def test_the_poll_command_with_nothing_to_poll_says_so(sandbox: Any) -> None:
    assert run("poll", "--sync").startswith("Polled 0 sources")
