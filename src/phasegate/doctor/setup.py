"""Every row of ``phasegate doctor``, in the order a first run meets them."""

from __future__ import annotations

from phasegate.doctor import cluster, store, tools
from phasegate.doctor.report import Row
from phasegate.plan.model import Plan


async def diagnose(plan: Plan | None, *, kubeconfig: str | None, context: str | None,
                   store_url: str | None) -> list[Row]:
    rows = await cluster.rows(kubeconfig, context, plan)
    rows.append(store.row(store_url))
    if plan is not None:
        rows += await tools.registry_rows(plan)
        rows.append(tools.helm_row(plan))
    return rows
