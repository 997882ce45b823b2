pytest_plugins = ["tests.support.kube", "tests.support.aws"]
