"""twelve-review: a pull-request reviewer for the Twelve-Factor App methodology."""

__version__ = "0.1.0"
