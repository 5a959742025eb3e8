"""Real-name verification (实名核验): one verified identity per ID number, log-ins linked to it."""
