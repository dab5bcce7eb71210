"""phasegate's MCP server (the optional extra ``mcp``): the questions an agent may ask of
reality, the gates it may run and the evidence it may read, through the Model Context
Protocol. Read-only unless started with ``--allow-apply``; nothing in the core imports it.
See docs/agents.md."""
