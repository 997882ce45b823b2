pytest_plugins = [
    "tests.support.db",
    "tests.support.kube",
    "tests.support.aws",
    "tests.support.eks_emulator",
]
