"""The WSGI application gunicorn serves (docs/operations.md: Deploying)."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Every view is imported now rather than by the first request, and then everything loaded
# so far is moved out of the garbage collector's sight: it lives as long as the process,
# and a full collection walking it holds a worker, all its threads, for longer than the
# partner API's p99 target allows.
import_module(settings.ROOT_URLCONF)
gc.freeze()
