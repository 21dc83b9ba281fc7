"""Knowledge of the devices, with no I/O: sensor catalog, the canonical Reading, codecs, topics."""
