# eks-access: one process, `eks-access serve`, as an unprivileged user.
#
#   docker build -t eks-access .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN=… -e SLACK_SIGNING_SECRET=… \
#     -e DATABASE_URL=postgresql://… -v "$PWD/policy.yaml:/etc/eks-access/policy.yaml:ro" eks-access
#
# Kubernetes: deploy/kubernetes/ (README, "Deployment on Kubernetes").

# The build stage installs the project and its dependencies into a virtualenv; only that
# virtualenv goes into the final image (no pip cache, no sources, no build tools).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN python -m venv /opt/eks-access \
 && /opt/eks-access/bin/pip install . \
 && /opt/eks-access/bin/python -m compileall -q /opt/eks-access

FROM python:3.11-slim
# A fixed UID/GID, the one deploy/kubernetes/deployment.yaml runs as (runAsUser/runAsGroup).
RUN groupadd --system --gid 10001 eks-access \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/eks-access --create-home \
      --shell /usr/sbin/nologin eks-access
COPY --from=build /opt/eks-access /opt/eks-access
# PYTHONDONTWRITEBYTECODE: the root filesystem may be read-only (bytecode is compiled above).
# The working directory is the user's own: the SQLite default (./eks-access.db) lands there
# when DATABASE_URL is not set, which suits a single container with a volume, never replicas.
ENV PATH=/opt/eks-access/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    EKS_ACCESS_POLICY=/etc/eks-access/policy.yaml
WORKDIR /var/lib/eks-access
USER 10001:10001
EXPOSE 3000
# No curl in the slim image: the check is Python's own urllib. It fails (exit 1) on a 503
# (database unreachable) as on no answer. Kubernetes ignores it and uses its own probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["eks-access", "serve"]
