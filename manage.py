#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # manage.py is the developer's entry point (as cookiecutter-django's local settings
    # are): debug by default. The served processes (gunicorn on config.wsgi, celery -A
    # config) keep DEBUG off unless told; a deploy that runs manage.py sets DEBUG=0.
    os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
