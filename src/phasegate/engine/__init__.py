"""Running probes: gates that wait by re-evaluation, in process with asyncio."""
