"""Bring your suites: kuttl and Chainsaw suites run unchanged as phasegate gates (optional).

``model`` holds a loaded suite as plain data; ``kuttl`` and ``chainsaw`` load one from its
files (naming what is not supported, with file and line); ``runner`` runs it (``steps`` a
kuttl step, ``chainsaw_ops`` a Chainsaw step) against a cluster, every
assert a watch-based gate and every operation an observation in the evidence store;
``junit`` renders a recorded suite run one testcase per step. The core never imports this
package: the CLI imports it inside ``phasegate suite``.
"""
