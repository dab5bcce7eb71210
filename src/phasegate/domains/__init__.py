"""Domains: what one team owns (its repository paths, the plans that deploy it), its health
probes evaluated continuously and kept as state changes, its dependencies, its roll-up
policy, and the test reports recorded for it.

An optional part of phasegate: the core (workflow, engine, probes, kube, store, reports,
plan, tasks) never imports it. ``queries`` is the read API the dashboard and other readers
use; its names are kept stable.
"""
