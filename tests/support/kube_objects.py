"""Reading objects the apiserver returned. The client's models type every field Optional; an
object read back always has its metadata and name, and these say so where a test relies on it."""

from __future__ import annotations

from typing import Protocol

from kubernetes import client


class KubeObject(Protocol):
    metadata: client.V1ObjectMeta | None


def meta(obj: KubeObject) -> client.V1ObjectMeta:
    assert obj.metadata is not None, f"{type(obj).__name__} without metadata"
    return obj.metadata


def name_of(obj: KubeObject) -> str:
    name = meta(obj).name
    assert name, f"{type(obj).__name__} without a name"
    return name


def labels_of(obj: KubeObject) -> dict[str, str]:
    return meta(obj).labels or {}


def annotations_of(obj: KubeObject) -> dict[str, str]:
    return meta(obj).annotations or {}


def data_of(config_map: client.V1ConfigMap) -> dict[str, str]:
    """The ConfigMap's own data dict, so a test can edit it in place before a replace."""
    assert config_map.data is not None, "ConfigMap without data"
    return config_map.data
