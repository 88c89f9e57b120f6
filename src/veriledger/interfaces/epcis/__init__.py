"""The EPCIS 2.0 REST binding."""
