"""Tooling for the channels-workshop repository: run, test, diff and check the steps.

Run it as ``python -m workshop --help``. The step folders never import this
package: the tooling adapts to the steps, not the other way round.
"""
