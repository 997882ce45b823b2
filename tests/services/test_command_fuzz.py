"""Thousands of generated command texts: always a sentence, never an exception, never access."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.slack.commands import answer
from bot.domain.commands import parse_command
from bot.domain.errors import Rejected
from bot.domain.grants import GrantStatus
from tests.services.fakes import FakeClusters, FakeStore, make_deps

WORDS = st.sampled_from(
    [
        "grant",
        "request",
        "list",
        "extend",
        "revoke",
        "profiles",
        "help",
        "pods-read",
        "self-view",
        "2h",
        "30s",
        "1h30m",
        "1d",
        "0s",
        "-1h",
        "99999999999999999999h",
        "1.5h",
        "2H",
        "ns=default",
        "ns=payments",
        "ns=kube-system",
        "ns=",
        "cluster=dev",
        "cluster=prod",
        "namespace=default",
        "ns=../../etc",
        "ns=default;rm -rf /",
        "<!channel>",
        "<@U0CAROL>",
        "`rm -rf`",
        "${jndi:ldap://x}",
        "'; DROP TABLE grants; --",
        "\u202egnp.exe",
        "\x00",
        "\u200b",
        "ns=défault",
        "🔥",
        "a" * 600,
        "idaaaaab",
        "zzzzzzzz",
    ]
)
TEXTS = st.one_of(
    st.lists(WORDS, max_size=8).map(" ".join),
    st.text(max_size=300),
    st.lists(st.one_of(WORDS, st.text(max_size=20)), max_size=6).map(lambda ws: "  \t ".join(ws)),
)


@settings(max_examples=1500, deadline=None)
@given(text=TEXTS)
def test_parser_answers_every_text_with_a_value_or_a_sentence(text: str) -> None:
    try:
        parse_command(text)
    except Rejected as e:
        assert str(e) and "Traceback" not in str(e)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, user=st.sampled_from(["U0ALICE", "U0DAVE", "U0CAROL", "U0NOBODY"]))
def test_full_handler_never_raises_and_never_grants(text: str, user: str) -> None:
    store, clusters = FakeStore(), FakeClusters()
    deps = make_deps(store=store, clusters=clusters)
    reply = answer(deps, user=user, text=text)
    assert isinstance(reply, str) and reply.strip()
    assert "Traceback" not in reply and "inside eks-access" not in reply, reply
    grants = store.grants.values()
    assert all(g.status is GrantStatus.PENDING for g in grants)
    for g in grants:  # what reaches Kubernetes names comes from validated values only
        assert g.namespace in deps.policy.profiles[g.profile].namespaces
        assert g.cluster in {c.name for c in deps.policy.clusters}
    assert clusters.clusters == {}
