"""ReliefLink domain: models, services and rules. Imports none of the apps."""
