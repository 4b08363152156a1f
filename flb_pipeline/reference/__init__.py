"""Published calibration data shipped with the package (see the CSV's header for sources)."""

from importlib.resources import files


def calibration_reference_text() -> str:
    """The favourite-longshot calibration table the model's prior is centred on."""
    return (files(__package__) / "flb_calibration.csv").read_text()
