"""The ZooKeeper clients: four-letter words (plain or TLS), the admin server's HTTP, the endpoint over
both, and kazoo sessions for the membership."""
