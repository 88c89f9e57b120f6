"""CBV 2.0 and GS1 Web Vocabulary code lists, for expanding bare JSON terms before hashing.

In EPCIS 2.0 JSON-LD a standard vocabulary value may be written as a bare term
(``"bizStep": "shipping"``); the JSON-LD context expands it to a web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``). The event hash needs that expansion
without a JSON-LD processor, so the term lists are kept here. A bare term that is not in
its list is not expanded (JSON-LD leaves it as a relative IRI too).

Generated from ``shared/data/epcis/vocabulary/cbv_vocabulary.json`` (the enums of the
official EPCIS 2.0 JSON Schema at gs1/EPCIS 2b888bef, checked against the JSON-LD
context term maps). Regenerate rather than edit by hand.
"""

from __future__ import annotations

BIZ_STEPS = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)
"""``bizStep``; URI ``https://ref.gs1.org/cbv/BizStep-<term>``."""

DISPOSITIONS = frozenset(
    {
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    }
)
"""``disposition`` and ``persistentDisposition``; URI ``https://ref.gs1.org/cbv/Disp-<term>``."""

BIZ_TRANSACTION_TYPES = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)
"""``bizTransaction`` ``type``; URI ``https://ref.gs1.org/cbv/BTT-<term>``."""

SOURCE_DEST_TYPES = frozenset(
    {
        "owning_party",
        "possessing_party",
        "location",
    }
)
"""``source`` / ``destination`` ``type``; URI ``https://ref.gs1.org/cbv/SDT-<term>``."""

ERROR_REASONS = frozenset(
    {
        "did_not_occur",
        "incorrect_data",
    }
)
"""``errorDeclaration`` ``reason``; URI ``https://ref.gs1.org/cbv/ER-<term>``."""

COMPONENTS = frozenset(
    {
        "x",
        "y",
        "z",
        "axial_distance",
        "azimuth",
        "height",
        "spherical_radius",
        "polar_angle",
        "elevation_angle",
        "easting",
        "northing",
        "latitude",
        "longitude",
        "altitude",
    }
)
"""``sensorReport`` ``component``; URI ``https://ref.gs1.org/cbv/Comp-<term>``."""

MEASUREMENT_TYPES = frozenset(
    {
        "AbsoluteHumidity",
        "AbsorbedDose",
        "AbsorbedDoseRate",
        "Acceleration",
        "Radioactivity",
        "Altitude",
        "AmountOfSubstance",
        "AmountOfSubstancePerUnitVolume",
        "Angle",
        "AngularAcceleration",
        "AngularMomentum",
        "AngularVelocity",
        "Area",
        "Capacitance",
        "Conductance",
        "Conductivity",
        "Count",
        "Density",
        "Dimensionless",
        "DoseEquivalent",
        "DoseEquivalentRate",
        "DynamicViscosity",
        "ElectricCharge",
        "ElectricCurrent",
        "ElectricCurrentDensity",
        "ElectricFieldStrength",
        "Energy",
        "Exposure",
        "Force",
        "Frequency",
        "Illuminance",
        "Inductance",
        "Irradiance",
        "KinematicViscosity",
        "Length",
        "LinearMomentum",
        "Luminance",
        "LuminousFlux",
        "LuminousIntensity",
        "MagneticFlux",
        "MagneticFluxDensity",
        "MagneticVectorPotential",
        "Mass",
        "MassConcentration",
        "MassFlowRate",
        "MassPerAreaTime",
        "MemoryCapacity",
        "MolalityOfSolute",
        "MolarEnergy",
        "MolarMass",
        "MolarVolume",
        "Power",
        "Pressure",
        "RadiantFlux",
        "RadiantIntensity",
        "RelativeHumidity",
        "Resistance",
        "Resistivity",
        "SolidAngle",
        "SpecificVolume",
        "Speed",
        "SurfaceDensity",
        "SurfaceTension",
        "Temperature",
        "Time",
        "Torque",
        "Voltage",
        "Volume",
        "VolumeFlowRate",
        "VolumeFraction",
        "VolumetricFlux",
        "Wavenumber",
    }
)
"""``sensorReport`` ``type``; GS1 Web Vocabulary term (``gs1:<term>``)."""

SENSOR_ALERT_TYPES = frozenset(
    {
        "ALARM_CONDITION",
        "ERROR_CONDITION",
    }
)
"""``sensorReport`` ``exception``; GS1 Web Vocabulary term (``gs1:<term>``)."""
