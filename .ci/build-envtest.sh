#!/usr/bin/env bash
# Builds a kube-apiserver (Debian's kubernetes 1.20 source, vendored deps) and installs etcd and
# kubectl, into an envtest-style assets folder outside the repo (setup-envtest's folders hold the
# same three). Nothing prebuilt can be downloaded here but Debian's packages.
# Usage: .ci/build-envtest.sh [ASSETS_DIR]   (default: ~/.cache/eks-access/envtest)
set -euo pipefail
ASSETS="${1:-${KUBEBUILDER_ASSETS:-$HOME/.cache/eks-access/envtest}}"
mkdir -p "$ASSETS"
log() { echo "[envtest] $*"; }

export DEBIAN_FRONTEND=noninteractive
need_apt=()
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ! -x "$ASSETS/kube-apiserver" ]; then
  [ -x /usr/lib/go-1.19/bin/go ] || need_apt+=(golang-1.19-go)
  command -v rsync >/dev/null || need_apt+=(rsync)
  command -v dpkg-source >/dev/null || need_apt+=(dpkg-dev)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
ln -sf "$(command -v etcd)" "$ASSETS/etcd"

# kubectl from Debian's kubernetes-client: the same source version as the apiserver below, so
# there is no version skew. Unpacked into the assets folder rather than installed, so it never
# replaces (or conflicts with) a kubectl the machine already has.
if [ ! -x "$ASSETS/kubectl" ]; then
  log "kubectl from Debian's kubernetes-client"
  kwork=$(mktemp -d /tmp/kubectl-deb.XXXXXX)
  (cd "$kwork" && { apt-get download kubernetes-client >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download kubernetes-client >/dev/null 2>&1; }; })
  dpkg-deb -x "$kwork"/kubernetes-client_*.deb "$kwork/root"
  install -m 0755 "$kwork/root/usr/bin/kubectl" "$ASSETS/kubectl"
  rm -rf "$kwork"
  log "installed $("$ASSETS/kubectl" version --client --short 2>/dev/null || echo kubectl)"
fi

if [ -x "$ASSETS/kube-apiserver" ]; then
  log "kube-apiserver already built in $ASSETS"
  exit 0
fi

work=$(mktemp -d /tmp/kube-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# A temporary deb-src entry for bookworm, the same mirror the machine already uses.
uri=$(grep -rhoE '^URIs:\s*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
uri=${uri:-http://deb.debian.org/debian}
src=/etc/apt/sources.list.d/eks-access-deb-src.sources
printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
apt-get update -qq
log "apt-get source kubernetes"
apt-get source --download-only kubernetes >/dev/null 2>&1
apt-get download golang-github-modern-go-reflect2-dev >/dev/null 2>&1
rm -f "$src"
apt-get update -qq || true

dpkg-source -x kubernetes_*.dsc kube >/dev/null
dpkg-deb -x golang-github-modern-go-reflect2-dev_*.deb reflect2
# reflect2 1.0.1 (vendored) corrupts memory under Go >= 1.18; swap in 1.0.2.
rdst=kube/vendor/github.com/modern-go/reflect2
rsrc=reflect2/usr/share/gocode/src/github.com/modern-go/reflect2
rm -f "$rdst"/*.go "$rdst"/*.s
cp "$rsrc"/*.go "$rdst"/
cp "$rsrc"/*.s "$rdst"/ 2>/dev/null || true

log "building kube-apiserver (several minutes)"
cd kube
PATH=/usr/lib/go-1.19/bin:$PATH GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0 \
  GOCACHE="$work/gocache" make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
install -m 0755 _output/bin/kube-apiserver "$ASSETS/kube-apiserver"
log "built $ASSETS/kube-apiserver"
