"""``cloud.util``: PiCloud's helper package; picloud keeps only ``cloud.util.configmanager``."""
