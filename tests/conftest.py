pytest_plugins = ["tests.support.db", "tests.support.kube", "tests.support.aws"]
