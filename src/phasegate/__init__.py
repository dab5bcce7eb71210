"""phasegate: infrastructure changes through gates that demand evidence."""
