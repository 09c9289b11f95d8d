"""The local fleet ``make run`` starts: a Redis broker plus the Procfile's Celery workers.

``python -m picloud.fleet`` runs it in the foreground (see ``picloud.fleet.__main__``); the Redis
it uses is found or started by ``picloud.fleet.redis_server``."""
