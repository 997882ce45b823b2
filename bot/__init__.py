"""eks-access: just-in-time, time-boxed access to EKS clusters, requested and approved in Slack."""

__version__ = "0.1.0"
