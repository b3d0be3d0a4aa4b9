"""The REST API: DRF views over the services facade, included by a host's URLconf."""
