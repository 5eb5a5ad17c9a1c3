"""Lets ``pytest examples/`` import ``chapter_numpy`` beside the tests, whatever pytest's import mode.

The ``flowproof_flow`` fixture comes from flowproof's pytest plugin, which pytest loads by itself where flowproof
is installed; from a source checkout that is not installed, it is registered here.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("flowproof") and not config.pluginmanager.has_plugin(
            "flowproof.pytest_plugin"):
        config.pluginmanager.import_plugin("flowproof.pytest_plugin")
