"""The gated workflow: stages of a plan run as gates, recorded in the evidence store."""
