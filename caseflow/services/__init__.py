"""The operations users perform. Each owns its transaction and raises domain errors."""
