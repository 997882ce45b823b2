"""The kubeconfig files a policy names: there, readable, a kubeconfig, with the context to use.

`check-config` and `serve` check them before anything else, so a wrong path is a sentence at
start instead of a failed grant hours later. Only the files are read: the credentials in them
are first used when the bot connects (or `check-config --check-clusters` does).
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from bot.domain.policy import ClusterConfig, Policy
from bot.policy_problems import PolicyError


def check_kubeconfigs(policy: Policy) -> None:
    """Raise PolicyError listing every cluster whose kubeconfig the bot could not load."""
    problems = kubeconfig_problems(policy)
    if problems:
        raise PolicyError(problems)


def kubeconfig_problems(policy: Policy) -> list[str]:
    problems = []
    for i, cluster in enumerate(policy.clusters):
        problem = _problem(cluster) if cluster.kubeconfig is not None else None
        if problem is not None:
            problems.append(f"clusters[{i}].{problem}")
    return problems


def _problem(cluster: ClusterConfig) -> str | None:
    assert cluster.kubeconfig is not None
    # The kubernetes client expands `~` the same way (KubeConfigMerger); relative paths are
    # relative to the bot's working directory, as for the client.
    path = os.path.expanduser(cluster.kubeconfig)
    shown = cluster.kubeconfig if path == cluster.kubeconfig else f"{cluster.kubeconfig} ({path})"
    where = f"kubeconfig: {shown}"
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError:
        return f"{where} does not exist"
    except IsADirectoryError:
        return f"{where} is a directory, not a kubeconfig file"
    except OSError as e:
        return f"{where} cannot be read: {e.strerror}"
    except UnicodeDecodeError:
        return f"{where} is not a text file (UTF-8)"
    except yaml.YAMLError as e:
        return f"{where} is not valid YAML: {' '.join(str(e).split())}"
    if not isinstance(doc, dict) or not doc:
        return f"{where} is not a kubeconfig (a YAML mapping of clusters, contexts and users)"
    return _context_problem(cluster, shown, doc)


def _context_problem(cluster: ClusterConfig, shown: str, doc: dict[str, Any]) -> str | None:
    contexts = doc.get("contexts") or []
    names = [str(c["name"]) for c in contexts if isinstance(c, dict) and "name" in c]
    listed = ", ".join(names) or "none"
    if cluster.context is not None:
        if cluster.context not in names:
            return f"context: {cluster.context!r} is not a context of {shown} (it has: {listed})"
        return None
    current = doc.get("current-context")
    if not current:
        return (
            f"kubeconfig: {shown} sets no current-context; name one of its contexts "
            f"({listed}) with `context:`"
        )
    if str(current) not in names:
        return (
            f"kubeconfig: {shown} has current-context {current!r}, which is not one of its "
            f"contexts ({listed})"
        )
    return None
