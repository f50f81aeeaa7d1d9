"""urs: a playbook runner for health checks and automatic recovery.

The pipeline, one stage per module: cli -> load -> plan -> execute -> record -> report.
"""

__version__ = "0.1.0"
