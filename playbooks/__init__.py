"""Built-in playbooks, installed as the package `runner.builtin`."""
