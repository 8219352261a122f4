# One image for the web, worker and beat processes (see docker-compose.yml).
FROM python:3.11-slim

# PYTHONPATH: import the project from /app, where templates/ and static/ sit next to it, not
# from the copy `pip install .` puts in site-packages (settings find files relative to the code).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    OUTSMART_VAR_DIR=/app/var

WORKDIR /app

COPY . .
RUN pip install . \
    && rm -rf build ./*.egg-info \
    && useradd --create-home --uid 10001 outsmart \
    && mkdir -p /app/var/private /app/var/static \
    && chown -R outsmart:outsmart /app/var

USER outsmart
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "outsmart.wsgi"]
