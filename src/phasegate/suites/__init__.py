"""Bring your suites: kuttl test suites run unchanged as phasegate gates (optional part).

``model`` holds a loaded suite as plain data; ``kuttl`` loads one from its files (naming
what is not supported, with file and line); ``runner`` runs it against a cluster, every
assert a watch-based gate and every operation an observation in the evidence store;
``junit`` renders a recorded suite run one testcase per step. The core never imports this
package: the CLI imports it inside ``phasegate suite``.
"""
