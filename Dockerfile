# Production image: gunicorn for web, the same image runs the Celery worker pools.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The locked dependencies first, every file checked against its hash (make lock writes the lock);
# this layer is rebuilt only when the lock changes, not on every code change.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY triage ./triage
# the app itself, nothing more: `pip check` fails the build if pyproject.toml needs what the lock lacks
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && python -c "import imageio_ffmpeg; imageio_ffmpeg.get_ffmpeg_exe()"

COPY manage.py ./
COPY templates ./templates
COPY static ./static
RUN DJANGO_DEBUG=1 python manage.py collectstatic --noinput -v 0

RUN useradd --create-home --uid 1000 triage && mkdir -p /data/media && chown -R triage /data
USER triage
EXPOSE 8000
CMD ["gunicorn", "triage.wsgi", "-c", "python:triage.gunicorn_conf"]
