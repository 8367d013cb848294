"""GAL (ETSI ES 203 237) for geyser: data model, pure state machine, EAS tables."""
