"""How citygate is run: the `citygate` command, connection settings and the local stack."""
