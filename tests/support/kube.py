"""pytest plugin: a real kube-apiserver + etcd on loopback (filled in by the Kubernetes adapter work)."""
