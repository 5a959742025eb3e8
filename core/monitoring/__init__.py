"""Dynamic monitoring of the low-income population (动态监测预警): roster, rules, evaluation, dispositions."""
