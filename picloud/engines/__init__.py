"""Engines run jobs: ``local`` on this machine, ``cluster`` on Celery workers."""
