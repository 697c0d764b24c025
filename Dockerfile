# One image for every process of the app; the command picks the process (the Procfile's commands):
#   web      gunicorn -c gunicorn.conf.py wsgi:app        (the default CMD)
#   worker   flask --app wsgi cx worker
#   release  flask --app wsgi db upgrade                  (run once per deploy, before the new web and worker)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

# Dependencies first, so a code change does not reinstall them (psycopg[binary] brings its own libpq).
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin cx \
    && mkdir -p /app/instance && chown cx /app/instance

USER cx
EXPOSE 8000

# gunicorn turns SIGTERM into a graceful stop (in-flight requests finish, graceful_timeout 20 s);
# `cx worker` does the same for running jobs. Give both that long before SIGKILL (compose: stop_grace_period).
STOPSIGNAL SIGTERM
# The health check is the web process's (/healthz); compose.yaml declares it for the web service only.

CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
