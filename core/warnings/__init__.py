"""Warnings (预警): one concept for anti-fraud hits, monitoring triggers and department events.

A warning is about one person and one reason; at most one is open per person × reason (a new hit
updates it). It becomes a case in the township's queue (core.casework) and is closed by a disposition.
"""
