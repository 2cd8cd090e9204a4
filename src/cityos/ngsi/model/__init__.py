"""The NGSI-LD information model: reading requests into the internal form, writing it back out."""
