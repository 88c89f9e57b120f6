"""EPCIS 2.0 events: capture, aggregation, transformation, trace back and forward, recalls."""
