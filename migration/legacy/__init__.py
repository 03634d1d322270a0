"""The reading side of the legacy GrowOperative import: dump parser, live and dump sources, history rebuild.

Plain Python, no Django models: ``dump`` parses mysqldump files, ``source`` gives one interface over a
live MariaDB/MySQL and a dump file, ``values`` holds the shared normalization, and ``history`` rebuilds
each trustline's signed history from its ``trustline_transactions`` rows.
"""
