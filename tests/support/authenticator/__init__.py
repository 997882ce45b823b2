"""An independent model of the EKS authenticator, served as a TokenReview webhook on loopback.

The bot predicts what the authenticator will make of aws-auth and of access entries; tests check
that prediction against this twin, never against the bot's own parser. So this package imports
nothing from `bot`. It follows REFERENCE §1-2 and aws-iam-authenticator@81b1dab as read:

- identity (`pkg/token/token.go`, `pkg/arn/arn.go::Canonicalize`): an assumed-role ARN becomes
  `arn:P:iam::ACCT:role/NAME` (never a path); users, root and federated users pass through;
- aws-auth (`pkg/mapper/configmap/configmap.go::ParseMap`, `::saveMap`, `pkg/config/mapper.go`):
  each list YAML → JSON → Go `encoding/json` into structs, with all the leniency that implies;
- mapping (`pkg/server/server.go::doMapping`, `::renderTemplate`): access entries first when the
  cluster's mode allows them, then mapRoles, mapUsers, mapAccounts; templates rendered last.

Test tokens stand in for the presigned STS URL: `eks-test.` + base64url(JSON) naming the caller.
`resolve()` is the pure part; `TokenReviewWebhook` reads aws-auth (and optionally an EKS API)
live on every review, answers the kube-apiserver and records what it answered.

One module per step, each importing only the ones before it: `tokens` (test tokens, caller
identity), `aws_auth` (the ConfigMap as the authenticator decodes it), `mapping` (the answer for
a caller), `sources` (the live EKS API and ConfigMap readers), `webhook` (the HTTP server).
Import from the package; the names below are its public surface.
"""

from tests.support.authenticator.aws_auth import (
    AwsAuth,
    RoleMapping,
    SsoMatcher,
    UserMapping,
    go_fold,
    parse_aws_auth,
)
from tests.support.authenticator.mapping import (
    API,
    API_AND_CONFIG_MAP,
    CONFIG_MAP,
    MODES,
    Resolution,
    access_entry_matches,
    render_template,
    resolve,
    resolve_access_entries,
    resolve_config_map,
)
from tests.support.authenticator.sources import EksCluster
from tests.support.authenticator.tokens import (
    PARTITIONS,
    TOKEN_PREFIX,
    Caller,
    InvalidToken,
    caller_identity,
    parse_token,
    token_for,
)
from tests.support.authenticator.webhook import Review, TokenReviewWebhook, token_review_status

__all__ = [
    "API",
    "API_AND_CONFIG_MAP",
    "CONFIG_MAP",
    "MODES",
    "PARTITIONS",
    "TOKEN_PREFIX",
    "AwsAuth",
    "Caller",
    "EksCluster",
    "InvalidToken",
    "Resolution",
    "Review",
    "RoleMapping",
    "SsoMatcher",
    "TokenReviewWebhook",
    "UserMapping",
    "access_entry_matches",
    "caller_identity",
    "go_fold",
    "parse_aws_auth",
    "parse_token",
    "render_template",
    "resolve",
    "resolve_access_entries",
    "resolve_config_map",
    "token_for",
    "token_review_status",
]
