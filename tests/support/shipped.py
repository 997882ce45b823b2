"""The Dockerfile and deploy/kubernetes/ as shipped, read the way Docker and kubectl read them."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def one(name: str, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in load(name) if d["kind"] == kind]
    return doc


def manifest_files() -> list[str]:
    return sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for text in logical:
        instruction, _, args = text.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(args.split())))
    return stages


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for instr, args in stage if instr == name]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"{args!r} is not the exec (JSON) form"
    return [str(v) for v in value]


def healthcheck_argv() -> list[str]:
    (check,) = instruction(dockerfile_stages()[-1], "HEALTHCHECK")
    return exec_form(check.split(" CMD ", 1)[1])


def image_env() -> dict[str, str]:
    """The final stage's ENV, less PATH (the pod puts this virtualenv's bin there)."""
    pairs = [p for args in instruction(dockerfile_stages()[-1], "ENV") for p in shlex.split(args)]
    env = dict(pair.split("=", 1) for pair in pairs)
    env.pop("PATH")
    return env


def image_user_home() -> str:
    """The home folder the final stage's useradd gives the image's user."""
    (home,) = re.findall(r"--home-dir (\S+)", " ".join(instruction(dockerfile_stages()[-1], "RUN")))
    return str(home)


# -- the Deployment's pod ------------------------------------------------------------------


def bot_deployment() -> dict[str, Any]:
    return one("deployment.yaml", "Deployment")


def bot_pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = bot_deployment()["spec"]["template"]["spec"]
    return spec


def bot_container() -> dict[str, Any]:
    (container,) = bot_pod_spec()["containers"]
    return dict(container)


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
