"""pytest plugin: moto's server on loopback (filled in by the AWS adapter work)."""
