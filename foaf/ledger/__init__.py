"""Durable storage of bilateral relationships: parties and the keys the service holds for them,
relationships, their append-only logs of co-signed states, and pending proposals.

A thin Django layer over ``foaf.bilateral``: the core decides whether an entry is valid; this
app persists what the core accepted, atomically, with database constraints and triggers that make
a second state at one sequence number, a broken chain, or an edited entry impossible to write.
"""
