"""The ZooKeeper clients: four-letter words (plain or TLS), the admin server's HTTP, and the endpoint over both."""
