"""The rules of EKS clusters and access entries as plain Python, served by `eks_emulator`.

An independent model of AWS used to check the bot, so it imports nothing from `bot`. Rules come
from the botocore model and the EKS user guide (REFERENCE §2); where AWS documents nothing, the
choice is marked "guess". Clusters are keyed as AWS keys them, by (account, region, name): a
caller from another account or region does not see the cluster (ResourceNotFoundException).
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

_T = TypeVar("_T")
Json = dict[str, Any]

# A real self-signed CA (valid 2026-2126), so the default passes an `ssl` load of `cadata`.
DEFAULT_CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBLTCB1KADAgECAgEBMAoGCCqGSM49BAMCMBUxEzARBgNVBAMMCmt1YmVybmV0
ZXMwIBcNMjYwMTAxMDAwMDAwWhgPMjEyNjAxMDEwMDAwMDBaMBUxEzARBgNVBAMM
Cmt1YmVybmV0ZXMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQKzXcBRUSpYyPi
ftLqLM87tEjvL82M+vRj6aEj4dZXD45Q1aaCYGebQGT+Pb5i6YYTE8mNcG6CTIN1
FGhjvte7oxMwETAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIBr5
0E8nHaM1Bfy/fB4GIfW274Wt8tNzqVjv0MAuquNVAiEA6MNJOwc7txFXxDOuHTFw
IruRmXAgH76T02EUT5hd0fI=
-----END CERTIFICATE-----
"""
DEFAULT_CA_DATA = base64.b64encode(DEFAULT_CA_PEM.encode()).decode()
POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/{}"
POLICY_NAMES = (
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
)
MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")
_IAM_PRINCIPAL = re.compile(  # an IAM user or role, any path; never an STS session
    r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>user|role)/(?:[\w+=,.@-]+/)*"
    r"(?P<name>[\w+=,.@-]+)"
)
_RESERVED_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")


class EksError(Exception):
    """An EKS error code (`ResourceNotFoundException`, …) with its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def fail(code: str, message: str) -> NoReturn:
    raise EksError(code, message)


@dataclass
class Association:
    policy_arn: str
    access_scope: Json
    associated_at: float
    modified_at: float


@dataclass
class Entry:
    principal_arn: str
    username: str
    kubernetes_groups: list[str]
    type: str
    tags: dict[str, str]
    arn: str
    created_at: float
    modified_at: float
    policies: dict[str, Association] = field(default_factory=dict)


@dataclass
class Cluster:
    name: str
    region: str
    account: str
    mode: str
    endpoint: str
    ca_data: str
    version: str
    created_at: float
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    account: str  # the caller's
    region: str  # from the SigV4 credential scope
    labels: list[str]  # the path's labels, decoded, in order (cluster, principal, policy)
    query: dict[str, list[str]]
    body: Json


class EksModel:
    """EKS state and operations; arrange with `add_cluster`, read with `entries`."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._clusters: dict[tuple[str, str, str], Cluster] = {}
        self._lock = threading.RLock()

    def add_cluster(
        self,
        name: str,
        *,
        region: str,
        account: str,
        mode: str = "API_AND_CONFIG_MAP",
        endpoint: str = "https://127.0.0.1:1",
        ca_data: str = DEFAULT_CA_DATA,
        version: str = "1.31",
    ) -> None:
        assert mode in MODES, mode
        with self._lock:
            self._clusters[(account, region, name)] = Cluster(
                name, region, account, mode, endpoint, ca_data, version, self._clock()
            )

    def set_mode(
        self, name: str, mode: str, *, region: str | None = None, account: str | None = None
    ) -> None:
        """Any mode in any order (EKS only goes CONFIG_MAP → API_AND_CONFIG_MAP → API)."""
        assert mode in MODES, mode
        with self._lock:
            self._arranged(name, region, account).mode = mode

    def entries(
        self, name: str, *, region: str | None = None, account: str | None = None
    ) -> dict[str, Entry]:
        """A copy of the cluster's access entries by principal ARN."""
        with self._lock:
            return copy.deepcopy(self._arranged(name, region, account).entries)

    def reset(self) -> None:
        with self._lock:
            self._clusters.clear()

    def _arranged(self, name: str, region: str | None, account: str | None) -> Cluster:
        found = [
            c
            for (a, r, n), c in self._clusters.items()
            if n == name and region in (None, r) and account in (None, a)
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} clusters named {name!r}; pass region or account")
        return found[0]

    def run(self, operation: str, r: Request) -> Json:
        """The response body of one operation (by its botocore name), or EksError."""
        with self._lock:
            return self._operations[operation](r)

    @property
    def _operations(self) -> dict[str, Callable[[Request], Json]]:
        return {
            "DescribeCluster": self._describe_cluster,
            "CreateAccessEntry": self._create_access_entry,
            "DescribeAccessEntry": lambda r: {"accessEntry": _entry_json(*self._entry(r))},
            "UpdateAccessEntry": self._update_access_entry,
            "DeleteAccessEntry": self._delete_access_entry,
            "ListAccessEntries": self._list_access_entries,
            "AssociateAccessPolicy": self._associate_access_policy,
            "DisassociateAccessPolicy": self._disassociate_access_policy,
            "ListAssociatedAccessPolicies": self._list_associated_access_policies,
            "ListAccessPolicies": _list_access_policies,
            "ListTagsForResource": lambda r: {"tags": self._tagged(r).tags},
            "TagResource": self._tag_resource,
            "UntagResource": self._untag_resource,
        }

    def _cluster(self, r: Request, *, of_entries: bool = True) -> Cluster:
        cluster = self._clusters.get((r.account, r.region, r.labels[0]))
        if cluster is None:
            fail("ResourceNotFoundException", f"No cluster found for name: {r.labels[0]}.")
        if of_entries and cluster.mode == "CONFIG_MAP":
            fail(
                "InvalidRequestException",
                "The cluster's authentication mode must be set to one of "
                "[API, API_AND_CONFIG_MAP] to perform this operation.",
            )
        return cluster

    def _entry(self, r: Request) -> tuple[Cluster, Entry]:
        cluster, principal = self._cluster(r), r.labels[1]
        if principal not in cluster.entries:
            fail("ResourceNotFoundException", f"The access entry for {principal} is not found.")
        return cluster, cluster.entries[principal]

    def _describe_cluster(self, r: Request) -> Json:
        c = self._cluster(r, of_entries=False)
        access = {"authenticationMode": c.mode, "bootstrapClusterCreatorAdminPermissions": False}
        return {
            "cluster": {
                "name": c.name,
                "arn": f"arn:aws:eks:{c.region}:{c.account}:cluster/{c.name}",
                "createdAt": c.created_at,
                "version": c.version,
                "endpoint": c.endpoint,
                "certificateAuthority": {"data": c.ca_data},
                "status": "ACTIVE",
                "accessConfig": access,
                "tags": {},
            }
        }

    def _create_access_entry(self, r: Request) -> Json:
        cluster, principal = self._cluster(r), r.body["principalArn"]
        iam = _IAM_PRINCIPAL.fullmatch(principal)
        if iam is None:
            fail("InvalidParameterException", f"{principal} is not an IAM user or role ARN.")
        if r.body.get("type", "STANDARD") != "STANDARD":  # node entries are not modelled
            fail("InvalidParameterException", "The emulator models only STANDARD entries.")
        username = r.body.get("username")
        if username is None:  # the role's name without its path
            session = (
                f"arn:aws:sts::{iam['account']}:assumed-role/{iam['name']}/{{{{SessionName}}}}"
            )
            username = principal if iam["kind"] == "user" else session
        _check_username(username)
        if principal in cluster.entries:
            fail(
                "ResourceInUseException",
                "The specified access entry resource is already in use on this cluster.",
            )
        now = self._clock()
        arn = (
            f"arn:aws:eks:{cluster.region}:{cluster.account}:access-entry/{cluster.name}/"
            f"{iam['kind']}/{iam['account']}/{iam['name']}/{uuid.uuid4()}"
        )
        groups, tags = list(r.body.get("kubernetesGroups", [])), dict(r.body.get("tags", {}))
        entry = Entry(principal, username, groups, "STANDARD", tags, arn, now, now)
        cluster.entries[principal] = entry
        return {"accessEntry": _entry_json(cluster, entry)}

    def _update_access_entry(self, r: Request) -> Json:
        cluster, entry = self._entry(r)
        if "username" in r.body:
            _check_username(r.body["username"])
            entry.username = r.body["username"]
        if "kubernetesGroups" in r.body:
            entry.kubernetes_groups = list(r.body["kubernetesGroups"])
        entry.modified_at = self._clock()
        return {"accessEntry": _entry_json(cluster, entry)}

    def _delete_access_entry(self, r: Request) -> Json:
        cluster, entry = self._entry(r)
        del cluster.entries[entry.principal_arn]  # its policy associations go with it
        return {}

    def _list_access_entries(self, r: Request) -> Json:
        cluster = self._cluster(r)
        policy = r.query.get("associatedPolicyArn", [None])[0]
        arns = sorted(p for p, e in cluster.entries.items() if policy in (None, *e.policies))
        page, token = _page(arns, r.query)
        return {"accessEntries": page, "nextToken": token}

    def _associate_access_policy(self, r: Request) -> Json:
        cluster, entry = self._entry(r)
        policy, scope = r.body["policyArn"], r.body["accessScope"]
        if policy not in {POLICY_ARN.format(n) for n in POLICY_NAMES}:  # guess: this code
            fail("InvalidParameterException", f"{policy} is not an EKS access policy.")
        if scope.get("type") not in ("cluster", "namespace"):
            fail("InvalidParameterException", "accessScope type must be cluster or namespace.")
        if scope["type"] == "namespace" and not scope.get("namespaces"):
            fail("InvalidParameterException", "A namespace accessScope needs namespaces.")
        now, previous = self._clock(), entry.policies.get(policy)
        association = Association(policy, scope, previous.associated_at if previous else now, now)
        entry.policies[policy] = association  # associating again replaces the scope
        return {
            "clusterName": cluster.name,
            "principalArn": entry.principal_arn,
            "associatedAccessPolicy": _association_json(association),
        }

    def _disassociate_access_policy(self, r: Request) -> Json:
        _, entry = self._entry(r)
        if entry.policies.pop(r.labels[2], None) is None:  # guess: EKS documents no code
            fail("ResourceNotFoundException", f"{r.labels[2]} is not associated.")
        return {}

    def _list_associated_access_policies(self, r: Request) -> Json:
        cluster, entry = self._entry(r)
        page, token = _page(sorted(entry.policies), r.query)
        return {
            "clusterName": cluster.name,
            "principalArn": entry.principal_arn,
            "associatedAccessPolicies": [_association_json(entry.policies[p]) for p in page],
            "nextToken": token,
        }

    def _tagged(self, r: Request) -> Entry:
        """Only the caller's access entries are taggable here; other ARNs: a guessed 404."""
        for (account, _, _), cluster in self._clusters.items():
            for entry in cluster.entries.values():
                if account == r.account and entry.arn == r.labels[0]:
                    return entry
        fail("NotFoundException", f"Resource {r.labels[0]} not found.")

    def _tag_resource(self, r: Request) -> Json:
        self._tagged(r).tags.update(r.body["tags"])
        return {}

    def _untag_resource(self, r: Request) -> Json:
        tags = self._tagged(r).tags
        for key in r.query.get("tagKeys", []):
            tags.pop(key, None)
        return {}


def _list_access_policies(r: Request) -> Json:
    page, token = _page(list(POLICY_NAMES), r.query)
    return {
        "accessPolicies": [{"name": n, "arn": POLICY_ARN.format(n)} for n in page],
        "nextToken": token,
    }


def _check_username(username: str) -> None:
    if username.startswith(_RESERVED_PREFIXES):
        fail("InvalidParameterException", f"username may not start with {_RESERVED_PREFIXES}.")
    template = re.search(r"\{\{SessionName(Raw)?\}\}", username)
    if template and ":" not in username[: template.start()]:
        fail("InvalidParameterException", "{{SessionName}} must follow a ':' in the username.")


def _page(items: list[_T], query: dict[str, list[str]]) -> tuple[list[_T], str | None]:
    """Opaque offset tokens; maxResults 1..100, default 100, as in the model."""
    try:
        size = int(query.get("maxResults", ["100"])[0])
        token = query.get("nextToken", [""])[0]
        start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
    except ValueError:
        fail("InvalidParameterException", "The maxResults or nextToken parameter is invalid.")
    if not 1 <= size <= 100 or start < 0:
        fail("InvalidParameterException", "maxResults must be 1..100, nextToken one we gave.")
    end = start + size
    more = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], more


def _entry_json(cluster: Cluster, entry: Entry) -> Json:
    return {
        "clusterName": cluster.name,
        "principalArn": entry.principal_arn,
        "kubernetesGroups": entry.kubernetes_groups,
        "accessEntryArn": entry.arn,
        "createdAt": entry.created_at,
        "modifiedAt": entry.modified_at,
        "tags": entry.tags,
        "username": entry.username,
        "type": entry.type,
    }


def _association_json(a: Association) -> Json:
    return {
        "policyArn": a.policy_arn,
        "accessScope": a.access_scope,
        "associatedAt": a.associated_at,
        "modifiedAt": a.modified_at,
    }
