"""WSGI entry point: gunicorn wsgi:app, flask --app wsgi …"""

from cxplugin import create_app

app = create_app()
