"""Verified tasks: Markdown files whose acceptance criteria are probes.

A tasks directory holds ``backlog/``, ``active/`` and ``completed/``; each task is a
Markdown file with YAML front matter (id, title, priority, status, blocked_by, criteria).
Completion is computed from recorded evidence, never claimed:

- ``files``  reading task files with located errors, and editing them in place
  (formatting, comments and unknown fields kept);
- ``queue``  the priority queue, blockers and dependency cycles;
- ``verify`` running every criterion's probe and recording the evidence; attestations;
  what the store says about each criterion;
- ``lifecycle`` start and complete (refused unless every criterion passed recently).
"""
