"""What HTTP benchmarks share: the served stack (server), the load generator (load), and a
partner's key to call the API with (partner)."""
