# One image for every role; the command picks it: api, worker-cpu, worker-gpu, migrate.
# The GPU image adds a CUDA build of torch (see TORCH_INDEX); the API never imports it.
FROM python:3.11-slim-bookworm

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/soundscape
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY weights ./weights
COPY docker/entrypoint.sh /usr/local/bin/soundscape-entrypoint

RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" "$TORCH_SPEC" \
 && pip install --no-cache-dir -e . \
 && useradd --system --home /srv/soundscape soundscape \
 && mkdir -p /var/lib/soundscape && chown soundscape /var/lib/soundscape \
 && chmod +x /usr/local/bin/soundscape-entrypoint

USER soundscape
# Scratch space, the beat schedule and (without a database URL) the embedded default.
ENV SOUNDSCAPE_DATA_DIR=/var/lib/soundscape SOUNDSCAPE_WEIGHTS_DIR=/weights PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/var/lib/soundscape/matplotlib
EXPOSE 8000
ENTRYPOINT ["soundscape-entrypoint"]
CMD ["api"]
